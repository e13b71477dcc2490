//! The claims read from a token: everything it says with each narrowing applied, and
//! its chain of custody.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::agent_keys::VerifyingKey;
use crate::audience::Audience;
use crate::authorization::{ActionLimit, AuthorizationDetail, FieldLimit};
use crate::block::BlockSpec;
use crate::details::Decimal;
use crate::error::TokenError;
use crate::keys::KeyId;
use crate::limit::Limit;
use crate::revocation::RevocationId;
use crate::scope::Scope;

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
    /// Checks of no shape valet writes (raw Datalog, e.g. added by hand), as text: enforced,
    /// but not part of the other members.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<String>,
    /// Facts of no kind valet writes, as raw Datalog text.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub facts: Vec<String>,
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

/// A range and a set of strings both in force on one field (a hand-made block can add one
/// over the other): the strings of the set that are decimals within the range.
fn both(a: &Limit, b: &Limit) -> Limit {
    let (range, set) = match (a, b) {
        (Limit::OneOf(set), range) | (range, Limit::OneOf(set)) => (range, set),
        _ => return b.clone(),
    };
    Limit::OneOf(
        set.iter()
            .filter(|s| range.admits(&crate::details::FieldValue::Str((*s).clone())))
            .cloned()
            .collect(),
    )
}

/// The keys a proof by `key` proves: `key`, then, repeatedly, the key that signed any block
/// binding a proven key (`links` are each block's binding and signer).
pub(crate) fn proven_keys(
    key: VerifyingKey,
    links: &[(Option<VerifyingKey>, Option<VerifyingKey>)],
) -> BTreeSet<VerifyingKey> {
    let mut proven = BTreeSet::from([key]);
    loop {
        let before = proven.len();
        for (holder, signer) in links {
            if let (Some(holder), Some(signer)) = (holder, signer) {
                if proven.contains(holder) {
                    proven.insert(*signer);
                }
            }
        }
        if proven.len() == before {
            return proven;
        }
    }
}

/// The key whose proof of possession meets every binding of the token: of the keys the
/// blocks bind, the latest from which all of them are proven (a holder can add a binding
/// of a key that signed before it, which a proof by the holder still meets). With no such
/// key, the last one bound (no single proof meets them all); `None` for a bearer token.
fn needed_holder(specs: &[BlockSpec]) -> Option<VerifyingKey> {
    let links: Vec<_> = specs.iter().map(|s| (s.holder, s.signer)).collect();
    let bound: Vec<VerifyingKey> = specs.iter().filter_map(|s| s.holder).collect();
    let last = *bound.last()?;
    Some(
        bound
            .iter()
            .rev()
            .copied()
            .find(|k| {
                let proven = proven_keys(*k, &links);
                bound.iter().all(|b| proven.contains(b))
            })
            .unwrap_or(last),
    )
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
    /// The holder key the issuer bound the token to in the authority block, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer_holder: Option<VerifyingKey>,
    /// The authority block's checks of no shape valet writes, as raw Datalog text:
    /// enforced, but not part of the other members.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<String>,
    /// The authority block's facts of no kind valet writes, as raw Datalog text.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub facts: Vec<String>,
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

    /// Whether every link up to block `block` (0 is the authority block) was signed, in a
    /// verified signature chain, by a key the token was bound to before it: by the
    /// issuer's binding, or by a binding such a link made. `true` for the authority block
    /// alone; `false` from the first link anyone holding the token could have appended.
    pub fn delegations_signed_as_of(&self, block: usize) -> bool {
        let mut bound: BTreeSet<VerifyingKey> = self.issuer_holder.into_iter().collect();
        for link in self.chain.iter().take_while(|l| l.block <= block) {
            match link.signed_by {
                Some(signer) if link.verified && bound.contains(&signer) => {}
                _ => return false,
            }
            if let Some(holder) = link.holder {
                bound.insert(holder);
            }
        }
        true
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
        // A hand-made token may name any date: the last second of year 9999 at the latest.
        UNIX_EPOCH + Duration::from_secs(self.expires_at.min(253_402_300_799))
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
                    Some(c) => c.meet(&l.limit).unwrap_or_else(|| both(c, &l.limit)),
                    None => l.limit.clone(),
                });
            }
        }
        current
    }

    /// A block's limit as the chain so far enforces it. A block's range states no lower
    /// bound when the limits above it already refuse negative values; when they do not (a
    /// block made by hand), the range's floor is the one that holds: the parent's, or none.
    fn as_enforced(&self, l: &FieldLimit) -> FieldLimit {
        let mut l = l.clone();
        if let Limit::Range {
            min: min @ None, ..
        } = &mut l.limit
        {
            match self
                .effective_limit(&l.kind, &l.field)
                .as_ref()
                .and_then(Limit::lowest)
            {
                Some(low) if low >= Decimal::ZERO => {}
                Some(low) => *min = Some(low),
                None => *min = Some(Decimal::from_scaled(i64::MIN)),
            }
        }
        l
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
            audiences: root.aud.clone().ok_or_else(|| missing("audience check"))?,
            // Without its scope check, the token would bound no scope.
            scopes: root.scope.clone().ok_or_else(|| missing("scope check"))?,
            granted_scopes: root.scope.clone().ok_or_else(|| missing("scope check"))?,
            not_before: root.nbf,
            expires_at: root.exp.ok_or_else(|| missing("expiry check"))?,
            authorization_details: root.details.clone(),
            chain: Vec::with_capacity(rest.len()),
            revocation_ids,
            remaining_depth: root.max_depth,
            holder: root.holder,
            issuer_holder: root.holder,
            checks: root.checks.clone(),
            facts: root.facts.clone(),
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
            let limits = spec.limits.iter().map(|l| claims.as_enforced(l)).collect();
            claims.chain.push(Link {
                block: i + 1,
                delegate: spec.delegate.clone(),
                audiences: spec.aud.clone(),
                scopes: spec.scope.clone(),
                expires_at: spec.exp,
                limits,
                actions: spec.actions.clone(),
                max_depth: spec.max_depth,
                checks: spec.checks.clone(),
                facts: spec.facts.clone(),
                holder: spec.holder,
                signed_by: spec.signer,
                verified: false,
            });
        }
        claims.holder = needed_holder(specs);
        Ok(claims)
    }
}
