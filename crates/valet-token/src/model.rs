//! The vocabulary of a valet key: audiences, scopes, RFC 9396 authorization details with
//! limits, what each block says, and the claims read from a token.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::details::Decimal;
use crate::error::TokenError;
use crate::keys::KeyId;

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

/// A limit on one transaction field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Limit {
    /// The field, read as an exact decimal, must be at most this value.
    Max(Decimal),
    /// The field must be one of these strings.
    OneOf(BTreeSet<String>),
}

impl Limit {
    /// Whether `self` is at least as strict as `other` (never allows what `other` refuses).
    pub fn within(&self, other: &Limit) -> bool {
        match (self, other) {
            (Limit::Max(a), Limit::Max(b)) => a <= b,
            (Limit::OneOf(a), Limit::OneOf(b)) => a.is_subset(b),
            _ => false,
        }
    }

    /// The stricter of two limits of the same kind (`None` when kinds differ).
    pub fn meet(&self, other: &Limit) -> Option<Limit> {
        match (self, other) {
            (Limit::Max(a), Limit::Max(b)) => Some(Limit::Max(*a.min(b))),
            (Limit::OneOf(a), Limit::OneOf(b)) => {
                Some(Limit::OneOf(a.intersection(b).cloned().collect()))
            }
            _ => None,
        }
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Limit::Max(d) => write!(f, "at most {d}"),
            Limit::OneOf(set) => {
                f.write_str("one of ")?;
                let items: Vec<_> = set.iter().map(|s| format!("`{s}`")).collect();
                f.write_str(&items.join(", "))
            }
        }
    }
}

/// One RFC 9396 authorization details object granted by a token, plus Valet's `limits`
/// member: `{"type":"payment","actions":["pay_invoice"],"limits":{"amount":{"max":"1000.00"},
/// "currency":{"one_of":["USD"]}}}`. Unknown members are refused.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorizationDetail {
    /// The RFC 9396 `type`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Operations allowed with this detail (matched against the request's action).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub actions: BTreeSet<String>,
    /// Resource server URIs where it may be used (matched against the request's audience).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub locations: BTreeSet<String>,
    /// Kinds of data (informational; passed to policies).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub datatypes: BTreeSet<String>,
    /// A specific resource; when set, the transaction's `identifier` must equal it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
    /// Privileges (informational; passed to policies).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub privileges: BTreeSet<String>,
    /// Limits on transaction fields, by field name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub limits: BTreeMap<String, Limit>,
}

impl AuthorizationDetail {
    /// A detail of this type with nothing else set.
    pub fn new(kind: impl Into<String>) -> Self {
        AuthorizationDetail {
            kind: kind.into(),
            ..Default::default()
        }
    }

    /// Adds allowed actions.
    #[must_use]
    pub fn actions<I: IntoIterator<Item = S>, S: Into<String>>(mut self, actions: I) -> Self {
        self.actions.extend(actions.into_iter().map(Into::into));
        self
    }

    /// Adds allowed locations.
    #[must_use]
    pub fn locations<I: IntoIterator<Item = S>, S: Into<String>>(mut self, locations: I) -> Self {
        self.locations.extend(locations.into_iter().map(Into::into));
        self
    }

    /// Sets the identifier.
    #[must_use]
    pub fn identifier(mut self, identifier: impl Into<String>) -> Self {
        self.identifier = Some(identifier.into());
        self
    }

    /// Adds a maximum for a decimal field.
    #[must_use]
    pub fn max(mut self, field: impl Into<String>, max: Decimal) -> Self {
        self.limits.insert(field.into(), Limit::Max(max));
        self
    }

