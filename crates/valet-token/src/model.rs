//! The vocabulary of a valet key: audiences, scopes, RFC 9396 authorization details with
//! limits, what each block says, and the claims read from a token.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::agent_keys::VerifyingKey;
use crate::details::{Decimal, FieldValue};
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
///
/// In JSON (the `limits` member of a detail, a block's `limits`): `{"max": "50.00"}`,
/// `{"min": "10.00"}`, `{"min": "-100.00", "max": "50.00"}` or `{"one_of": ["USD"]}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Limit {
    /// The field, read as an exact decimal, must be at least `min` and at most `max`.
    ///
    /// An unset `min` is zero: a limit on amounts refuses negative ones unless it grants a
    /// `min` below zero. An unset `max` leaves the field unbounded above; in an attenuation
    /// block, the parent's `max` still applies.
    Range {
        /// The lowest value allowed (zero when unset).
        min: Option<Decimal>,
        /// The highest value allowed (none when unset).
        max: Option<Decimal>,
    },
    /// The field must be one of these strings.
    OneOf(BTreeSet<String>),
}

impl Limit {
    /// At most `max`, and not negative.
    pub fn at_most(max: Decimal) -> Self {
        Limit::Range {
            min: None,
            max: Some(max),
        }
    }

    /// At least `min`, with no upper bound of its own.
    pub fn at_least(min: Decimal) -> Self {
        Limit::Range {
            min: Some(min),
            max: None,
        }
    }

    /// From `min` to `max`, both included.
    pub fn between(min: Decimal, max: Decimal) -> Self {
        Limit::Range {
            min: Some(min),
            max: Some(max),
        }
    }

    /// The lowest decimal a range allows: its `min`, else zero.
    pub fn lowest(&self) -> Option<Decimal> {
        match self {
            Limit::Range { min, .. } => Some(min.unwrap_or(Decimal::ZERO)),
            Limit::OneOf(_) => None,
        }
    }

    /// Whether `value` meets the limit: a decimal (text or integer) within the range, or one
    /// of the strings.
    pub fn admits(&self, value: &FieldValue) -> bool {
        match self {
            Limit::Range { max, .. } => value.as_decimal().is_some_and(|v| {
                self.lowest().is_some_and(|low| v >= low) && max.is_none_or(|m| v <= m)
            }),
            Limit::OneOf(set) => value.as_str().is_some_and(|s| set.contains(s)),
        }
    }

    /// The lower bound `value` breaks: `Some(lowest)` when it is a decimal under this
    /// range's lowest value (for messages).
    pub fn under_min(&self, value: Option<&FieldValue>) -> Option<Decimal> {
        let low = self.lowest()?;
        value
            .and_then(FieldValue::as_decimal)
            .filter(|v| *v < low)
            .map(|_| low)
    }

    /// Whether `self` is at least as strict as `other` (never allows what `other` refuses).
    pub fn within(&self, other: &Limit) -> bool {
        match (self, other) {
            (Limit::Range { max: a, .. }, Limit::Range { max: b, .. }) => {
                self.lowest() >= other.lowest()
                    && match (a, b) {
                        (_, None) => true,
                        (Some(a), Some(b)) => a <= b,
                        (None, Some(_)) => false,
                    }
            }
            (Limit::OneOf(a), Limit::OneOf(b)) => a.is_subset(b),
            _ => false,
        }
    }

    /// Whether a block adding `self` under a parent limited by `parent` narrows it: every
    /// bound `self` sets is within the parent's. A `max` left unset is the parent's; a `min`
    /// left unset is zero or the parent's, whichever is higher (the block refuses negative
    /// values, the parent still refuses what it refused). So a block can never lower the
    /// parent's `min` or raise its `max`.
    pub fn narrows(&self, parent: &Limit) -> bool {
        match (self, parent) {
            (
                Limit::Range { min, max },
                Limit::Range {
                    max: parent_max, ..
                },
            ) => {
                let floor = parent.lowest().map(|p| p.max(Decimal::ZERO));
                Limit::Range {
                    min: min.or(floor),
                    max: max.or(*parent_max),
                }
                .within(parent)
            }
            _ => self.within(parent),
        }
    }

