//! Revocations kept in a Redis set, with a local copy on each replica kept up to date by a
//! subscription and a periodic full read.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use valet::{Error, RevocationId, RevocationStore, StoreError};

use crate::connection::{Redis, RedisError};

/// Revocations shared by every replica: each id is added to the set `{prefix}:revoked` and
/// announced on the channel `{prefix}:revocations`. Each replica answers from a local copy,
/// which a background thread keeps up to date: every announcement at once, and a full read
/// every [`RedisConfig::revocation_refresh`](crate::RedisConfig::revocation_refresh). The
/// copy never forgets an id, and writes back to Redis any id Redis lost.
///
/// While the copy is older than
/// [`RedisConfig::revocation_staleness`](crate::RedisConfig::revocation_staleness) (Redis
/// unreachable), [`freshness`](RevocationStore::freshness) is an error and every decision a
/// deny that says so.
#[derive(Debug)]
pub struct RedisRevocations {
    redis: Redis,
    state: Arc<State>,
}

#[derive(Debug)]
struct State {
    ids: RwLock<HashSet<RevocationId>>,
    /// When the copy was last known complete, milliseconds since 1970 (0: never).
    synced_ms: AtomicU64,
    stop: AtomicBool,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl RedisRevocations {
    pub(crate) fn start(redis: Redis) -> Result<RedisRevocations, RedisError> {
        let state = Arc::new(State {
            ids: RwLock::new(HashSet::new()),
            synced_ms: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        });
        // A first read now, so that a replica starting with Redis up is current at once.
        let _ = sync(&redis, &state);
        let thread_redis = redis.clone();
        let thread_state = Arc::clone(&state);
        thread::Builder::new()
            .name("valet-redis-revocations".into())
            .spawn(move || follow(&thread_redis, &thread_state))
            .map_err(|e| redis.unreachable(&format!("cannot start the revocation thread: {e}")))?;
        Ok(RedisRevocations { redis, state })
    }

    /// How many ids the local copy holds.
    pub fn len(&self) -> usize {
        self.state.ids.read().map_or(0, |ids| ids.len())
    }

    /// Whether the local copy holds no id.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How long ago the local copy was last known complete (`None`: never).
    pub fn age(&self) -> Option<Duration> {
        match self.state.synced_ms.load(Ordering::SeqCst) {
            0 => None,
            at => Some(Duration::from_millis(now_ms().saturating_sub(at))),
        }
    }
}

impl Drop for RedisRevocations {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
    }
}

/// Reads the whole set into the copy, and writes back the ids Redis lost.
fn sync(redis: &Redis, state: &State) -> Result<(), RedisError> {
    let key = redis.config().key(&["revoked"]);
    let remote: Vec<String> = redis.with(|con| redis::cmd("SMEMBERS").arg(&key).query(con))?;
    let remote: HashSet<RevocationId> = remote
        .iter()
        .filter_map(|hex| RevocationId::from_hex(hex))
        .collect();
    let missing: Vec<String> = {
        let mut ids = state
            .ids
            .write()
            .map_err(|_| redis.unexpected("the local copy's lock was poisoned"))?;
        ids.extend(remote.iter().cloned());
        ids.difference(&remote).map(ToString::to_string).collect()
    };
    if !missing.is_empty() {
        redis.with(|con| {
            redis::cmd("SADD")
                .arg(&key)
                .arg(&missing)
                .query::<i64>(con)
                .map(|_| ())
        })?;
    }
    state.synced_ms.store(now_ms(), Ordering::SeqCst);
    Ok(())
}

