//! Formatting policy text the way `cedar format` does.

use std::path::Path;
use std::str::FromStr;

use cedar_policy::PolicySet;

use crate::error::{Diagnostic, FormatError, Severity};

/// Line width of formatted policies.
pub const FORMAT_LINE_WIDTH: usize = 80;
/// Indentation of formatted policies.
pub const FORMAT_INDENT: isize = 2;

/// Formats Cedar policy text (80 columns, 2-space indent), keeping comments.
///
/// Text that does not parse gives [`FormatError::Syntax`] with diagnostics in a file
/// named `<input>`.
pub fn format_policies(text: &str) -> Result<String, FormatError> {
    if let Err(errs) = PolicySet::from_str(text) {
        let file = Path::new("<input>");
        return Err(FormatError::Syntax(
            errs.iter()
                .map(|e| {
                    let offset = miette::Diagnostic::labels(e)
                        .and_then(|mut l| l.next())
                        .map_or(0, |l| l.offset());
                    Diagnostic::at_offset(file, text, offset, Severity::Error, e.to_string())
                })
                .collect(),
        ));
    }
    let config = cedar_policy_formatter::Config {
        line_width: FORMAT_LINE_WIDTH,
        indent_width: FORMAT_INDENT,
    };
    cedar_policy_formatter::policies_str_to_pretty(text, &config)
        .map_err(|e| FormatError::Formatter(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_keeps_comments() {
        let text =
            "// keep me\npermit(principal,action,resource) when {context.scopes.contains(\"a\")};";
        let out = format_policies(text).unwrap();
        assert!(out.starts_with("// keep me\n"), "{out}");
        assert!(
            out.contains("permit (principal, action, resource)"),
            "{out}"
        );
        assert_eq!(format_policies(&out).unwrap(), out);
    }

    #[test]
    fn syntax_error_has_position() {
        let err =
            format_policies("permit(principal, action, resource)\nwhen { 1 + };").unwrap_err();
        let FormatError::Syntax(d) = err else {
            panic!("expected a syntax error")
        };
        assert_eq!(d[0].line, 2, "{d:?}");
    }
}
