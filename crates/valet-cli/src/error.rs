//! Errors the command line reports, with the exit code each one ends with.

use std::fmt;

use serde::Serialize;

use crate::text::escape;

/// Exit codes, as documented in `valet --help` and the README.
pub mod exit {
    /// Allowed, or the command succeeded.
    pub const OK: u8 = 0;
    /// An error: bad input, a bad key, a missing file.
    pub const ERROR: u8 = 1;
    /// The request is denied.
    pub const DENY: u8 = 2;
    /// The policies (or their tests) do not validate.
    pub const VALIDATION: u8 = 3;
    /// The request needs a human's approval.
    pub const NEEDS_APPROVAL: u8 = 4;
}

/// A failure: what was wrong and what to do, with its exit code.
#[derive(Debug, Serialize)]
pub struct CliError {
    /// The message, lowercase, saying what to do.
    pub message: String,
    /// Diagnostics (`file:line:column: error: message`), one per line, when there are some.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub diagnostics: Vec<String>,
    /// The exit code.
    pub exit_code: u8,
}

impl CliError {
    /// An error that exits with 1.
    pub fn new(message: impl Into<String>) -> Self {
        CliError {
            message: message.into(),
            diagnostics: Vec::new(),
            exit_code: exit::ERROR,
        }
    }

    /// A validation failure that exits with 3.
    pub fn validation(message: impl Into<String>, diagnostics: Vec<String>) -> Self {
        CliError {
            message: message.into(),
            diagnostics,
            exit_code: exit::VALIDATION,
        }
    }
}

impl fmt::Display for CliError {
    /// The human form: each diagnostic on its line, then `error: message`, with control
    /// characters escaped (a message may quote a token, a request or a policy).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.diagnostics {
            writeln!(f, "{}", escape(d))?;
        }
        write!(f, "error: {}", escape(&self.message))
    }
}

/// The result of a command: an exit code, or an error.
pub type CliResult = Result<u8, CliError>;
