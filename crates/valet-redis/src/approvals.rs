//! Single-use approvals, spent once across every replica.

use std::time::{SystemTime, UNIX_EPOCH};

use valet::{ApprovalId, ApprovalStore, Spent, StoreError};

use crate::connection::Redis;
use crate::epoch::take_once;

/// Records each spent approval in Redis until it expires, so that an approval spent on one
/// replica is refused on every other. After Redis lost its memory, an approval that could
/// have been signed before is refused; Redis unreachable refuses every approval, with the
/// reason, and the approval stays unspent.
#[derive(Clone, Debug)]
pub struct RedisApprovals {
    redis: Redis,
}

impl RedisApprovals {
    pub(crate) fn new(redis: Redis) -> Self {
        RedisApprovals { redis }
    }
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl ApprovalStore for RedisApprovals {
    fn spend(
        &self,
        id: &ApprovalId,
        expires_at: SystemTime,
        now: SystemTime,
    ) -> Result<Spent, StoreError> {
        let (expires_at, now) = (unix(expires_at), unix(now));
        let key = self.redis.config().key(&["approval", &id.to_string()]);
        let taken = take_once(&self.redis, &key, expires_at.saturating_sub(now), now)
            .map_err(|e| StoreError::Unreachable(e.to_string()))?;
        let lifetime = self.redis.config().max_approval_lifetime.as_secs();
        if expires_at < taken.since.saturating_add(lifetime) {
            return Err(StoreError::Unreachable(format!(
                "Redis has kept spent approvals only since Unix time {} (it started empty then: a new deployment, or a restart that lost its memory), and this approval could have been signed and spent before, so whether it was spent cannot be told: ask for an approval that expires at least {} s after that",
                taken.since, lifetime
            )));
        }
        Ok(if taken.first {
            Spent::First
        } else {
            Spent::Again
        })
    }
}

impl Redis {
    /// The store of spent approvals
    /// ([`AuthorizerBuilder::approval_store`](valet::AuthorizerBuilder::approval_store)).
    pub fn approval_store(&self) -> RedisApprovals {
        RedisApprovals::new(self.clone())
    }
}