/// The background thread: a full read every refresh interval, and between them every
/// announcement as it comes.
fn follow(redis: &Redis, state: &State) {
    let refresh = redis.config().revocation_refresh;
    let channel = redis.config().key(&["revocations"]);
    let mut subscription: Option<redis::Connection> = None;
    while !state.stop.load(Ordering::SeqCst) {
        let started = Instant::now();
        let _ = sync(redis, state);
        if subscription.is_none() {
            subscription = subscribe(redis, &channel);
        }
        // Announcements until the next full read.
        let mut broken = false;
        if let Some(con) = subscription.as_mut() {
            let mut pubsub = con.as_pubsub();
            loop {
                let left = refresh.saturating_sub(started.elapsed());
                if left.is_zero() || state.stop.load(Ordering::SeqCst) {
                    break;
                }
                if pubsub.set_read_timeout(Some(left)).is_err() {
                    broken = true;
                    break;
                }
                match pubsub.get_message() {
                    Ok(message) => {
                        if let Some(id) = message
                            .get_payload::<String>()
                            .ok()
                            .and_then(|hex| RevocationId::from_hex(&hex))
                        {
                            if let Ok(mut ids) = state.ids.write() {
                                ids.insert(id);
                            }
                        }
                    }
                    Err(e) if e.is_timeout() => break,
                    Err(_) => {
                        broken = true;
                        break;
                    }
                }
            }
        } else {
            thread::sleep(refresh.saturating_sub(started.elapsed()));
        }
        if broken {
            subscription = None;
            thread::sleep(refresh.saturating_sub(started.elapsed()));
        }
    }
}

fn subscribe(redis: &Redis, channel: &str) -> Option<redis::Connection> {
    let timeout = redis.config().timeout;
    let mut con = redis
        .shared
        .client
        .get_connection_with_timeout(timeout)
        .ok()?;
    con.set_write_timeout(Some(timeout)).ok()?;
    con.set_read_timeout(Some(timeout)).ok()?;
    con.as_pubsub().subscribe(channel).ok()?;
    Some(con)
}

impl RevocationStore for RedisRevocations {
    fn is_revoked(&self, id: &RevocationId) -> bool {
        // A poisoned lock answers revoked: fail closed.
        self.state.ids.read().map_or(true, |ids| ids.contains(id))
    }

    fn revoke(&self, id: RevocationId) -> Result<(), Error> {
        // Kept locally first: refused here at once, and written back to Redis by the next
        // full read if Redis cannot be reached now.
        self.state
            .ids
            .write()
            .map_err(|_| Error::Internal("the local copy of the revocations is unusable".into()))?
            .insert(id.clone());
        let key = self.redis.config().key(&["revoked"]);
        let channel = self.redis.config().key(&["revocations"]);
        let hex = id.to_string();
        self.redis
            .with(|con| {
                redis::pipe()
                    .atomic()
                    .cmd("SADD")
                    .arg(&key)
                    .arg(&hex)
                    .ignore()
                    .cmd("PUBLISH")
                    .arg(&channel)
                    .arg(&hex)
                    .ignore()
                    .query::<()>(con)
            })
            .map_err(|e| {
                Error::Revocation(format!(
                    "revoked here, but not yet shared with the other replicas ({e}); it is written to Redis when Redis is back"
                ))
            })
    }

    fn freshness(&self) -> Result<(), StoreError> {
        let allowed = self.redis.config().revocation_staleness;
        match self.age() {
            Some(age) if age <= allowed => Ok(()),
            Some(age) => Err(StoreError::Unreachable(format!(
                "the local copy of the revocations in Redis at {} was last brought up to date {} ms ago, more than the {} ms allowed",
                self.redis.config().shown_url(),
                age.as_millis(),
                allowed.as_millis()
            ))),
            None => Err(StoreError::Unreachable(format!(
                "the revocations in Redis at {} have not been read yet",
                self.redis.config().shown_url()
            ))),
        }
    }
}

impl Redis {
    /// The revocation store, with its local copy kept up to date by a background thread
    /// ([`AuthorizerBuilder::revocations`](valet::AuthorizerBuilder::revocations)). The
    /// first full read is tried at once; Redis being down is not an error here (decisions
    /// are denied until the copy is current).
    pub fn revocation_store(&self) -> Result<RedisRevocations, RedisError> {
        RedisRevocations::start(self.clone())
    }
}
