//! Errors of the policy layer and the diagnostics a policy author reads.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// How serious a [`Diagnostic`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The policies cannot be loaded.
    Error,
    /// The policies load, but something is likely wrong.
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

/// One problem found in a policy or schema file, at a position a policy author can go to.
///
/// Displayed as `file:line:column: error: message`. Lines and columns count from 1; the
/// column counts characters, not bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// The file the problem is in.
    pub file: PathBuf,
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub column: usize,
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong and, where it can be said, what to do.
    pub message: String,
}

impl Diagnostic {
    /// A diagnostic at a byte offset of `text`, the contents of `file`.
    pub(crate) fn at_offset(
        file: &Path,
        text: &str,
        offset: usize,
        severity: Severity,
        message: impl Into<String>,
    ) -> Self {
        let (line, column) = line_column(text, offset);
        Diagnostic {
            file: file.to_path_buf(),
            line,
            column,
            severity,
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.severity,
            self.message
        )
    }
}

/// Line and column (both from 1, column in characters) of a byte offset in `text`.
/// An offset past the end is clamped to the end; one inside a character is moved back to
/// the character's start.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end = end.saturating_sub(1);
    }
    let before = text.get(..end).unwrap_or_default();
    let line = before.matches('\n').count().saturating_add(1);
    let line_start = before.rfind('\n').map_or(0, |i| i.saturating_add(1));
    let column = before
        .get(line_start..)
        .unwrap_or_default()
        .chars()
        .count()
        .saturating_add(1);
    (line, column)
}

/// Byte offset of the first label of a miette diagnostic.
fn label_offset(d: &dyn miette::Diagnostic) -> Option<usize> {
    d.labels()
        .and_then(|mut labels| labels.next())
        .map(|l| l.offset())
}

/// A Cedar error's message with the errors it wraps, then its help when there is one.
pub(crate) fn full_message(d: &dyn miette::Diagnostic) -> String {
    let mut message = d.to_string();
    let mut source = d.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = s.source();
    }
    if let Some(help) = d.help() {
        message.push_str(": ");
        message.push_str(&help.to_string());
    }
    message
}

/// A diagnostic's message: the error, then its help when there is one.
fn message_of(d: &dyn miette::Diagnostic) -> String {
    let mut message = d.to_string();
    if let Some(help) = d.help() {
        message.push_str(": ");
        message.push_str(&help.to_string());
    }
    message
}

/// A Cedar (miette) diagnostic as a [`Diagnostic`] at its first label in `text`.
pub(crate) fn diagnostic_of(
    file: &Path,
    text: &str,
    d: &dyn miette::Diagnostic,
    severity: Severity,
) -> Diagnostic {
    Diagnostic::at_offset(
        file,
        text,
        label_offset(d).unwrap_or(0),
        severity,
        message_of(d),
    )
}

/// A configured limit that a policy directory exceeds.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LimitExceeded {
    /// More `.cedar` files than [`PolicyLimits::max_files`](crate::PolicyLimits::max_files).
    #[error("`{}` holds {count} policy files, more than the limit of {max}: merge files or raise `max_files`", dir.display())]
    TooManyFiles {
        /// The policy directory.
        dir: PathBuf,
        /// How many `.cedar` files it holds.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A file larger than
    /// [`PolicyLimits::max_file_bytes`](crate::PolicyLimits::max_file_bytes).
    #[error("`{}` is larger than the limit of {max} bytes: split it or raise `max_file_bytes`", path.display())]
    FileTooLarge {
        /// The file.
        path: PathBuf,
        /// The limit.
        max: u64,
    },
}

/// Why a policy directory could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// A file or the directory could not be read.
    #[error("cannot read `{}`: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Parse or validation errors, each at its file, line and column.
    #[error("{}", DisplayDiagnostics(.0))]
    Diagnostics(Vec<Diagnostic>),
    /// The directory has no `schema.cedarschema`.
    #[error("no `schema.cedarschema` in `{}`: policies are validated against a schema, add one", dir.display())]
    NoSchema {
        /// The policy directory.
        dir: PathBuf,
    },
    /// The directory is over a configured limit.
    #[error(transparent)]
    Limits(#[from] LimitExceeded),
}

impl PolicyError {
    /// The diagnostics, when the error is made of them.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            PolicyError::Diagnostics(d) => d,
            _ => &[],
        }
    }
}

struct DisplayDiagnostics<'a>(&'a [Diagnostic]);

impl fmt::Display for DisplayDiagnostics<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

/// Why policy text could not be formatted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// The text does not parse; diagnostics name the file `<input>`.
    #[error("{}", DisplayDiagnostics(.0))]
    Syntax(Vec<Diagnostic>),
    /// The formatter refused the text.
    #[error("cannot format the policies: {0}")]
    Formatter(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_column_counts_from_one() {
        let text = "ab\ncdé\nf";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 1), (1, 2));
        assert_eq!(line_column(text, 3), (2, 1));
        // `é` is two bytes; the `\n` after it is column 3 in characters.
        assert_eq!(line_column(text, 7), (2, 4));
        assert_eq!(line_column(text, 6), (2, 3));
        assert_eq!(line_column(text, 100), (3, 2));
    }

    #[test]
    fn diagnostics_display_one_per_line() {
        let d = |line| Diagnostic {
            file: PathBuf::from("p.cedar"),
            line,
            column: 2,
            severity: Severity::Error,
            message: "bad".into(),
        };
        let e = PolicyError::Diagnostics(vec![d(1), d(3)]);
        assert_eq!(
            e.to_string(),
            "p.cedar:1:2: error: bad\np.cedar:3:2: error: bad"
        );
    }
}
