//! Errors: a config file that cannot be used (each problem named by its file, line and
//! column), and a proxy that cannot serve.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

/// A place in a config file: the file, and the line and column (both from 1) of the key
/// or value a problem concerns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// The config file.
    pub file: PathBuf,
    /// The line, from 1.
    pub line: usize,
    /// The column, from 1, in characters.
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// How serious a [`Problem`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// The proxy cannot start with this config.
    Error,
    /// The proxy starts, but probably does not do what was meant.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// One problem of a config file, at the key or value it concerns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Where it is, when the file says where.
    pub at: Option<Location>,
    /// An error or a warning.
    pub severity: Severity,
    /// What is wrong and what to do, lowercase, with user input in backticks.
    pub message: String,
    /// Diagnostics of a file the config names, one per line (the policies' own
    /// `file:line:column: error: message` lines).
    pub details: Vec<String>,
}

impl Problem {
    pub(crate) fn error(at: Option<Location>, message: impl Into<String>) -> Self {
        Problem {
            at,
            severity: Severity::Error,
            message: message.into(),
            details: Vec::new(),
        }
    }

    pub(crate) fn warning(at: Option<Location>, message: impl Into<String>) -> Self {
        Problem {
            severity: Severity::Warning,
            ..Problem::error(at, message)
        }
    }

    #[must_use]
    pub(crate) fn details(mut self, details: Vec<String>) -> Self {
        self.details = details;
        self
    }
}

impl fmt::Display for Problem {
    /// `file:line:column: error: message`, then each detail on its own line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(at) = &self.at {
            write!(f, "{at}: ")?;
        }
        write!(f, "{}: {}", self.severity, self.message)?;
        for d in &self.details {
            write!(f, "\n{d}")?;
        }
        Ok(())
    }
}

/// Why a config file cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The config file itself cannot be read.
    #[error("cannot read the config file `{}`: {}: check the path", path.display(), io_reason(source))]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is read, but it is not a config the proxy can run with: every problem
    /// found, each at its line (the warnings found beside them included).
    #[error("{}", DisplayProblems(problems))]
    Invalid {
        /// The config file.
        file: PathBuf,
        /// The problems, errors first.
        problems: Vec<Problem>,
    },
}

impl ConfigError {
    /// The problems, when the file was read.
    pub fn problems(&self) -> &[Problem] {
        match self {
            ConfigError::Invalid { problems, .. } => problems,
            ConfigError::Read { .. } => &[],
        }
    }

    /// `Invalid` with these problems, errors before warnings.
    pub(crate) fn invalid(file: PathBuf, mut problems: Vec<Problem>) -> Self {
        problems.sort_by_key(|p| p.severity == Severity::Warning);
        ConfigError::Invalid { file, problems }
    }
}

struct DisplayProblems<'a>(&'a [Problem]);

impl fmt::Display for DisplayProblems<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

/// Why the proxy stopped serving, or could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The listen address cannot be bound.
    #[error(
        "cannot listen on {addr}: {}: choose another `listen` address, or stop what holds this one",
        io_reason(source)
    )]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The async runtime, or the signal handlers, could not be set up.
    #[error("cannot start the proxy's runtime: {}", io_reason(.0))]
    Runtime(std::io::Error),
}

/// A lowercase reason for an I/O error, without the OS error number.
pub(crate) fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        std::io::ErrorKind::AddrInUse => "the address is already in use".into(),
        std::io::ErrorKind::AddrNotAvailable => "the address is not one of this machine's".into(),
        _ => {
            let text = e.to_string();
            let text = text.split(" (os error").next().unwrap_or(&text).to_owned();
            text.to_lowercase()
        }
    }
}
