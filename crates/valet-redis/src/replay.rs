//! The replay store of proofs of possession, shared by every replica.

use sha2::{Digest, Sha256};
use valet::{ReplayEntry, ReplayError, ReplayStore};

use crate::connection::Redis;
use crate::epoch::take_once;

/// Records each accepted proof's nonce in Redis until the end of the proof's window, so
/// that a proof accepted by one replica is refused by every other. A proof signed before
/// Redis last lost its memory is refused; Redis unreachable refuses every proof, with
/// the reason.
#[derive(Clone, Debug)]
pub struct RedisReplay {
    redis: Redis,
}

impl RedisReplay {
    pub(crate) fn new(redis: Redis) -> Self {
        RedisReplay { redis }
    }
}

/// The digest naming an entry: its partition (length first, so that no two pairs share
/// one) and its id.
fn digest(entry: &ReplayEntry<'_>) -> String {
    let mut h = Sha256::new();
    h.update((entry.partition.len() as u64).to_be_bytes());
    h.update(entry.partition);
    h.update(entry.id);
    hex::encode(h.finalize())
}

impl ReplayStore for RedisReplay {
    fn admit_once(&self, entry: &ReplayEntry<'_>) -> Result<(), ReplayError> {
        let key = self.redis.config().key(&["proof", &digest(entry)]);
        let ttl = entry.expires_at.saturating_sub(entry.now);
        let taken = take_once(&self.redis, &key, ttl, entry.now)
            .map_err(|e| ReplayError::Unavailable(e.to_string()))?;
        if entry.issued_at < taken.since {
            return Err(ReplayError::IssuedBeforeLoss);
        }
        if !taken.first {
            return Err(ReplayError::Replayed);
        }
        Ok(())
    }
}

impl Redis {
    /// The replay store of proofs of possession
    /// ([`AuthorizerBuilder::replay_store`](valet::AuthorizerBuilder::replay_store)).
    pub fn replay_store(&self) -> RedisReplay {
        RedisReplay::new(self.clone())
    }
}