    /// Adds an allowed set for a string field.
    #[must_use]
    pub fn one_of<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        field: impl Into<String>,
        values: I,
    ) -> Self {
        self.limits.insert(
            field.into(),
            Limit::OneOf(values.into_iter().map(Into::into).collect()),
        );
        self
    }

    /// Reads an RFC 9396 JSON array of details.
    pub fn list_from_json(text: &str) -> Result<Vec<AuthorizationDetail>, TokenError> {
        serde_json::from_str(text).map_err(|e| {
            TokenError::Invalid(format!(
                "authorization details are not a valid RFC 9396 JSON array: {e}"
            ))
        })
    }

    pub(crate) fn validate(&self) -> Result<(), TokenError> {
        if self.kind.is_empty() {
            return Err(TokenError::Invalid(
                "an authorization detail needs a non-empty `type`".into(),
            ));
        }
        for reserved in ["type", "actions", "locations", "identifier"] {
            if self.limits.contains_key(reserved) {
                return Err(TokenError::Invalid(format!(
                    "`{reserved}` cannot carry a limit: use the detail's own `{reserved}` member"
                )));
            }
        }
        Ok(())
    }
}

/// A limit that one attenuation block puts on a field of one detail type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldLimit {
    /// The detail type it applies to.
    #[serde(rename = "type")]
    pub kind: String,
    /// The field.
    pub field: String,
    /// The limit.
    pub limit: Limit,
}

/// Actions that one attenuation block allows for one detail type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionLimit {
    /// The detail type it applies to.
    #[serde(rename = "type")]
    pub kind: String,
    /// The allowed actions.
    pub actions: BTreeSet<String>,
}

/// What one block of a token says: the authority block carries the grant, each later block
/// its narrowing. This is the block's `context` string, as JSON (see the crate docs).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BlockSpec {
    /// Format version, always 1.
    pub valet: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegate: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<BTreeSet<Audience>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<BTreeSet<Scope>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<AuthorizationDetail>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub limits: Vec<FieldLimit>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<ActionLimit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_depth: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<String>,
    /// The holder key the block binds the token to (`ed25519/<hex>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder: Option<String>,
    /// The key that signed the block as a third-party block, read from the token's
    /// envelope (never from the context); trusted only once the signatures verify.
    #[serde(skip)]
    pub signer: Option<String>,
}

/// What one attenuation block narrows, as recorded in the chain of custody.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Link {
    /// The block's index (1 for the first attenuation).
    pub block: usize,
    /// The sub-agent the block was cut for, as its author named it (self-asserted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delegate: Option<String>,
    /// Audiences narrowed to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audiences: Option<BTreeSet<Audience>>,
    /// Scopes narrowed to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scopes: Option<BTreeSet<Scope>>,
    /// Earlier expiry, Unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
    /// Field limits added.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub limits: Vec<FieldLimit>,
    /// Action sets added.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<ActionLimit>,
    /// Cap on further delegation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_depth: Option<u32>,
    /// Raw Datalog checks added by hand.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<String>,
    /// The holder key this block binds the token to (`ed25519/<hex>`): from here on, a
    /// request needs a proof of possession signed by that key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub holder: Option<String>,
    /// The key that signed this block (a Biscuit third-party block), `ed25519/<hex>`: who
    /// delegated, as a signature rather than a claim.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signed_by: Option<String>,
    /// `true` when `signed_by` was checked as part of a verified signature chain; `false`
    /// for a self-asserted link (an unsigned block, or a token whose signatures were not
    /// checked).
    pub verified: bool,
}

/// A block's revocation id (its signature). Revoking it refuses the token and every token
/// attenuated from it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RevocationId(pub Vec<u8>);

impl RevocationId {
    /// Parses the hex form.
    pub fn from_hex(text: &str) -> Option<Self> {
        let text = text.trim();
        if !text.len().is_multiple_of(2) || text.is_empty() {
            return None;
        }
        let bytes: Option<Vec<u8>> = (0..text.len())
            .step_by(2)
            .map(|i| {
                text.get(i..i + 2)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
            })
            .collect();
        bytes.map(RevocationId)
    }
}

impl fmt::Display for RevocationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        // Hex in chunks written straight to the formatter: no allocation.
        let mut buf = [0u8; 64];
        for chunk in self.0.chunks(32) {
            let mut n = 0;
            for b in chunk {
                for nibble in [b >> 4, b & 0xf] {
                    if let (Some(slot), Some(d)) = (buf.get_mut(n), DIGITS.get(usize::from(nibble)))
                    {
                        *slot = *d;
                        n += 1;
                    }
                }
            }
            f.write_str(std::str::from_utf8(buf.get(..n).unwrap_or_default()).unwrap_or_default())?;
        }
        Ok(())
    }
}

