//! Tokens: minting a root token, reading one, and attenuating it offline.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use biscuit_auth::UnverifiedBiscuit;
use prost::Message;

use crate::agent_keys::{SigningKey, VerifyingKey};
use crate::audience::Audience;
use crate::authorization::{ActionLimit, AuthorizationDetail, FieldLimit};
use crate::block::BlockSpec;
use crate::claims::Claims;
use crate::clock::{rfc3339, unix_secs};
use crate::datalog::block_builder;
use crate::encoding::{decode_base64url, encode_base64url};
use crate::error::TokenError;
use crate::keys::RootKeyPair;
use crate::limit::Limit;
use crate::revocation::RevocationId;
use crate::scope::Scope;
use crate::{details::Decimal, keys::KeyId};

/// The SHA-256 digest of `bytes`.
pub(crate) fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes).into()
}

/// The default maximum lifetime an [`Issuer`] grants: one hour.
pub const DEFAULT_MAX_LIFETIME: Duration = Duration::from_secs(3600);

/// A token as presented: parsed, but its signatures not yet checked. Reading its claims and
/// attenuating it need no key; only a [`Verifier`](crate::Verifier) turns it into a
/// [`VerifiedToken`](crate::VerifiedToken).
#[derive(Clone)]
pub struct Token {
    bytes: Vec<u8>,
    pub(crate) specs: Vec<BlockSpec>,
    pub(crate) key_id: Option<KeyId>,
    pub(crate) revocation_ids: Vec<RevocationId>,
    /// The claims as the blocks state them (unverified), computed once when read.
    claims: std::sync::Arc<Claims>,
    /// The SHA-256 digest of the bytes, computed when first needed (cache keys).
    digest: std::sync::OnceLock<[u8; 32]>,
    /// Every block as decoded when read (its context taken out), for the verifier.
    pub(crate) blocks: std::sync::Arc<Vec<DecodedBlock>>,
}

/// One block of a token as decoded from its bytes (signatures not checked).
pub(crate) struct DecodedBlock {
    /// The block's Datalog, symbols and public keys, without its context.
    pub block: biscuit_auth::format::schema::Block,
    /// Whether the block carries a third party's signature.
    pub third_party: bool,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the token itself: whoever holds it can use it.
        f.debug_struct("Token")
            .field("key_id", &self.key_id)
            .field("blocks", &self.specs.len())
            .finish_non_exhaustive()
    }
}

