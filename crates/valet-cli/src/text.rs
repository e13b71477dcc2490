//! Text for a terminal. What a token, a request or a policy says is printed with its control
//! characters escaped, so it cannot move the cursor, clear the screen or begin a line of its
//! own (a delegate name could otherwise print a fake `signature:  valid` line). JSON output
//! needs none of this: serde escapes control characters.

use std::borrow::Cow;
use std::fmt::{self, Write as _};

/// Whether `c` is escaped: control characters (C0, DEL, C1), the Unicode line and paragraph
/// separators, and the invisible formatting characters that reorder or hide text (bidi
/// embeddings, overrides and isolates, zero-width characters, the byte-order mark).
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{2069}'
                | '\u{feff}'
        )
}

/// `text` with each unsafe character written as a Rust escape (`\n`, `\t`, `\u{1b}`); other
/// characters, backslashes included, are kept as they are.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_unsafe(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Text output built line by line, each line escaped as it is added: the one way the text
/// printers write, so no field can be printed raw by mistake.
#[derive(Debug, Default)]
pub struct Lines(String);

impl Lines {
    /// An empty output.
    pub fn new() -> Self {
        Lines::default()
    }

    /// Adds one line (without its end): `lines.line(format_args!("subject: {s}"))`.
    pub fn line(&mut self, text: impl fmt::Display) {
        let text = text.to_string();
        self.0.push_str(&escape(&text));
        self.0.push('\n');
    }

    /// The text, each line ending with `\n`.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// Escapes each line of `text` (already split into lines by its printer) and joins them again.
pub fn escape_lines(text: &str) -> String {
    let mut out = Lines::new();
    for line in text.lines() {
        out.line(line);
    }
    out.into_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_bidi_characters_are_escaped() {
        assert_eq!(escape("invoice-agent"), "invoice-agent");
        assert!(matches!(escape("a\\b"), Cow::Borrowed("a\\b")));
        assert_eq!(
            escape("x\u{1b}[2J\nSIGNATURE OK"),
            "x\\u{1b}[2J\\nSIGNATURE OK"
        );
        assert_eq!(escape("a\tb\r\u{7f}\u{9b}"), "a\\tb\\r\\u{7f}\\u{9b}");
        assert_eq!(escape("ab\u{202e}cd\u{2066}"), "ab\\u{202e}cd\\u{2066}");
        assert_eq!(escape("\u{2028}\u{feff}"), "\\u{2028}\\u{feff}");
        assert_eq!(escape("€ élan 日本"), "€ élan 日本");
    }

    #[test]
    fn lines_escape_what_they_hold_and_end_each_line() {
        let mut l = Lines::new();
        l.line(format_args!("agent: {}", "a\nb"));
        l.line("done");
        assert_eq!(l.into_string(), "agent: a\\nb\ndone\n");
        assert_eq!(escape_lines("one\u{1b}\ntwo\n"), "one\\u{1b}\ntwo\n");
    }
}
