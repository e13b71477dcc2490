//! How to reach Redis, and the time limits of the stores.

use std::time::Duration;

use valet::DEFAULT_MAX_APPROVAL_LIFETIME;

/// Where Redis is, how keys are named, and the time limits every call keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedisConfig {
    pub(crate) url: String,
    pub(crate) prefix: String,
    pub(crate) timeout: Duration,
    pub(crate) pool_size: u32,
    pub(crate) revocation_refresh: Duration,
    pub(crate) revocation_staleness: Duration,
    pub(crate) max_approval_lifetime: Duration,
}

impl RedisConfig {
    /// Redis at `url` (`redis://host:port/db`, `rediss://` for TLS if the `redis` crate is
    /// built with it), with the defaults below.
    pub fn new(url: impl Into<String>) -> Self {
        RedisConfig {
            url: url.into(),
            prefix: "valet".into(),
            timeout: Duration::from_millis(50),
            pool_size: 16,
            revocation_refresh: Duration::from_millis(250),
            revocation_staleness: Duration::from_secs(1),
            max_approval_lifetime: DEFAULT_MAX_APPROVAL_LIFETIME,
        }
    }

    /// The start of every key and of the channel (default `valet`): resource servers
    /// sharing one Redis give each its own.
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The longest one Redis call may take, connecting included (default 50 ms). Keep it
    /// well under the request's own deadline: a call that takes longer fails, and the
    /// decision is a deny.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The most connections kept open (default 16).
    #[must_use]
    pub fn pool_size(mut self, size: u32) -> Self {
        self.pool_size = size.max(1);
        self
    }

    /// How often the local copy of the revocations is read in full, besides the
    /// subscription that brings each new one at once (default 250 ms).
    #[must_use]
    pub fn revocation_refresh(mut self, every: Duration) -> Self {
        self.revocation_refresh = every.max(Duration::from_millis(10));
        self
    }

    /// How old the local copy of the revocations may be before every decision is a deny
    /// (default 1 s): the longest a revocation made elsewhere can go unseen.
    #[must_use]
    pub fn revocation_staleness(mut self, max: Duration) -> Self {
        self.revocation_staleness = max;
        self
    }

    /// The longest lifetime an approval may have (default
    /// [`DEFAULT_MAX_APPROVAL_LIFETIME`], the authorizer's). After Redis lost its memory,
    /// an approval that could have been signed before is refused.
    #[must_use]
    pub fn max_approval_lifetime(mut self, max: Duration) -> Self {
        self.max_approval_lifetime = max;
        self
    }

    /// The URL with its password, if any, hidden: for messages and logs.
    pub fn shown_url(&self) -> String {
        match (self.url.find("://"), self.url.rfind('@')) {
            (Some(scheme), Some(at)) if at > scheme => {
                let (head, _) = self.url.split_at(scheme.saturating_add(3));
                let (_, tail) = self.url.split_at(at);
                format!("{head}***{tail}")
            }
            _ => self.url.clone(),
        }
    }

    pub(crate) fn key(&self, parts: &[&str]) -> String {
        let mut key = self.prefix.clone();
        for p in parts {
            key.push(':');
            key.push_str(p);
        }
        key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(
            RedisConfig::new("redis://:hunter2@db.example:6379/0").shown_url(),
            "redis://***@db.example:6379/0"
        );
        assert_eq!(
            RedisConfig::new("redis://127.0.0.1:6379/").shown_url(),
            "redis://127.0.0.1:6379/"
        );
    }

    #[test]
    fn keys_are_namespaced() {
        let c = RedisConfig::new("redis://x/").prefix("billing");
        assert_eq!(c.key(&["proof", "ab"]), "billing:proof:ab");
    }
}
