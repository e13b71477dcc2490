//! Where single-use ids (proof nonces) are recorded: the [`ReplayStore`] trait, and the
//! replay cache of one process, a bounded set of ids in partitions, each id kept until it
//! expires.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

/// Why a replay store refused an entry.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// The same id was admitted before and has not expired.
    #[error("already used")]
    Replayed,
    /// The store holds `capacity` live entries: new ones are refused (fail closed).
    #[error("the replay store is full ({capacity} unexpired entries)")]
    Full {
        /// The most live entries the store holds.
        capacity: usize,
    },
    /// The entry's partition (one person's agent) holds its quota of live entries: new
    /// ones of that partition are refused, other partitions are not affected.
    #[error("the replay store holds this partition's quota of {quota} unexpired entries")]
    QuotaExceeded {
        /// The most live entries one partition holds.
        quota: usize,
    },
    /// The store lost the entries it held (a shared store restarted empty) after this
    /// entry was issued: it cannot say whether the entry was used before, so it is refused.
    #[error("the replay store lost its memory after this entry was issued")]
    IssuedBeforeLoss,
    /// The store cannot be used: a lock poisoned by a panic elsewhere, or a shared store
    /// that does not answer. Says why.
    #[error("the replay store is unavailable: {0}")]
    Unavailable(String),
}

/// One single-use id to admit.
#[derive(Clone, Copy, Debug)]
pub struct ReplayEntry<'a> {
    /// The partition (one person's agent); any bytes.
    pub partition: &'a [u8],
    /// The id (a proof's key and nonce); any bytes.
    pub id: &'a [u8],
    /// When the proof was signed, Unix seconds.
    pub issued_at: u64,
    /// Until when the id must be remembered, Unix seconds.
    pub expires_at: u64,
    /// The verifier's clock, Unix seconds.
    pub now: u64,
}

/// Where single-use ids are recorded, so that a proof of possession is accepted once: by
/// one process ([`ReplayCache`], the default) or by every replica of a resource server
/// (a store they share).
///
/// An implementation admits an id at most once while it is unexpired, fails closed (an
/// error whenever it cannot tell), and refuses an entry issued before it lost what it
/// held ([`ReplayError::IssuedBeforeLoss`]).
pub trait ReplayStore: Send + Sync + fmt::Debug {
    /// Admits the entry, or says why not.
    fn admit_once(&self, entry: &ReplayEntry<'_>) -> Result<(), ReplayError>;
}

impl ReplayStore for ReplayCache {
    fn admit_once(&self, entry: &ReplayEntry<'_>) -> Result<(), ReplayError> {
        self.admit_in(entry.partition, entry.id, entry.expires_at, entry.now)
    }
}

/// A bounded set of single-use ids (proof nonces, approvals), each kept until it expires.
///
/// Ids are admitted into partitions (the verifier uses one partition per person and agent,
/// the issuer-signed subject and client of the token): each partition holds at most
/// `per_partition` live ids and the whole cache at most `capacity`, so the traffic of one
/// person's agent, or a flood by whoever holds its tokens, cannot exhaust the room of
/// another's; filling the whole cache takes `capacity / per_partition` partitions, each
/// with tokens of its own from the issuer. When a limit is reached, new ids are refused
/// rather than old ones forgotten (fail closed). Expired ids are forgotten as time passes,
/// at a cost proportional to their number. `Send + Sync`; clones of a `Verifier` share
/// one cache.
#[derive(Debug)]
pub struct ReplayCache {
    seen: Mutex<Seen>,
    capacity: usize,
    per_partition: usize,
}

#[derive(Debug, Default)]
struct Seen {
    /// Id digest -> (expiry, partition digest).
    ids: HashMap<[u8; 32], (u64, [u8; 32])>,
    /// Live ids per partition digest.
    partitions: HashMap<[u8; 32], usize>,
    /// Id digests by expiry, to forget them when they expire.
    by_expiry: std::collections::BTreeMap<u64, Vec<[u8; 32]>>,
}

impl Seen {
    /// Forgets the ids that expired before `now`.
    fn prune(&mut self, now: u64) {
        while let Some(entry) = self.by_expiry.first_entry() {
            if *entry.key() >= now {
                break;
            }
            let (expiry, digests) = entry.remove_entry();
            for digest in digests {
                // An id admitted again since keeps its later expiry.
                if let Some((_, part)) = self.ids.get(&digest).filter(|(e, _)| *e == expiry) {
                    let part = *part;
                    self.ids.remove(&digest);
                    if let Some(n) = self.partitions.get_mut(&part) {
                        *n = n.saturating_sub(1);
                        if *n == 0 {
                            self.partitions.remove(&part);
                        }
                    }
                }
            }
        }
    }
}

impl ReplayCache {
    /// An empty cache holding at most `capacity` live ids, all in one partition's quota
    /// (see [`with_partition_quota`](Self::with_partition_quota)).
    pub fn new(capacity: usize) -> Self {
        ReplayCache {
            seen: Mutex::new(Seen::default()),
            capacity,
            per_partition: capacity,
        }
    }

