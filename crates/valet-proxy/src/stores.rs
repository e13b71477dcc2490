//! The stores an authorizer shares with its replicas: spent approvals and revocations.
//! [`stores`] is the one place their backend is chosen: the Redis stores plug in there.

use std::sync::Arc;

use valet::{ApprovalStore, AuthorizerBuilder, FileRevocations, RevocationStore};

use crate::config::Config;
use crate::error::{io_reason, Problem};

/// The stores chosen for an authorizer; the defaults (spent approvals in this process's
/// memory, no revocations) where none is.
#[derive(Default)]
pub(crate) struct Stores {
    revocations: Option<Arc<dyn RevocationStore>>,
    approvals: Option<Arc<dyn ApprovalStore>>,
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
        builder
    }
}

/// The message for a `[redis]` section in a build without the Redis stores.
pub(crate) const REDIS_UNAVAILABLE: &str = "Redis stores are not available in this build: remove the `[redis]` section to keep spent approvals in this process's memory (and revocations in `trust.revocation_list`), or run a build that has them";

/// Builds the stores the config asks for: the `[redis]` section's, else a revocation list
/// file (`trust.revocation_list`) and spent approvals in memory. A store that cannot be
/// opened is a problem at the key that names it.
pub(crate) fn stores(config: &Config, problems: &mut Vec<Problem>) -> Option<Stores> {
    if let Some(redis) = config.redis() {
        // Wiring point: open the Redis revocation and approval stores from
        // `redis.url()` and `redis.key_prefix()` here.
        problems.push(Problem::error(redis.location().cloned(), REDIS_UNAVAILABLE));
        return None;
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