impl Serialize for RevocationId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Everything a token says, with each narrowing applied: what audit and the policy layer use.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Claims {
    /// The person the agent acts for.
    pub subject: String,
    /// The agent the token was minted for (e.g. a client-id URL).
    pub client: String,
    /// The token id, if the issuer set one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_id: Option<String>,
    /// The signing key's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id: Option<KeyId>,
    /// Audiences after every narrowing.
    pub audiences: BTreeSet<Audience>,
    /// Scopes after every narrowing.
    pub scopes: BTreeSet<Scope>,
    /// Issue time, Unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_at: Option<u64>,
    /// Not valid before, Unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_before: Option<u64>,
    /// The earliest expiry of all blocks, Unix seconds.
    pub expires_at: u64,
    /// The root grant's authorization details.
    pub authorization_details: Vec<AuthorizationDetail>,
    /// Each attenuation block, in order.
    pub chain: Vec<Link>,
    /// Every block's revocation id, authority first.
    pub revocation_ids: Vec<RevocationId>,
    /// How many more attenuation blocks may be added, if capped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remaining_depth: Option<u32>,
    /// The holder key of the last block that binds one (`ed25519/<hex>`): the key whose
    /// proof of possession the token needs. `None` for a bearer token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub holder: Option<String>,
}

impl Claims {
    /// The acting agent: the last named delegate, else the client.
    pub fn agent(&self) -> &str {
        self.chain
            .iter()
            .rev()
            .find_map(|l| l.delegate.as_deref())
            .unwrap_or(&self.client)
    }

    /// The named delegates, in order.
    pub fn delegates(&self) -> Vec<String> {
        self.chain
            .iter()
            .filter_map(|l| l.delegate.clone())
            .collect()
    }

    /// The expiry as a time.
    pub fn expiry(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.expires_at)
    }

    /// The effective limit on a field of a detail type: the root grant's (for the first
    /// grant of that type) met with every block's.
    pub fn effective_limit(&self, kind: &str, field: &str) -> Option<Limit> {
        let mut current: Option<Limit> = self
            .authorization_details
            .iter()
            .find(|d| d.kind == kind)
            .and_then(|d| d.limits.get(field).cloned());
        for link in &self.chain {
            for l in link
                .limits
                .iter()
                .filter(|l| l.kind == kind && l.field == field)
            {
                current = Some(match &current {
                    Some(c) => c.meet(&l.limit).unwrap_or_else(|| l.limit.clone()),
                    None => l.limit.clone(),
                });
            }
        }
        current
    }

    pub(crate) fn from_specs(
        specs: &[BlockSpec],
        key_id: Option<KeyId>,
        revocation_ids: Vec<RevocationId>,
    ) -> Result<Claims, TokenError> {
        let Some((root, rest)) = specs.split_first() else {
            return Err(TokenError::Format("the token has no blocks".into()));
        };
        let missing = |what: &str| {
            TokenError::Format(format!(
                "the authority block has no {what}: it was not minted by valet"
            ))
        };
        let mut claims = Claims {
            subject: root.sub.clone().ok_or_else(|| missing("subject"))?,
            client: root.client.clone().ok_or_else(|| missing("client"))?,
            token_id: root.jti.clone(),
            key_id,
            audiences: root.aud.clone().ok_or_else(|| missing("audience"))?,
            scopes: root.scope.clone().unwrap_or_default(),
            issued_at: root.iat,
            not_before: root.nbf,
            expires_at: root.exp.ok_or_else(|| missing("expiry"))?,
            authorization_details: root.details.clone(),
            chain: Vec::with_capacity(rest.len()),
            revocation_ids,
            remaining_depth: root.max_depth,
            holder: root.holder.clone(),
        };
        for (i, spec) in rest.iter().enumerate() {
            if spec.sub.is_some() || spec.client.is_some() || !spec.details.is_empty() {
                return Err(TokenError::Format(format!(
                    "block {} tries to set the subject, client or grant, which only the issuer can",
                    i + 1
                )));
            }
            if let Some(aud) = &spec.aud {
                claims.audiences = claims.audiences.intersection(aud).cloned().collect();
            }
            if let Some(scope) = &spec.scope {
                claims.scopes = claims.scopes.intersection(scope).cloned().collect();
            }
            if let Some(exp) = spec.exp {
                claims.expires_at = claims.expires_at.min(exp);
            }
            claims.remaining_depth = claims.remaining_depth.map(|d| d.saturating_sub(1));
            if let Some(d) = spec.max_depth {
                claims.remaining_depth = Some(claims.remaining_depth.map_or(d, |r| r.min(d)));
            }
            claims.chain.push(Link {
                block: i + 1,
                delegate: spec.delegate.clone(),
                audiences: spec.aud.clone(),
                scopes: spec.scope.clone(),
                expires_at: spec.exp,
                limits: spec.limits.clone(),
                actions: spec.actions.clone(),
                max_depth: spec.max_depth,
                checks: spec.checks.clone(),
                holder: spec.holder.clone(),
                signed_by: spec.signer.clone(),
                verified: false,
            });
            if spec.holder.is_some() {
                claims.holder.clone_from(&spec.holder);
            }
        }
        Ok(claims)
    }
}

