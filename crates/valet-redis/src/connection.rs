//! The pooled connections to Redis, each call under the configured time limit.

use std::sync::Arc;
use std::time::Duration;

use crate::config::RedisConfig;

/// Why Redis could not be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RedisError {
    /// The URL cannot be read.
    #[error("`{url}` is not a Redis URL: {problem}: write it like `redis://127.0.0.1:6379/`")]
    Url {
        /// The URL, password hidden.
        url: String,
        /// What is wrong.
        problem: String,
    },
    /// Redis did not answer, or refused the call.
    #[error("Redis at {url} cannot be used: {problem}")]
    Unreachable {
        /// The URL, password hidden.
        url: String,
        /// What went wrong.
        problem: String,
    },
    /// Redis answered what no store writes.
    #[error("Redis at {url} answered what Valet does not expect: {problem}")]
    Unexpected {
        /// The URL, password hidden.
        url: String,
        /// What was answered.
        problem: String,
    },
}

/// Opens connections with a time limit on connecting, reading and writing.
#[derive(Debug)]
struct Manager {
    client: redis::Client,
    timeout: Duration,
}

impl r2d2::ManageConnection for Manager {
    type Connection = redis::Connection;
    type Error = redis::RedisError;

    fn connect(&self) -> Result<redis::Connection, redis::RedisError> {
        let con = self.client.get_connection_with_timeout(self.timeout)?;
        con.set_read_timeout(Some(self.timeout))?;
        con.set_write_timeout(Some(self.timeout))?;
        Ok(con)
    }

    fn is_valid(&self, con: &mut redis::Connection) -> Result<(), redis::RedisError> {
        redis::cmd("PING").query::<String>(con).map(|_| ())
    }

    fn has_broken(&self, con: &mut redis::Connection) -> bool {
        !redis::ConnectionLike::is_open(con)
    }
}

/// A handle on one Redis shared by the replicas: the stores are made from it. Cheap to
/// clone; the stores share its pool of connections.
#[derive(Clone)]
pub struct Redis {
    pub(crate) shared: Arc<Shared>,
}

pub(crate) struct Shared {
    pub(crate) config: RedisConfig,
    pool: r2d2::Pool<Manager>,
    manager: Manager,
    pub(crate) client: redis::Client,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis")
            .field("url", &self.shared.config.shown_url())
            .field("prefix", &self.shared.config.prefix)
            .finish_non_exhaustive()
    }
}

impl Redis {
    /// A handle on Redis at the configured URL. Nothing is sent yet: Redis may be down
    /// when a replica starts; calls fail (and decisions are denies) until it is up.
    pub fn connect(config: RedisConfig) -> Result<Redis, RedisError> {
        let client = redis::Client::open(config.url.as_str()).map_err(|e| RedisError::Url {
            url: config.shown_url(),
            problem: e.to_string(),
        })?;
        let pool = r2d2::Pool::builder()
            .max_size(config.pool_size)
            .min_idle(Some(0))
            .connection_timeout(config.timeout)
            .test_on_check_out(false)
            .error_handler(Box::new(r2d2::NopErrorHandler))
            .build_unchecked(Manager {
                client: client.clone(),
                timeout: config.timeout,
            });
        let manager = Manager {
            client: client.clone(),
            timeout: config.timeout,
        };
        Ok(Redis {
            shared: Arc::new(Shared {
                config,
                pool,
                manager,
                client,
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &RedisConfig {
        &self.shared.config
    }

    /// Runs `f` on a pooled connection. A pooled connection that Redis closed (a restart)
    /// is dropped and `f` tried once more on a new one: every call is idempotent or
    /// atomic, and was not applied when the connection was found closed.
    pub(crate) fn with<T>(
        &self,
        mut f: impl FnMut(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Result<T, RedisError> {
        let mut con = self.shared.pool.get().map_err(|e| self.unreachable(&e))?;
        match f(&mut con) {
            Ok(v) => Ok(v),
            Err(e) if !e.is_timeout() && (e.is_connection_dropped() || e.is_io_error()) => {
                // Closed: the pool discards it when it is dropped (`has_broken`).
                drop(con);
                let mut fresh = r2d2::ManageConnection::connect(&self.shared.manager)
                    .map_err(|e| self.unreachable(&e))?;
                f(&mut fresh).map_err(|e| self.unreachable(&e))
            }
            Err(e) => Err(self.unreachable(&e)),
        }
    }

    pub(crate) fn unreachable(&self, e: &dyn std::fmt::Display) -> RedisError {
        RedisError::Unreachable {
            url: self.shared.config.shown_url(),
            problem: e.to_string(),
        }
    }

    pub(crate) fn unexpected(&self, what: impl Into<String>) -> RedisError {
        RedisError::Unexpected {
            url: self.shared.config.shown_url(),
            problem: what.into(),
        }
    }
}
