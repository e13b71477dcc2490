//! The verifier's cache of verified tokens: a bounded, sharded map from the SHA-256 digest
//! of token bytes to what is a pure function of them.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

const CACHE_SHARDS: usize = 16;

/// The default bound on the estimated memory of a `Verifier`'s cache of verified tokens
/// (256 MiB).
pub const DEFAULT_CACHE_BYTES: usize = 256 * 1024 * 1024;

/// The estimated memory a cached verified token takes per byte of token: its decoded
/// blocks, the verified Biscuit and the prepared Datalog together take about 34 bytes per
/// byte of a 13 KB token.
pub const CACHE_BYTES_PER_TOKEN_BYTE: usize = 40;

/// The estimated fixed memory of one cached verified token, whatever its size.
pub const CACHE_ENTRY_OVERHEAD: usize = 4096;

/// What a `Verifier`'s cache of verified tokens holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheUsage {
    /// Verified tokens held.
    pub entries: usize,
    /// Their estimated memory, in bytes.
    pub bytes: usize,
}

/// A bounded cache keyed by a SHA-256 digest, in shards each behind its own read-mostly
/// lock, so concurrent repeat presentations do not wait on each other. Bounded by entry
/// count and by the entries' estimated bytes; each shard drops its oldest entries first.
pub(crate) struct DigestCache<V> {
    shards: Vec<RwLock<Shard<V>>>,
    per_shard: usize,
    bytes_per_shard: usize,
}

struct Shard<V> {
    map: HashMap<[u8; 32], (Arc<V>, usize)>,
    /// Insertion order, oldest first (digests already removed are skipped).
    order: VecDeque<[u8; 32]>,
    bytes: usize,
}

impl<V> DigestCache<V> {
    pub(crate) fn new(capacity: usize, max_bytes: usize) -> Self {
        DigestCache {
            shards: (0..CACHE_SHARDS)
                .map(|_| {
                    RwLock::new(Shard {
                        map: HashMap::new(),
                        order: VecDeque::new(),
                        bytes: 0,
                    })
                })
                .collect(),
            per_shard: capacity.div_ceil(CACHE_SHARDS).max(1),
            bytes_per_shard: (max_bytes / CACHE_SHARDS).max(1),
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.per_shard.saturating_mul(CACHE_SHARDS)
    }

    pub(crate) fn max_bytes(&self) -> usize {
        self.bytes_per_shard.saturating_mul(CACHE_SHARDS)
    }

    fn shard(&self, digest: &[u8; 32]) -> Option<&RwLock<Shard<V>>> {
        self.shards.get(usize::from(digest[0]) % CACHE_SHARDS)
    }

    pub(crate) fn get(&self, digest: &[u8; 32]) -> Option<Arc<V>> {
        let shard = self.shard(digest)?;
        let shard = shard.read().unwrap_or_else(PoisonError::into_inner);
        shard.map.get(digest).map(|(v, _)| Arc::clone(v))
    }

    /// Inserts `value`, of estimated size `weight`; an entry larger than a whole shard's
    /// bound is not kept.
    pub(crate) fn insert(&self, digest: [u8; 32], value: Arc<V>, weight: usize) {
        if weight > self.bytes_per_shard {
            return;
        }
        let Some(shard) = self.shard(&digest) else {
            return;
        };
        let mut shard = shard.write().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, old)) = shard.map.remove(&digest) {
            shard.bytes = shard.bytes.saturating_sub(old);
        }
        // Bounded: make room by dropping the oldest entries (a later presentation of one
        // is read and verified again, never trusted without a check).
        while shard.map.len() >= self.per_shard
            || shard.bytes.saturating_add(weight) > self.bytes_per_shard
        {
            let Some(oldest) = shard.order.pop_front() else {
                break;
            };
            if let Some((_, w)) = shard.map.remove(&oldest) {
                shard.bytes = shard.bytes.saturating_sub(w);
            }
        }
        shard.map.insert(digest, (value, weight));
        shard.order.push_back(digest);
        shard.bytes = shard.bytes.saturating_add(weight);
        // Digests replaced or dropped leave stale places in the order: compact it when it
        // grows past twice the entries.
        if shard.order.len() > shard.map.len().saturating_mul(2).max(16) {
            let Shard { map, order, .. } = &mut *shard;
            let mut kept = HashSet::with_capacity(map.len());
            order.retain(|d| map.contains_key(d) && kept.insert(*d));
        }
    }

    pub(crate) fn usage(&self) -> CacheUsage {
        self.shards.iter().fold(CacheUsage::default(), |u, shard| {
            let shard = shard.read().unwrap_or_else(PoisonError::into_inner);
            CacheUsage {
                entries: u.entries.saturating_add(shard.map.len()),
                bytes: u.bytes.saturating_add(shard.bytes),
            }
        })
    }
}

impl<V> fmt::Debug for DigestCache<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DigestCache")
            .field("shards", &self.shards.len())
            .field("per_shard", &self.per_shard)
            .field("bytes_per_shard", &self.bytes_per_shard)
            .finish_non_exhaustive()
    }
}
