//! The stores shared by every replica of a resource server, on Redis: used proofs of
//! possession, spent approvals and revocations, given to an `Authorizer` with `stores=`.

use std::sync::Arc;
use std::time::Duration;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use valet::{AuthorizerBuilder, RevocationStore};
use valet_redis::{Redis, RedisConfig};

use crate::convert::to_duration;
use crate::errors::RedisError;

/// The longest one Redis call may take when `timeout` is not given, as `RedisConfig`'s.
const DEFAULT_TIMEOUT: Duration = Duration::from_millis(50);

/// Where the stores of several replicas live: one Redis, with every key under `prefix`.
/// Give it to each replica's `Authorizer(..., stores=...)`: a proof of possession accepted
/// by one replica is refused by every other, an approval is spent once between them, and a
/// revocation made through one is refused by all within a second.
///
/// Nothing is sent to Redis when it is made: Redis may be down when a replica starts.
/// Decisions that need it are denies that say the store is unreachable until it answers.
#[pyclass(module = "valet", frozen)]
pub struct RedisStores {
    config: RedisConfig,
    // `RedisConfig` keeps these to itself: kept here too, to show them.
    prefix: String,
    timeout: Duration,
    replica: Option<String>,
}

/// What an `Authorizer` is given by its `RedisStores`: the builder with the replay and
/// approval stores and the replica name, and the revocation store to give it.
pub(crate) struct Applied {
    pub builder: AuthorizerBuilder,
    pub revocations: Arc<dyn RevocationStore>,
}

impl RedisStores {
    /// Gives `builder` the replay and approval stores and the replica name, and makes the
    /// revocation store (which the caller gives `builder`, as it does any other). The
    /// stores refuse, after Redis lost its memory, an approval that could have been signed
    /// before: they are told the authorizer's `max_approval_lifetime`. Reads the
    /// revocations once, without the GIL; Redis being down is not an error here.
    pub(crate) fn apply(
        &self,
        py: Python<'_>,
        builder: AuthorizerBuilder,
        max_approval_lifetime: Duration,
    ) -> PyResult<Applied> {
        let config = self
            .config
            .clone()
            .max_approval_lifetime(max_approval_lifetime);
        let redis = Redis::connect(config).map_err(|e| RedisError::new_err(e.to_string()))?;
        let revocations = py
            .detach(|| redis.revocation_store())
            .map_err(|e| RedisError::new_err(e.to_string()))?;
        let mut builder = builder
            .replay_store(Arc::new(redis.replay_store()))
            .approval_store(Arc::new(redis.approval_store()));
        if let Some(name) = &self.replica {
            builder = builder.replica(name.clone());
        }
        Ok(Applied {
            builder,
            revocations: Arc::new(revocations),
        })
    }
}

/// Whether `text` is a usable key prefix: not empty, no spaces or control characters.
fn plain(text: &str) -> bool {
    !text.is_empty() && !text.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[pymethods]
impl RedisStores {
    /// The stores in Redis at `url` (`redis://host:port/db`, `redis://:password@host:port/`).
    ///
    /// - `prefix`: the start of every key and of the revocation channel (default
    ///   `"valet"`): resource servers sharing one Redis give each its own, and replicas of
    ///   one resource server the same;
    /// - `timeout`: the longest one Redis call may take, connecting included (seconds or a
    ///   `timedelta`, default 0.05): a call that takes longer is a deny;
    /// - `replica`: this replica's name, written in every audit record it makes (default:
    ///   none).
    ///
    /// Raises `RedisError` if the URL is not a Redis URL or an option cannot be used.
    #[new]
    #[pyo3(
        signature = (url, *, prefix = "valet".to_owned(), timeout = None, replica = None),
        text_signature = "(url, *, prefix='valet', timeout=None, replica=None)"
    )]
    fn new(
        url: String,
        prefix: String,
        timeout: Option<Bound<'_, PyAny>>,
        replica: Option<String>,
    ) -> PyResult<Self> {
        if !plain(&prefix) {
            return Err(RedisError::new_err(format!(
                "the Redis `prefix` `{}` is empty or holds spaces or control characters: write one like `valet` or `billing`",
                prefix.escape_debug()
            )));
        }
        if let Some(name) = &replica {
            if name.is_empty() || name.chars().any(char::is_control) {
                return Err(RedisError::new_err(format!(
                    "the `replica` name `{}` is empty or holds control characters: write one like `api-1`",
                    name.escape_debug()
                )));
            }
        }
        let mut config = RedisConfig::new(url).prefix(prefix.clone());
        let mut limit = DEFAULT_TIMEOUT;
        if let Some(t) = timeout.filter(|t| !t.is_none()) {
            let py = t.py();
            limit = to_duration(&t, "timeout").map_err(|e| {
                if e.is_instance_of::<PyValueError>(py) {
                    RedisError::new_err(e.value(py).to_string())
                } else {
                    e
                }
            })?;
            if limit.is_zero() {
                return Err(RedisError::new_err(
                    "the Redis `timeout` is zero, which no call can keep: give the longest one Redis call may take, like `0.05` (seconds) or a `timedelta`",
                ));
            }
        }
        config = config.timeout(limit);
        // Reads the URL now (it sends nothing), so that a bad one is an error here.
        Redis::connect(config.clone()).map_err(|e| RedisError::new_err(e.to_string()))?;
        Ok(RedisStores {
            config,
            prefix,
            timeout: limit,
            replica,
        })
    }

    /// The URL, its password hidden.
    #[getter]
    fn url(&self) -> String {
        self.config.shown_url()
    }

    /// The start of every key.
    #[getter]
    fn prefix(&self) -> String {
        self.prefix.clone()
    }

    /// The longest one Redis call may take, in seconds.
    #[getter]
    fn timeout(&self) -> f64 {
        self.timeout.as_secs_f64()
    }

    /// This replica's name in audit records, if any.
    #[getter]
    fn replica(&self) -> Option<String> {
        self.replica.clone()
    }

    fn __repr__(&self) -> String {
        let replica = match &self.replica {
            Some(name) => format!(", replica={name:?}"),
            None => String::new(),
        };
        format!(
            "RedisStores({:?}, prefix={:?}, timeout={}{replica})",
            self.url(),
            self.prefix(),
            self.timeout()
        )
    }
}