    /// The stricter of two limits of the same kind (`None` when kinds differ).
    pub fn meet(&self, other: &Limit) -> Option<Limit> {
        match (self, other) {
            (Limit::Range { max: a, .. }, Limit::Range { max: b, .. }) => {
                let low = self.lowest().max(other.lowest()).unwrap_or(Decimal::ZERO);
                let max = match (a, b) {
                    (Some(a), Some(b)) => Some(*a.min(b)),
                    (a, b) => a.or(*b),
                };
                // Zero is the default lower bound of a range with a `max`: leave it unset.
                let min = (low != Decimal::ZERO || max.is_none()).then_some(low);
                Some(Limit::Range { min, max })
            }
            (Limit::OneOf(a), Limit::OneOf(b)) => {
                Some(Limit::OneOf(a.intersection(b).cloned().collect()))
            }
            _ => None,
        }
    }

    /// Refuses a range whose `min` is above its `max` (it would refuse every value).
    pub(crate) fn validate(&self, what: &str) -> Result<(), TokenError> {
        if let Limit::Range { max: Some(max), .. } = self {
            if let Some(low) = self.lowest().filter(|low| low > max) {
                return Err(TokenError::Invalid(format!(
                    "the limit on `{what}` has a minimum of {low} above its maximum of {max}: \
                     it would refuse every value; give a `min` at most the `max` (a `max` \
                     alone refuses values under 0.00)"
                )));
            }
        }
        Ok(())
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Limit::Range {
                min: None,
                max: Some(max),
            } => write!(f, "at most {max}"),
            Limit::Range { min, max: None } => {
                write!(f, "at least {}", min.unwrap_or(Decimal::ZERO))
            }
            Limit::Range {
                min: Some(min),
                max: Some(max),
            } => write!(f, "at least {min} and at most {max}"),
            Limit::OneOf(set) => {
                f.write_str("one of ")?;
                let items: Vec<_> = set.iter().map(|s| format!("`{s}`")).collect();
                f.write_str(&items.join(", "))
            }
        }
    }
}

/// The JSON shape of a [`Limit`]: `min` and `max`, or `one_of`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitJson {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    min: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    one_of: Option<BTreeSet<String>>,
}

