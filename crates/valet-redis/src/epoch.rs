//! The epoch: when the memory Redis holds began. A restart that lost it makes the next call
//! write a new one, and what could have been recorded before it is refused.

use crate::connection::{Redis, RedisError};

/// Records `key` (for `ttl` seconds) unless it is already recorded, in one atomic step with
/// reading the epoch (and writing a new one, begun `now`, when Redis has none).
const TAKE_ONCE: &str = r"
local epoch = redis.call('GET', KEYS[1])
if not epoch then
  redis.call('SET', KEYS[1], ARGV[2])
  epoch = ARGV[2]
end
if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[1]) then
  return {1, epoch}
end
return {0, epoch}
";

/// What [`take_once`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Taken {
    /// Whether the key was not recorded before.
    pub(crate) first: bool,
    /// When the memory Redis holds began, Unix seconds.
    pub(crate) since: u64,
}

/// Records `key` for `ttl` seconds unless it is recorded already; `now` is the verifier's
/// clock, Unix seconds.
pub(crate) fn take_once(redis: &Redis, key: &str, ttl: u64, now: u64) -> Result<Taken, RedisError> {
    let config = &redis.shared.config;
    let epoch_key = config.key(&["epoch"]);
    let mut nonce = [0u8; 8];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut nonce);
    let candidate = format!("{now}:{}", hex::encode(nonce));
    let script = redis::Script::new(TAKE_ONCE);
    let (first, epoch): (i64, String) = redis.with(|con| {
        script
            .key(&epoch_key)
            .key(key)
            .arg(ttl.max(1))
            .arg(&candidate)
            .invoke(con)
    })?;
    let since = epoch
        .split_once(':')
        .and_then(|(t, _)| t.parse::<u64>().ok())
        .ok_or_else(|| redis.unexpected(format!("`{epoch_key}` holds `{epoch}`, not an epoch")))?;
    Ok(Taken {
        first: first == 1,
        since,
    })
}
