//! Valet's stores shared by every replica of a resource server, on Redis: the replay store
//! of proofs of possession, single-use approvals and revocations.
//!
//! One Valet authorizer keeps its stores in its own memory: a proof accepted by replica A
//! would be accepted again by replica B, an approval could be spent once per replica, and a
//! revocation would reach the other replicas only when they reload. With these stores,
//! every replica sees one truth:
//!
//! ```no_run
//! use std::sync::Arc;
//! use valet::*;
//! use valet_redis::{Redis, RedisConfig};
//! # fn run(keys: KeySet, policies: PolicyStore) -> Result<(), Box<dyn std::error::Error>> {
//! let redis = Redis::connect(RedisConfig::new("redis://127.0.0.1:6379/").prefix("billing"))?;
//! let authorizer = Authorizer::builder(keys, policies)
//!     .replay_store(Arc::new(redis.replay_store()))
//!     .approval_store(Arc::new(redis.approval_store()))
//!     .revocations(Arc::new(redis.revocation_store()?))
//!     .build();
//! # Ok(()) }
//! ```
//!
//! - **Replay**: a proof's nonce is recorded with `SET NX EX`, until the end of the proof's
//!   window, atomically with a check of the store's *epoch* (below).
//! - **Approvals**: each approval is spent with `SET NX EX` until it expires.
//! - **Revocations**: ids are kept in a Redis set and announced on a channel. Each replica
//!   keeps a local copy, updated by a subscription and by a full read every
//!   [`RedisConfig::revocation_refresh`] (250 ms by default), so a revocation made anywhere is
//!   refused everywhere well within a second. The copy never forgets an id: one missing
//!   from Redis (a restart that lost the set) is written back.
//!
//! # Faults fail closed
//!
//! Every Redis call has a time limit ([`RedisConfig::timeout`], 50 ms by default). When
//! Redis cannot be reached, a decision that needs a proof of possession or an approval is
//! denied with a reason saying the store is unreachable, and so is every decision while the
//! local copy of the revocations is older than [`RedisConfig::revocation_staleness`]
//! (1 s by default). They recover by themselves when Redis is back.
//!
//! **A Redis that restarts with its memory lost** forgets which proofs and approvals were
//! used. The stores keep an *epoch* in Redis, `{prefix}:epoch`, that records when the
//! current memory began; a restart that lost it makes the next call write a new one. A
//! proof signed before the epoch began is refused (whether it was used cannot be told),
//! and so is an approval that could have been signed before it. Run Redis with
//! `maxmemory-policy noeviction` (its default): an eviction policy that drops keys with a
//! time to live would forget used proofs without changing the epoch.
//!
//! Keys are namespaced by [`RedisConfig::prefix`] (default `valet`): `{prefix}:epoch`,
//! `{prefix}:proof:<sha256>`, `{prefix}:approval:<sha256>`, `{prefix}:revoked` and the
//! channel `{prefix}:revocations`.

#![forbid(unsafe_code)]

mod approvals;
mod config;
mod connection;
mod epoch;
mod replay;
mod revocations;
pub mod testing;

pub use approvals::RedisApprovals;
pub use config::RedisConfig;
pub use connection::{Redis, RedisError};
pub use replay::RedisReplay;
pub use revocations::RedisRevocations;