/// Seconds since the Unix epoch, saturating for times before it.
pub(crate) fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// RFC 3339 text of a Unix time, for messages.
pub fn rfc3339(secs: u64) -> String {
    let t = i64::try_from(secs)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok());
    t.and_then(|t| {
        t.format(&time::format_description::well_known::Rfc3339)
            .ok()
    })
    .unwrap_or_else(|| format!("{secs} seconds after 1970"))
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

    #[test]
    fn scopes_are_scope_tokens() {
        assert!(Scope::parse("payments:write").is_ok());
        for bad in ["", "a b", "a\"b", "a\\b", "é"] {
            assert!(Scope::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn limits_meet_and_within() {
        let m50 = Limit::Max("50.00".parse().unwrap());
        let m100 = Limit::Max("100.00".parse().unwrap());
        assert!(m50.within(&m100));
        assert!(!m100.within(&m50));
        assert_eq!(m100.meet(&m50), Some(m50.clone()));
        let ab = Limit::OneOf(["a".to_string(), "b".to_string()].into());
        let a = Limit::OneOf(["a".to_string()].into());
        assert!(a.within(&ab));
        assert!(!ab.within(&a));
        assert!(!a.within(&m50));
    }

    #[test]
    fn detail_json_refuses_unknown_members() {
        let ok = AuthorizationDetail::list_from_json(
            r#"[{"type":"payment","actions":["pay_invoice"],"limits":{"amount":{"max":"1000.00"},"currency":{"one_of":["USD"]}}}]"#,
        )
        .unwrap();
        assert_eq!(
            ok[0].limits.get("amount"),
            Some(&Limit::Max("1000.00".parse().unwrap()))
        );
        assert!(AuthorizationDetail::list_from_json(r#"[{"type":"p","bogus":1}]"#).is_err());
        assert!(AuthorizationDetail::list_from_json(
            r#"[{"type":"p","limits":{"amount":{"max":1000.5}}}]"#
        )
        .is_err());
    }

    #[test]
    fn revocation_id_hex_round_trip() {
        let id = RevocationId(vec![0, 1, 0xab, 0xff]);
        assert_eq!(id.to_string(), "0001abff");
        assert_eq!(RevocationId::from_hex("0001abff"), Some(id));
        assert_eq!(RevocationId::from_hex("abc"), None);
        assert_eq!(RevocationId::from_hex("zz"), None);
    }

    #[test]
    fn revocation_ids_print_as_lowercase_hex_at_any_length() {
        assert_eq!(
            RevocationId(vec![0x00, 0x01, 0xab, 0xff]).to_string(),
            "0001abff"
        );
        assert_eq!(RevocationId(Vec::new()).to_string(), "");
        // Longer than one formatting chunk (32 bytes), as a 64-byte signature is.
        let long: Vec<u8> = (0u8..70).collect();
        let text = RevocationId(long.clone()).to_string();
        let expected: String = long.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(text, expected);
        assert_eq!(RevocationId::from_hex(&text), Some(RevocationId(long)));
    }
}