impl Token {
    /// Reads a token from its binary form.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, TokenError> {
        let raw = biscuit_auth::format::schema::Biscuit::decode(bytes)
            .map_err(|e| TokenError::Format(format!("the bytes are not a Biscuit token ({e})")))?;
        let key_id = raw.root_key_id.map(KeyId);
        let mut specs = Vec::with_capacity(raw.blocks.len() + 1);
        let mut revocation_ids = Vec::with_capacity(raw.blocks.len() + 1);
        let mut blocks = Vec::with_capacity(raw.blocks.len() + 1);
        for (i, signed) in std::iter::once(&raw.authority)
            .chain(raw.blocks.iter())
            .enumerate()
        {
            let mut block = biscuit_auth::format::schema::Block::decode(signed.block.as_slice())
                .map_err(|e| TokenError::Format(format!("block {i} does not decode ({e})")))?;
            let context = block.context.take().ok_or_else(|| {
                TokenError::Format(format!(
                    "block {i} has no valet context: the token was not made by valet"
                ))
            })?;
            let mut spec: BlockSpec = serde_json::from_str(&context).map_err(|e| {
                TokenError::Format(format!("block {i} has an unreadable valet context ({e})"))
            })?;
            if spec.valet != 1 {
                return Err(TokenError::Format(format!(
                    "block {i} uses valet format version {}, this library reads version 1",
                    spec.valet
                )));
            }
            spec.signer = external_signer(i, signed.external_signature.as_ref())?;
            specs.push(spec);
            revocation_ids.push(RevocationId(signed.signature.clone()));
            blocks.push(DecodedBlock {
                block,
                third_party: signed.external_signature.is_some(),
            });
        }
        // The claims must make sense before anyone acts on the token.
        let claims = Claims::from_specs(&specs, key_id, revocation_ids.clone())?;
        Ok(Token {
            bytes: bytes.to_vec(),
            specs,
            key_id,
            revocation_ids,
            claims: std::sync::Arc::new(claims),
            digest: std::sync::OnceLock::new(),
            blocks: std::sync::Arc::new(blocks),
        })
    }

    /// The SHA-256 digest of the token bytes.
    pub(crate) fn digest(&self) -> &[u8; 32] {
        self.digest.get_or_init(|| sha256(&self.bytes))
    }

    /// Reads a token whose bytes' digest is already known.
    pub(crate) fn from_bytes_with_digest(
        bytes: &[u8],
        digest: [u8; 32],
    ) -> Result<Self, TokenError> {
        let token = Self::from_bytes(bytes)?;
        let _ = token.digest.set(digest);
        Ok(token)
    }

    /// Reads a token from base64url text (padding and surrounding whitespace accepted).
    pub fn from_base64(text: &str) -> Result<Self, TokenError> {
        Self::from_bytes(&decode_base64url(text.trim())?)
    }

    /// The binary form.
    pub fn to_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The base64url text form (Biscuit's usual text form).
    pub fn to_base64(&self) -> String {
        encode_base64url(&self.bytes)
    }

    /// The id of the key that signed the root block, if named.
    pub fn key_id(&self) -> Option<KeyId> {
        self.key_id
    }

    /// Number of blocks, the authority block included.
    pub fn block_count(&self) -> usize {
        self.specs.len()
    }

    /// Every block's revocation id, authority first.
    pub fn revocation_ids(&self) -> &[RevocationId] {
        &self.revocation_ids
    }

    /// The claims as the token states them. Unverified: use them to display or to decide
    /// how to attenuate, never to authorize.
    pub fn unverified_claims(&self) -> Result<Claims, TokenError> {
        Ok(Claims::clone(&self.claims))
    }

    /// The unverified claims, shared rather than copied (the same as
    /// [`unverified_claims`](Self::unverified_claims)).
    pub fn shared_claims(&self) -> std::sync::Arc<Claims> {
        std::sync::Arc::clone(&self.claims)
    }

    /// The unverified claims, borrowed.
    pub(crate) fn claims_ref(&self) -> &Claims {
        &self.claims
    }

    /// The scopes the token grants after every block's narrowing, as
    /// [`unverified_claims`](Self::unverified_claims) states them, without computing the
    /// other claims. Unverified.
    pub fn unverified_scopes(&self) -> &BTreeSet<Scope> {
        &self.claims.scopes
    }

    /// Appends a block that narrows this token, without any key. Refuses a widening.
    pub fn attenuate(&self, attenuation: Attenuation) -> Result<Token, TokenError> {
        let claims = self.claims_ref();
        let spec = attenuation.into_spec(claims)?;
        let builder = block_builder(&spec, self.specs.len())?;
        let unverified =
            UnverifiedBiscuit::from(&self.bytes).map_err(|e| TokenError::Format(e.to_string()))?;
        let appended = unverified
            .append(builder)
            .map_err(|e| TokenError::Format(e.to_string()))?;
        let bytes = appended
            .to_vec()
            .map_err(|e| TokenError::Format(e.to_string()))?;
        Token::from_bytes(&bytes)
    }

    pub(crate) fn raw_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl Token {
    /// Appends a narrowing signed by `key`, the current holder's key (a Biscuit
    /// third-party block): the chain of custody then shows, verified, that this key
    /// delegated. With [`Attenuation::holder`](crate::Attenuation::holder) it hands a bound
    /// token to a sub-agent's key. Refuses a widening, and a signature by a key other than
    /// the current holder's when the token is bound.
    pub fn attenuate_signed(
        &self,
        attenuation: crate::Attenuation,
        key: &SigningKey,
    ) -> Result<Token, TokenError> {
        let claims = self.unverified_claims()?;
        let signer = key.public();
        if let Some(holder) = &claims.holder {
            if *holder != signer {
                return Err(TokenError::Invalid(format!(
                    "the token is bound to {holder}: sign the delegation with that key, not {signer}"
                )));
            }
        }
        let spec = attenuation.into_spec(&claims)?;
        let builder = crate::datalog::block_builder(&spec, self.specs.len())?;
        let format = |e: biscuit_auth::error::Token| TokenError::Format(e.to_string());
        let unverified = biscuit_auth::UnverifiedBiscuit::from(self.to_bytes()).map_err(format)?;
        let private = key.private()?;
        let block = unverified
            .third_party_request()
            .and_then(|r| r.create_block(&private, builder))
            .and_then(|b| b.serialize())
            .map_err(format)?;
        let bytes = unverified
            .append_third_party(&block)
            .and_then(|t| t.to_vec())
            .map_err(format)?;
        Token::from_bytes(&bytes)
    }
}

/// The key that signed block `index` as a third-party block (unverified: read from the
/// token's envelope). Holders and delegators sign with Ed25519 keys, so a block signed by
/// any other key, or with a key that does not decode, is refused.
fn external_signer(
    index: usize,
    signature: Option<&biscuit_auth::format::schema::ExternalSignature>,
) -> Result<Option<VerifyingKey>, TokenError> {
    let Some(s) = signature else {
        return Ok(None);
    };
    use biscuit_auth::format::schema::public_key::Algorithm as Proto;
    let refuse = |what: &str| {
        TokenError::Format(format!(
            "block {index} is signed by {what}: a delegation is signed by an Ed25519 key"
        ))
    };
    match Proto::from_i32(s.public_key.algorithm) {
        Some(Proto::Ed25519) => {}
        Some(Proto::Secp256r1) => return Err(refuse("a P-256 key")),
        None => return Err(refuse("a key of an unknown algorithm")),
    }
    let key =
        biscuit_auth::PublicKey::from_bytes(&s.public_key.key, biscuit_auth::Algorithm::Ed25519)
            .map_err(|_| refuse("a key that is not an Ed25519 public key"))?;
    VerifyingKey::from_biscuit(&key)
        .map(Some)
        .ok_or_else(|| refuse("a key that is not an Ed25519 public key"))
}

/// What a root token grants. Subject, client, at least one audience and an expiry are
/// required; the [`Issuer`] signs it.
#[derive(Clone, Debug)]
pub struct TokenBuilder {
    subject: String,
    client: String,
    audiences: BTreeSet<Audience>,
    scopes: BTreeSet<Scope>,
    lifetime: Option<Expiry>,
    not_before: Option<SystemTime>,
    token_id: Option<String>,
    details: Vec<AuthorizationDetail>,
    max_depth: Option<u32>,
    holder: Option<VerifyingKey>,
}

#[derive(Clone, Copy, Debug)]
enum Expiry {
    In(Duration),
    At(SystemTime),
}

impl TokenBuilder {
    /// A grant for `client` (the agent, e.g. a client-id URL) acting for `subject` (the person).
    pub fn new(subject: impl Into<String>, client: impl Into<String>) -> Self {
        TokenBuilder {
            subject: subject.into(),
            client: client.into(),
            audiences: BTreeSet::new(),
            scopes: BTreeSet::new(),
            lifetime: None,
            not_before: None,
            token_id: None,
            details: Vec::new(),
            max_depth: None,
            holder: None,
        }
    }

    /// Adds an audience: a resource server where the token may be used.
    #[must_use]
    pub fn audience(mut self, audience: Audience) -> Self {
        self.audiences.insert(audience);
        self
    }

    /// Adds a scope.
    #[must_use]
    pub fn scope(mut self, scope: Scope) -> Self {
        self.scopes.insert(scope);
        self
    }

    /// Expires this long after minting.
    #[must_use]
    pub fn expires_in(mut self, lifetime: Duration) -> Self {
        self.lifetime = Some(Expiry::In(lifetime));
        self
    }

    /// Expires at this time.
    #[must_use]
    pub fn expires_at(mut self, at: SystemTime) -> Self {
        self.lifetime = Some(Expiry::At(at));
        self
    }

    /// Not valid before this time (default: the time of minting).
    #[must_use]
    pub fn not_before(mut self, at: SystemTime) -> Self {
        self.not_before = Some(at);
        self
    }

    /// Sets the token id (recorded in audit).
    #[must_use]
    pub fn token_id(mut self, id: impl Into<String>) -> Self {
        self.token_id = Some(id.into());
        self
    }

    /// Adds an RFC 9396 authorization detail with its limits.
    #[must_use]
    pub fn detail(mut self, detail: AuthorizationDetail) -> Self {
        self.details.push(detail);
        self
    }

    /// Caps how many attenuation blocks may follow.
    #[must_use]
    pub fn max_depth(mut self, depth: u32) -> Self {
        self.max_depth = Some(depth);
        self
    }

    /// Binds the token to the agent's public key: every request then needs a proof of
    /// possession signed by that key (see [`HolderProof`](crate::HolderProof)).
    #[must_use]
    pub fn holder(mut self, key: VerifyingKey) -> Self {
        self.holder = Some(key);
        self
    }
}

/// Mints root tokens with one root key, under a maximum lifetime.
#[derive(Clone, Debug)]
pub struct Issuer {
    key: RootKeyPair,
    max_lifetime: Duration,
}

impl Issuer {
    /// An issuer with the default maximum lifetime of one hour.
    pub fn new(key: RootKeyPair) -> Self {
        Issuer {
            key,
            max_lifetime: DEFAULT_MAX_LIFETIME,
        }
    }

    /// Sets the maximum lifetime.
    #[must_use]
    pub fn max_lifetime(mut self, max: Duration) -> Self {
        self.max_lifetime = max;
        self
    }

    /// Mints a token now.
    pub fn mint(&self, grant: TokenBuilder) -> Result<Token, TokenError> {
        self.mint_at(grant, SystemTime::now())
    }

    /// Mints a token as of `now`.
    pub fn mint_at(&self, grant: TokenBuilder, now: SystemTime) -> Result<Token, TokenError> {
        if grant.subject.is_empty() {
            return Err(TokenError::Missing("a subject"));
        }
        if grant.client.is_empty() {
            return Err(TokenError::Missing("a client"));
        }
        if grant.audiences.is_empty() {
            return Err(TokenError::Missing("an audience"));
        }
        let iat = unix_secs(now);
        let exp = match grant.lifetime {
            None => return Err(TokenError::Missing("an expiry")),
            Some(Expiry::In(d)) => iat.saturating_add(d.as_secs()),
            Some(Expiry::At(t)) => unix_secs(t),
        };
        if exp <= iat {
            return Err(TokenError::Invalid(
                "the expiry is not in the future: give a positive lifetime".into(),
            ));
        }
        let lifetime = exp - iat;
        if lifetime > self.max_lifetime.as_secs() {
            return Err(TokenError::LifetimeTooLong {
                requested_secs: lifetime,
                max_secs: self.max_lifetime.as_secs(),
            });
        }
        for d in &grant.details {
            d.validate()?;
        }
        let spec = BlockSpec {
            valet: 1,
            sub: Some(grant.subject),
            client: Some(grant.client),
            jti: grant.token_id,
            iat: Some(iat),
            // A token is never valid before it was issued: a verifier whose clock is
            // wrong in the past cannot accept it.
            nbf: Some(grant.not_before.map_or(iat, unix_secs)),
            aud: Some(grant.audiences),
            scope: Some(grant.scopes),
            exp: Some(exp),
            details: grant.details,
            max_depth: grant.max_depth,
            holder: grant.holder,
            ..BlockSpec::default()
        };
        let block = block_builder(&spec, 0)?;
        let biscuit = biscuit_auth::Biscuit::builder()
            .merge(block)
            .root_key_id(self.key.id().0)
            .build(self.key.biscuit_pair())
            .map_err(|e| TokenError::Format(e.to_string()))?;
        let bytes = biscuit
            .to_vec()
            .map_err(|e| TokenError::Format(e.to_string()))?;
        Token::from_bytes(&bytes)
    }
}

/// A narrowing to append to a token. Everything left unset stays as the parent has it.
#[derive(Clone, Debug, Default)]
pub struct Attenuation {
    delegate: Option<String>,
    audiences: Option<BTreeSet<Audience>>,
    scopes: Option<BTreeSet<Scope>>,
    expires: Option<Expiry>,
    limits: Vec<FieldLimit>,
    actions: Vec<ActionLimit>,
    max_depth: Option<u32>,
    checks: Vec<String>,
    now: Option<SystemTime>,
    holder: Option<VerifyingKey>,
}

impl Attenuation {
    /// An attenuation that narrows nothing yet.
    pub fn new() -> Self {
        Attenuation::default()
    }

    /// Names the sub-agent this copy is cut for (recorded in the chain of custody).
    #[must_use]
    pub fn delegate(mut self, id: impl Into<String>) -> Self {
        self.delegate = Some(id.into());
        self
    }

    /// Restricts audiences to these (must be a subset of the parent's).
    #[must_use]
    pub fn audiences<I: IntoIterator<Item = Audience>>(mut self, audiences: I) -> Self {
        self.audiences = Some(audiences.into_iter().collect());
        self
    }

    /// Restricts scopes to these (must be a subset of the parent's).
    #[must_use]
    pub fn scopes<I: IntoIterator<Item = Scope>>(mut self, scopes: I) -> Self {
        self.scopes = Some(scopes.into_iter().collect());
        self
    }

    /// Expires this long from now (must be no later than the parent).
    #[must_use]
    pub fn expires_in(mut self, d: Duration) -> Self {
        self.expires = Some(Expiry::In(d));
        self
    }

    /// Expires at this time (must be no later than the parent).
    #[must_use]
    pub fn expires_at(mut self, t: SystemTime) -> Self {
        self.expires = Some(Expiry::At(t));
        self
    }

    /// The clock used for [`expires_in`](Self::expires_in); defaults to now.
    #[must_use]
    pub fn now(mut self, now: SystemTime) -> Self {
        self.now = Some(now);
        self
    }

    /// Caps a decimal field of a detail type, e.g. `("payment", "amount", 50.00)`. Without a
    /// [`min`](Self::min) below zero, the block also refuses negative values.
    #[must_use]
    pub fn max(self, kind: impl Into<String>, field: impl Into<String>, max: Decimal) -> Self {
        self.range(kind.into(), field.into(), |_, m| {
            *m = Some(m.map_or(max, |m| m.min(max)));
        })
    }

    /// Sets the lowest value of a decimal field of a detail type, e.g.
    /// `("payment", "amount", 10.00)`. It cannot go below the parent's lowest value (zero
    /// under a `max` alone).
    #[must_use]
    pub fn min(self, kind: impl Into<String>, field: impl Into<String>, min: Decimal) -> Self {
        self.range(kind.into(), field.into(), |m, _| {
            *m = Some(m.map_or(min, |m| m.max(min)));
        })
    }

    /// Sets a bound of the block's range on `kind.field` (one range per field: the stricter
    /// bound wins when one is set twice).
    fn range(
        mut self,
        kind: String,
        field: String,
        set: impl FnOnce(&mut Option<Decimal>, &mut Option<Decimal>),
    ) -> Self {
        let existing = self.limits.iter_mut().find_map(|l| match &mut l.limit {
            Limit::Range { min, max } if l.kind == kind && l.field == field => Some((min, max)),
            _ => None,
        });
        match existing {
            Some((min, max)) => set(min, max),
            None => {
                let (mut min, mut max) = (None, None);
                set(&mut min, &mut max);
                self.limits.push(FieldLimit {
                    kind,
                    field,
                    limit: Limit::Range { min, max },
                });
            }
        }
        self
    }

    /// Restricts a string field of a detail type to a set, e.g. recipients.
    #[must_use]
    pub fn one_of<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        kind: impl Into<String>,
        field: impl Into<String>,
        values: I,
    ) -> Self {
        self.limits.push(FieldLimit {
            kind: kind.into(),
            field: field.into(),
            limit: Limit::OneOf(values.into_iter().map(Into::into).collect()),
        });
        self
    }

    /// Restricts the actions usable with a detail type.
    #[must_use]
    pub fn actions<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        kind: impl Into<String>,
        actions: I,
    ) -> Self {
        self.actions.push(ActionLimit {
            kind: kind.into(),
            actions: actions.into_iter().map(Into::into).collect(),
        });
        self
    }

    /// Caps how many further attenuation blocks may follow this one.
    #[must_use]
    pub fn max_depth(mut self, depth: u32) -> Self {
        self.max_depth = Some(depth);
        self
    }

    /// Binds the narrowed copy to the sub-agent's public key: requests then need its proof
    /// of possession. When the parent is bound, sign the block with the parent holder's key
    /// ([`Token::attenuate_signed`]), or the parent's binding can no longer be met.
    #[must_use]
    pub fn holder(mut self, key: VerifyingKey) -> Self {
        self.holder = Some(key);
        self
    }

    /// For experts: adds a raw Biscuit Datalog check (`check if ...`). A check can only
    /// refuse more, never grant more.
    #[must_use]
    pub fn check(mut self, datalog: impl Into<String>) -> Self {
        self.checks.push(datalog.into());
        self
    }

    pub(crate) fn into_spec(self, parent: &Claims) -> Result<BlockSpec, TokenError> {
        let widen = |m: String| Err(TokenError::Widening(m));
        if parent.remaining_depth == Some(0) {
            return widen(
                "the token allows no further delegation (its depth cap is reached)".into(),
            );
        }
        if let Some(aud) = &self.audiences {
            if aud.is_empty() {
                return widen("an empty audience list would make the token useless".into());
            }
            if let Some(extra) = aud.iter().find(|a| !parent.audiences.contains(*a)) {
                return widen(format!(
                    "audience `{extra}` is not among the parent token's audiences"
                ));
            }
        }
        if let Some(scopes) = &self.scopes {
            if let Some(extra) = scopes.iter().find(|s| !parent.scopes.contains(*s)) {
                return widen(format!(
                    "scope `{extra}` is not among the parent token's scopes"
                ));
            }
        }
        let now = unix_secs(self.now.unwrap_or_else(SystemTime::now));
        let exp = match self.expires {
            None => None,
            Some(Expiry::In(d)) => Some(now.saturating_add(d.as_secs())),
            Some(Expiry::At(t)) => Some(unix_secs(t)),
        };
        if let Some(exp) = exp {
            if exp > parent.expires_at {
                return widen(format!(
                    "expiry {} is later than the parent token's {}",
                    rfc3339(exp),
                    rfc3339(parent.expires_at)
                ));
            }
        }
        for l in &self.limits {
            l.limit.validate(&format!("{}.{}", l.kind, l.field))?;
            if let Some(current) = parent.effective_limit(&l.kind, &l.field) {
                if !l.limit.narrows(&current) {
                    return widen(match (&l.limit, current.lowest()) {
                        (Limit::Range { min: Some(min), .. }, Some(low)) if *min < low => format!(
                            "{}.{} at least {min} is lower than the parent token's minimum of {low}",
                            l.kind, l.field
                        ),
                        _ => format!(
                            "{}.{} {} is wider than the parent token's {current}",
                            l.kind, l.field, l.limit
                        ),
                    });
                }
            }
        }
        for a in &self.actions {
            let mut granted = parent
                .authorization_details
                .iter()
                .filter(|d| d.kind == a.kind && !d.actions.is_empty())
                .flat_map(|d| d.actions.iter())
                .collect::<BTreeSet<_>>();
            for link in &parent.chain {
                for prior in link.actions.iter().filter(|p| p.kind == a.kind) {
                    granted.retain(|g| prior.actions.contains(*g));
                }
            }
            if !granted.is_empty() {
                if let Some(extra) = a.actions.iter().find(|x| !granted.contains(x)) {
                    return widen(format!(
                        "action `{extra}` is not granted for `{}` by the parent token",
                        a.kind
                    ));
                }
            }
        }
        if let (Some(d), Some(r)) = (self.max_depth, parent.remaining_depth) {
            // The cap counts blocks after this one; the parent's counts this one too.
            if d >= r {
                return widen(format!(
                    "a depth cap of {d} is more than the {} further delegations the parent allows",
                    r.saturating_sub(1)
                ));
            }
        }
        Ok(BlockSpec {
            valet: 1,
            delegate: self.delegate,
            aud: self.audiences,
            scope: self.scopes,
            exp,
            limits: self.limits,
            actions: self.actions,
            max_depth: self.max_depth,
            checks: self.checks,
            holder: self.holder,
            ..BlockSpec::default()
        })
    }
}
