//! The stores an authorizer shares with its replicas: used proofs, spent approvals and
//! revocations. [`stores`] is the one place their backend is chosen.

use std::sync::Arc;

use valet::{ApprovalStore, AuthorizerBuilder, FileRevocations, ReplayStore, RevocationStore};
use valet_redis::{Redis, RedisConfig};

use crate::audit::Purpose;
use crate::config::Config;
use crate::error::{io_reason, Problem};

/// The stores chosen for an authorizer; the defaults (used proofs and spent approvals in
/// this process's memory, no revocations) where none is.
#[derive(Default)]
pub(crate) struct Stores {
    revocations: Option<Arc<dyn RevocationStore>>,
    approvals: Option<Arc<dyn ApprovalStore>>,
    replay: Option<Arc<dyn ReplayStore>>,
    replica: Option<String>,
}

impl Stores {
    /// Gives the authorizer these stores.
    pub fn apply(self, mut builder: AuthorizerBuilder) -> AuthorizerBuilder {
        if let Some(r) = self.revocations {
            builder = builder.revocations(r);
        }
        if let Some(a) = self.approvals {
            builder = builder.approval_store(a);
        }
        if let Some(r) = self.replay {
            builder = builder.replay_store(r);
        }
        if let Some(name) = self.replica {
            builder = builder.replica(name);
        }
        builder
    }
}

/// This process's name among replicas: the host name and the process id.
fn default_replica() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into());
    format!("{host}:{}", std::process::id())
}

/// Builds the stores the config asks for: the `[redis]` section's, else a revocation list
/// file (`trust.revocation_list`) and used proofs and spent approvals in memory. A store
/// that cannot be opened is a problem at the key that names it. Checking a config opens
/// no connection and starts nothing.
pub(crate) fn stores(
    config: &Config,
    purpose: Purpose,
    problems: &mut Vec<Problem>,
) -> Option<Stores> {
    if let Some(redis) = config.redis() {
        if let Some(list) = &config.revocation_list {
            problems.push(Problem::error(
                list.at.clone(),
                "`trust.revocation_list` and `[redis]` both say where revocations are kept: remove the list (with `[redis]`, revoke in Redis with `RevocationStore::revoke` on a `valet_redis` revocation store of the same `key_prefix`: `valet revoke` writes list files only) or the `[redis]` section",
            ));
            return None;
        }
        let handle = match Redis::connect(
            RedisConfig::new(redis.url())
                .prefix(redis.key_prefix())
                .timeout(redis.timeout()),
        ) {
            Ok(h) => h,
            Err(e) => {
                problems.push(Problem::error(redis.location().cloned(), e.to_string()));
                return None;
            }
        };
        if purpose == Purpose::Check {
            return Some(Stores::default());
        }
        let revocations = match handle.revocation_store() {
            Ok(r) => r,
            Err(e) => {
                problems.push(Problem::error(redis.location().cloned(), e.to_string()));
                return None;
            }
        };
        return Some(Stores {
            revocations: Some(Arc::new(revocations)),
            approvals: Some(Arc::new(handle.approval_store())),
            replay: Some(Arc::new(handle.replay_store())),
            replica: Some(redis.replica().map_or_else(default_replica, str::to_owned)),
        });
    }
    let mut stores = Stores::default();
    if let Some(list) = &config.revocation_list {
        if !list.path.exists() {
            problems.push(Problem::warning(
                list.at.clone(),
                format!(
                    "the revocation list `{}` does not exist: it is read as empty; create it with `valet revoke`, or check the path",
                    list.path.display()
                ),
            ));
        }
        match FileRevocations::open(&list.path) {
            Ok(r) => stores.revocations = Some(Arc::new(r)),
            Err(e) => {
                let reason = match &e {
                    valet::Error::Io { source, .. } => io_reason(source),
                    other => other.to_string(),
                };
                problems.push(Problem::error(
                    list.at.clone(),
                    format!(
                        "cannot read the revocation list `{}`: {reason}: give a file of hex revocation ids, one per line, as `valet revoke` writes it",
                        list.path.display()
                    ),
                ));
                return None;
            }
        }
    }
    Some(stores)
}