impl Serialize for Limit {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let json = match self {
            Limit::Range { min, max } => LimitJson {
                min: *min,
                max: *max,
                one_of: None,
            },
            Limit::OneOf(set) => LimitJson {
                min: None,
                max: None,
                one_of: Some(set.clone()),
            },
        };
        json.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Limit {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let json = LimitJson::deserialize(d)?;
        match json {
            LimitJson {
                min: None,
                max: None,
                one_of: Some(set),
            } => Ok(Limit::OneOf(set)),
            LimitJson {
                min,
                max,
                one_of: None,
            } if min.is_some() || max.is_some() => Ok(Limit::Range { min, max }),
            _ => Err(serde::de::Error::custom(
                "a limit is `{\"max\": \"50.00\"}`, `{\"min\": \"10.00\"}`, both, or `{\"one_of\": [...]}`",
            )),
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

    /// Sets the maximum of a decimal field. Without a [`min`](Self::min) below zero, the
    /// field must also be at least zero.
    #[must_use]
    pub fn max(mut self, field: impl Into<String>, max: Decimal) -> Self {
        match self.limits.entry(field.into()) {
            Entry::Occupied(mut e) => match e.get_mut() {
                Limit::Range { max: m, .. } => *m = Some(max),
                other => *other = Limit::at_most(max),
            },
            Entry::Vacant(e) => {
                e.insert(Limit::at_most(max));
            }
        }
        self
    }

    /// Sets the minimum of a decimal field; below zero, it grants negative values (refunds,
    /// corrections) that a `max` alone refuses.
    #[must_use]
    pub fn min(mut self, field: impl Into<String>, min: Decimal) -> Self {
        match self.limits.entry(field.into()) {
            Entry::Occupied(mut e) => match e.get_mut() {
                Limit::Range { min: m, .. } => *m = Some(min),
                other => *other = Limit::at_least(min),
            },
            Entry::Vacant(e) => {
                e.insert(Limit::at_least(min));
            }
        }
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
        for (field, limit) in &self.limits {
            limit.validate(&format!("{}.{field}", self.kind))?;
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
    /// The holder key the block binds the token to, written `ed25519/<64 lowercase hex
    /// digits>` exactly (any other text is refused when the token is read).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::agent_keys::canonical_key"
    )]
    pub holder: Option<VerifyingKey>,
    /// The key that signed the block as a third-party block, read from the token's
    /// envelope (never from the context); trusted only once the signatures verify.
    #[serde(skip)]
    pub signer: Option<VerifyingKey>,
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
    pub holder: Option<VerifyingKey>,
    /// The key that signed this block (a Biscuit third-party block), `ed25519/<hex>`: who
    /// delegated, as a signature rather than a claim.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signed_by: Option<VerifyingKey>,
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
    /// Parses the hex form (upper or lower case, surrounding whitespace ignored); `None`
    /// for empty text, an odd number of digits or anything but hex digits.
    pub fn from_hex(text: &str) -> Option<Self> {
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        ::hex::decode(text).ok().map(RevocationId)
    }
}

impl fmt::Display for RevocationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Hex in chunks written straight to the formatter: no allocation.
        let mut buf = [0u8; 64];
        for chunk in self.0.chunks(32) {
            let out = buf.get_mut(..chunk.len() * 2).ok_or(fmt::Error)?;
            ::hex::encode_to_slice(chunk, out).map_err(|_| fmt::Error)?;
            f.write_str(std::str::from_utf8(out).map_err(|_| fmt::Error)?)?;
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
    /// Scopes the issuer granted, before any narrowing.
    pub granted_scopes: BTreeSet<Scope>,
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
    pub holder: Option<VerifyingKey>,
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

    /// The scopes the token granted as of block `block` (0 is the authority block): the
    /// issuer's grant narrowed by that block and every one before it.
    pub fn scopes_as_of(&self, block: usize) -> BTreeSet<Scope> {
        let mut scopes = self.granted_scopes.clone();
        for link in self.chain.iter().take_while(|l| l.block <= block) {
            if let Some(narrowed) = &link.scopes {
                scopes = scopes.intersection(narrowed).cloned().collect();
            }
        }
        scopes
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
            granted_scopes: root.scope.clone().unwrap_or_default(),
            issued_at: root.iat,
            not_before: root.nbf,
            expires_at: root.exp.ok_or_else(|| missing("expiry"))?,
            authorization_details: root.details.clone(),
            chain: Vec::with_capacity(rest.len()),
            revocation_ids,
            remaining_depth: root.max_depth,
            holder: root.holder,
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
                holder: spec.holder,
                signed_by: spec.signer,
                verified: false,
            });
            if spec.holder.is_some() {
                claims.holder = spec.holder;
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

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn limits_meet_and_within() {
        let m50 = Limit::at_most(d("50.00"));
        let m100 = Limit::at_most(d("100.00"));
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
    fn a_max_alone_has_a_floor_of_zero() {
        let m50 = Limit::at_most(d("50.00"));
        assert_eq!(m50.lowest(), Some(Decimal::ZERO));
        assert!(m50.admits(&FieldValue::Str("0.00".into())));
        assert!(m50.admits(&FieldValue::Long(50)));
        assert!(!m50.admits(&FieldValue::Str("-0.0001".into())));
        assert!(!m50.admits(&FieldValue::Long(-1)));
        assert!(!m50.admits(&FieldValue::Str("50.01".into())));
        assert!(!m50.admits(&FieldValue::Bool(true)));
        let refunds = Limit::between(d("-100.00"), d("50.00"));
        assert!(refunds.admits(&FieldValue::Str("-100.00".into())));
        assert!(!refunds.admits(&FieldValue::Str("-100.01".into())));
        // A negative minimum is wider than a max alone; a positive one narrower.
        assert!(!refunds.within(&m50));
        assert!(m50.within(&refunds));
        assert!(Limit::between(d("10.00"), d("50.00")).within(&m50));
        assert_eq!(
            m50.under_min(Some(&FieldValue::Str("-1.00".into()))),
            Some(Decimal::ZERO)
        );
        assert_eq!(m50.under_min(Some(&FieldValue::Str("60.00".into()))), None);
    }

    #[test]
    fn a_block_narrows_only_the_bounds_it_sets() {
        let parent = Limit::between(d("-100.00"), d("100.00"));
        // A min alone keeps the parent's max; a max alone adds the zero floor.
        assert!(Limit::at_least(d("10.00")).narrows(&parent));
        assert!(Limit::at_least(d("-50.00")).narrows(&parent));
        assert!(Limit::at_most(d("30.00")).narrows(&parent));
        assert!(!Limit::at_least(d("-100.01")).narrows(&parent));
        assert!(!Limit::at_most(d("100.01")).narrows(&parent));
        // Under a max alone (floor zero), a negative min widens.
        let m50 = Limit::at_most(d("50.00"));
        assert!(!Limit::at_least(d("-1.00")).narrows(&m50));
        assert!(Limit::at_least(d("0.00")).narrows(&m50));
        // Under a positive min, a max alone does not lower it.
        assert!(Limit::at_most(d("30.00")).narrows(&Limit::between(d("10.00"), d("50.00"))));
        assert!(!Limit::at_least(d("5.00")).narrows(&Limit::between(d("10.00"), d("50.00"))));
        assert!(!Limit::at_most(d("30.00")).narrows(&Limit::OneOf(BTreeSet::new())));
    }

    #[test]
    fn ranges_meet() {
        let parent = Limit::between(d("-100.00"), d("100.00"));
        assert_eq!(
            parent.meet(&Limit::at_most(d("30.00"))),
            Some(Limit::at_most(d("30.00")))
        );
        assert_eq!(
            parent.meet(&Limit::at_least(d("-50.00"))),
            Some(Limit::between(d("-50.00"), d("100.00")))
        );
        assert_eq!(
            Limit::at_least(d("10.00")).meet(&Limit::at_least(d("20.00"))),
            Some(Limit::at_least(d("20.00")))
        );
        assert_eq!(
            Limit::at_most(d("50.00")).meet(&Limit::at_least(d("-5.00"))),
            Some(Limit::at_most(d("50.00")))
        );
    }

    #[test]
    fn limits_read_and_write_min_and_max() {
        for (json, limit) in [
            (r#"{"max":"50.00"}"#, Limit::at_most(d("50.00"))),
            (r#"{"min":"10.00"}"#, Limit::at_least(d("10.00"))),
            (
                r#"{"min":"-5.00","max":"50.00"}"#,
                Limit::between(d("-5.00"), d("50.00")),
            ),
            (
                r#"{"one_of":["USD"]}"#,
                Limit::OneOf(["USD".to_owned()].into()),
            ),
        ] {
            assert_eq!(serde_json::from_str::<Limit>(json).unwrap(), limit);
            assert_eq!(serde_json::to_string(&limit).unwrap(), json);
        }
        for bad in [
            "{}",
            r#"{"max":"1","one_of":["a"]}"#,
            r#"{"max":1}"#,
            r#"{"less":"1"}"#,
        ] {
            assert!(serde_json::from_str::<Limit>(bad).is_err(), "{bad}");
        }
        let detail = AuthorizationDetail::new("payment")
            .max("amount", d("60.00"))
            .min("amount", d("70.00"));
        assert!(detail.validate().is_err());
        let detail = AuthorizationDetail::new("payment")
            .min("amount", d("-5.00"))
            .max("amount", d("60.00"));
        assert_eq!(
            detail.limits.get("amount"),
            Some(&Limit::between(d("-5.00"), d("60.00")))
        );
    }

    #[test]
    fn detail_json_refuses_unknown_members() {
        let ok = AuthorizationDetail::list_from_json(
            r#"[{"type":"payment","actions":["pay_invoice"],"limits":{"amount":{"max":"1000.00"},"currency":{"one_of":["USD"]}}}]"#,
        )
        .unwrap();
        assert_eq!(
            ok[0].limits.get("amount"),
            Some(&Limit::at_most("1000.00".parse().unwrap()))
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
