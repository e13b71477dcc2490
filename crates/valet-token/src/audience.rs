//! The audience of a token (RFC 8707): the resource server it opens, compared exactly.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::TokenError;

/// The resource server a token is for (RFC 8707): an absolute URI without a fragment,
/// compared exactly.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Audience(String);

impl Audience {
    /// Checks that `uri` is an absolute URI (`scheme:rest`) with no fragment, no whitespace
    /// and no control characters.
    pub fn parse(uri: impl Into<String>) -> Result<Self, TokenError> {
        let uri = uri.into();
        let invalid = |why: &str| {
            TokenError::Invalid(format!(
                "audience `{}` {why}: give the resource server's absolute URI, like `https://api.example.com`",
                uri.escape_debug()
            ))
        };
        let Some((scheme, rest)) = uri.split_once(':') else {
            return Err(invalid("is not an absolute URI"));
        };
        let mut chars = scheme.chars();
        let scheme_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        if !scheme_ok || rest.is_empty() {
            return Err(invalid("is not an absolute URI"));
        }
        if uri.contains('#') {
            return Err(invalid("has a fragment"));
        }
        if uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("contains whitespace or control characters"));
        }
        if uri.len() > 2048 {
            return Err(invalid("is longer than 2048 bytes"));
        }
        Ok(Audience(uri))
    }

    /// The URI text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Audience {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Audience {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Audience::parse(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audiences_must_be_absolute_without_fragment() {
        assert!(Audience::parse("https://api.example.com/pay").is_ok());
        assert!(Audience::parse("urn:example:pay").is_ok());
        for bad in [
            "/relative",
            "api.example.com",
            "https://a.example/#frag",
            "",
            "1http://x",
            "https://a .example",
            "https:",
        ] {
            assert!(Audience::parse(bad).is_err(), "{bad}");
        }
    }
}