    /// Holds at most `quota` live ids in each partition.
    #[must_use]
    pub fn with_partition_quota(mut self, quota: usize) -> Self {
        self.per_partition = quota;
        self
    }

    /// The capacity.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The most live ids one partition may hold.
    pub fn partition_quota(&self) -> usize {
        self.per_partition
    }

    /// Admits `id` (any bytes; its SHA-256 is kept) until `expires_at` (Unix seconds) in
    /// the default partition, as [`admit_in`](Self::admit_in) does.
    pub fn admit(&self, id: &[u8], expires_at: u64, now: u64) -> Result<(), ReplayError> {
        self.admit_in(&[], id, expires_at, now)
    }

    /// Admits `id` (any bytes; its SHA-256 is kept) into `partition` (any bytes) until
    /// `expires_at` (Unix seconds), or refuses it if it is already held, if the cache is
    /// full of live ids, or if the partition holds its quota of them.
    pub fn admit_in(
        &self,
        partition: &[u8],
        id: &[u8],
        expires_at: u64,
        now: u64,
    ) -> Result<(), ReplayError> {
        let digest: [u8; 32] = Sha256::digest(id).into();
        let part: [u8; 32] = Sha256::digest(partition).into();
        let mut seen = self.seen.lock().map_err(|_| {
            ReplayError::Unavailable("its lock was poisoned by a panic elsewhere".into())
        })?;
        seen.prune(now);
        if seen.ids.contains_key(&digest) {
            return Err(ReplayError::Replayed);
        }
        if seen.ids.len() >= self.capacity {
            return Err(ReplayError::Full {
                capacity: self.capacity,
            });
        }
        if seen.partitions.get(&part).copied().unwrap_or(0) >= self.per_partition {
            return Err(ReplayError::QuotaExceeded {
                quota: self.per_partition,
            });
        }
        seen.ids.insert(digest, (expires_at, part));
        seen.by_expiry.entry(expires_at).or_default().push(digest);
        *seen.partitions.entry(part).or_insert(0) += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_cache_refuses_repeats_and_fails_closed_when_full() {
        let cache = ReplayCache::new(2);
        assert_eq!(cache.admit(b"a", 100, 10), Ok(()));
        assert_eq!(cache.admit(b"a", 100, 10), Err(ReplayError::Replayed));
        assert_eq!(cache.admit(b"b", 20, 10), Ok(()));
        assert_eq!(
            cache.admit(b"c", 100, 10),
            Err(ReplayError::Full { capacity: 2 })
        );
        // Once `b` expires its room is reused.
        assert_eq!(cache.admit(b"c", 100, 21), Ok(()));
        assert_eq!(cache.admit(b"a", 100, 21), Err(ReplayError::Replayed));
        // An expired id may come back (its proof is stale by then anyway).
        assert_eq!(cache.admit(b"a", 200, 101), Ok(()));
    }

    #[test]
    fn replay_cache_partitions_keep_one_partition_from_exhausting_another() {
        let cache = ReplayCache::new(4).with_partition_quota(2);
        assert_eq!(cache.admit_in(b"t1", b"a", 100, 10), Ok(()));
        assert_eq!(cache.admit_in(b"t1", b"b", 100, 10), Ok(()));
        assert_eq!(
            cache.admit_in(b"t1", b"c", 100, 10),
            Err(ReplayError::QuotaExceeded { quota: 2 })
        );
        assert_eq!(cache.admit_in(b"t2", b"c", 100, 10), Ok(()));
        assert_eq!(
            cache.admit_in(b"t2", b"a", 100, 10),
            Err(ReplayError::Replayed)
        );
        assert_eq!(cache.admit_in(b"t3", b"d", 100, 10), Ok(()));
        assert_eq!(
            cache.admit_in(b"t4", b"e", 100, 10),
            Err(ReplayError::Full { capacity: 4 })
        );
        // Expired ids give their partition's room back.
        assert_eq!(cache.admit_in(b"t1", b"f", 200, 101), Ok(()));
    }
}
