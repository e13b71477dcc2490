//! OAuth scopes (RFC 6749 section 3.3), the powers a token grants at its audiences.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::TokenError;

/// An OAuth scope token (RFC 6749 section 3.3): printable ASCII without spaces, `"` or `\`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Scope(String);

impl Scope {
    /// Checks the scope token's characters.
    pub fn parse(scope: impl Into<String>) -> Result<Self, TokenError> {
        let scope = scope.into();
        let ok = !scope.is_empty()
            && scope.len() <= 256
            && scope
                .bytes()
                .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b));
        if ok {
            Ok(Scope(scope))
        } else {
            Err(TokenError::Invalid(format!(
                "scope `{}` is not a valid scope token: use printable ASCII without spaces, quotes or backslashes",
                scope.escape_debug()
            )))
        }
    }

    /// The scope text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Scope::parse(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_scope_tokens() {
        assert!(Scope::parse("payments:write").is_ok());
        for bad in ["", "a b", "a\"b", "a\\b", "é"] {
            assert!(Scope::parse(bad).is_err(), "{bad}");
        }
    }
}
