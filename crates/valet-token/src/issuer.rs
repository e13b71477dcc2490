//! Minting: what a root token grants (TokenBuilder) and the issuer that signs it.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use crate::agent_keys::VerifyingKey;
use crate::audience::Audience;
use crate::authorization::AuthorizationDetail;
use crate::block::BlockSpec;
use crate::clock::{unix_secs, Expiry};
use crate::datalog::block_builder;
use crate::error::TokenError;
use crate::keys::RootKeyPair;
use crate::scope::Scope;
use crate::token::Token;

/// The default maximum lifetime an [`Issuer`] grants: one hour.
pub const DEFAULT_MAX_LIFETIME: Duration = Duration::from_secs(3600);

/// What a root token grants. Subject, client, at least one audience, an expiry and the
/// agent's holder key ([`holder`](Self::holder)) are required; the [`Issuer`] signs it. A
/// token bound to no holder key (a bearer token) is minted only with the explicit opt-in
/// [`BearerMinting::bearer`](crate::danger::BearerMinting::bearer).
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
    /// Minting without a holder key was opted into (`danger`).
    bearer: bool,
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
            bearer: false,
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
    /// possession signed by that key (see [`HolderProof`](crate::proof::HolderProof)), so a
    /// copy of the token is of no use without the key. Required to mint.
    #[must_use]
    pub fn holder(mut self, key: VerifyingKey) -> Self {
        self.holder = Some(key);
        self
    }

    /// Lets the grant be minted without a holder key: the `danger` opt-in. A holder key
    /// given with [`holder`](Self::holder) still binds the token.
    pub(crate) fn allowing_bearer(mut self) -> Self {
        self.bearer = true;
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

    /// Mints a token now. A grant with no holder key is refused
    /// ([`TokenError::NoHolder`]) unless it opted into bearer minting through
    /// [`danger`](crate::danger).
    pub fn mint(&self, grant: TokenBuilder) -> Result<Token, TokenError> {
        self.mint_at(grant, SystemTime::now())
    }

    /// Mints a token as of `now`, refusing a grant as [`mint`](Self::mint) does.
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
        if grant.holder.is_none() && !grant.bearer {
            return Err(TokenError::NoHolder);
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
            sub: Some(grant.subject),
            client: Some(grant.client),
            jti: grant.token_id,
            nbf: grant.not_before.map(unix_secs),
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
