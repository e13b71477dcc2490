//! The config file as written: TOML read with serde, every value that a later check may
//! refuse kept with its span, so that the refusal names its line.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::error::Location;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    pub resource: Spanned<String>,
    pub upstream: Spanned<String>,
    pub listen: Option<Spanned<String>>,
    pub max_body_bytes: Option<Spanned<i64>>,
    pub trust: RawTrust,
    pub policies: RawPolicies,
    pub metadata: Option<RawMetadata>,
    pub every_action: Option<RawScopes>,
    #[serde(default)]
    pub tools: BTreeMap<Spanned<String>, Spanned<RawTool>>,
    #[serde(default)]
    pub methods: BTreeMap<Spanned<String>, Spanned<RawScopes>>,
    pub timeouts: Option<RawTimeouts>,
    pub audit: Option<RawAudit>,
    pub redis: Option<Spanned<RawRedis>>,
}

/// `[trust]`: whom the proxy believes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTrust {
    pub root_keys: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    pub approver_keys: Vec<Spanned<String>>,
    pub revocation_list: Option<Spanned<String>>,
}

/// `[policies]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPolicies {
    pub dir: Spanned<String>,
    pub entities: Option<Spanned<String>>,
}

/// `[metadata]`: what the RFC 9728 document says beside the resource.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMetadata {
    #[serde(default)]
    pub authorization_servers: Vec<Spanned<String>>,
    pub scopes_supported: Option<Vec<Spanned<String>>>,
    pub resource_name: Option<String>,
    pub resource_documentation: Option<String>,
}

/// `[tools.NAME]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTool {
    #[serde(default)]
    pub scopes: Vec<Spanned<String>>,
    pub details: Option<Spanned<RawDetails>>,
    pub resource_argument: Option<Spanned<String>>,
}

/// `details = { type = "...", fields = [...] }` of a tool.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDetails {
    #[serde(rename = "type")]
    pub detail_type: Spanned<String>,
    #[serde(default)]
    pub fields: Vec<Spanned<String>>,
}

/// `[every_action]` and `[methods.NAME]`: scopes alone.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawScopes {
    #[serde(default)]
    pub scopes: Vec<Spanned<String>>,
}

/// `[timeouts]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTimeouts {
    pub connect: Option<Spanned<String>>,
    pub response_headers: Option<Spanned<String>>,
    pub request: Option<Spanned<String>>,
    pub shutdown: Option<Spanned<String>>,
}

/// `[audit]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAudit {
    pub output: Spanned<String>,
}

/// `[redis]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRedis {
    pub url: Spanned<String>,
    pub key_prefix: Option<Spanned<String>>,
    pub timeout: Option<Spanned<String>>,
    pub replica: Option<Spanned<String>>,
}

/// The text of a config file, to turn byte spans into lines and columns, and relative
/// paths into paths from the file's directory.
#[derive(Clone, Debug)]
pub(crate) struct Source {
    file: PathBuf,
    text: String,
}

impl Source {
    pub fn new(file: PathBuf, text: String) -> Self {
        Source { file, text }
    }

    pub fn file(&self) -> &Path {
        &self.file
    }

    #[cfg(test)]
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The line and column of the start of `span`.
    pub fn locate(&self, span: &Range<usize>) -> Location {
        let start = span.start.min(self.text.len());
        let before = self.text.get(..start).unwrap_or("");
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
        Location {
            file: self.file.clone(),
            line,
            column,
        }
    }

    /// Where a spanned value is.
    pub fn at<T>(&self, value: &Spanned<T>) -> Option<Location> {
        Some(self.locate(&value.span()))
    }

    /// A path written in the file: relative ones are read from the file's directory.
    pub fn path(&self, written: &str) -> PathBuf {
        let written = Path::new(written);
        if written.is_absolute() {
            return written.to_path_buf();
        }
        match self.file.parent() {
            Some(dir) => dir.join(written),
            None => written.to_path_buf(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_become_lines_and_columns() {
        let s = Source::new(PathBuf::from("p.toml"), "a = 1\nbé = \"x\"\n".into());
        assert_eq!(s.locate(&(0..1)).to_string(), "p.toml:1:1");
        let x = s.text().find('"').unwrap_or(0);
        assert_eq!(s.locate(&(x..x + 3)).to_string(), "p.toml:2:6");
        assert_eq!(s.locate(&(999..1000)).line, 3);
    }

    #[test]
    fn relative_paths_are_read_from_the_file_directory() {
        let s = Source::new(PathBuf::from("/etc/valet/proxy.toml"), String::new());
        assert_eq!(s.path("root.pub"), PathBuf::from("/etc/valet/root.pub"));
        assert_eq!(s.path("/keys/root.pub"), PathBuf::from("/keys/root.pub"));
        let s = Source::new(PathBuf::from("proxy.toml"), String::new());
        assert_eq!(s.path("root.pub"), PathBuf::from("root.pub"));
    }
}
