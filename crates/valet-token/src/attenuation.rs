//! Attenuation: the narrowing a holder appends to a token, checked against what the
//! token already says.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use crate::agent_keys::VerifyingKey;
use crate::audience::Audience;
use crate::authorization::{ActionLimit, FieldLimit};
use crate::block::BlockSpec;
use crate::claims::Claims;
use crate::clock::{rfc3339, unix_secs, Expiry};
use crate::details::Decimal;
use crate::error::TokenError;
use crate::limit::Limit;
use crate::scope::Scope;

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
    /// (`Token::attenuate_signed`), or the parent's binding can no longer be met.
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

    pub(crate) fn into_spec(mut self, parent: &Claims) -> Result<BlockSpec, TokenError> {
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
        for l in &mut self.limits {
            l.limit.validate(&format!("{}.{}", l.kind, l.field))?;
            let current = parent.effective_limit(&l.kind, &l.field);
            // A range without a `min` refuses negative values. The block's Datalog states
            // that floor only where the parent's limits do not already hold it.
            if let Limit::Range {
                min: min @ None, ..
            } = &mut l.limit
            {
                if current
                    .as_ref()
                    .and_then(Limit::lowest)
                    .is_none_or(|low| low < Decimal::ZERO)
                {
                    *min = Some(Decimal::ZERO);
                }
            }
            if let Some(current) = current {
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
