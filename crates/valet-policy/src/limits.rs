//! Bounds on a policy directory and on the work one request may take.

use std::time::Duration;

/// Bounds on what a policy directory may hold, checked before anything is parsed, and on
/// the work one request may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PolicyLimits {
    /// The most `.cedar` files in the directory. Default 1024.
    pub max_files: usize,
    /// The largest size of one file (policy or schema), in bytes. Default 1 MiB.
    pub max_file_bytes: u64,
    /// The most resources one request may name (its `identifier` and `locations`, each
    /// judged). Default 32.
    pub max_resources: usize,
    /// The most Cedar evaluations one request may take: the steps of its delegation chain
    /// times its resources. Default 128 (a few milliseconds).
    pub max_evaluations: usize,
    /// The longest an entity provider may take to answer one request. An answer after it
    /// is a deny. Default 100 ms.
    pub entity_timeout: Duration,
    /// The most entities an entity provider may give for one request. Default 10 000.
    pub max_entities: usize,
}

impl Default for PolicyLimits {
    fn default() -> Self {
        PolicyLimits {
            max_files: 1024,
            max_file_bytes: 1024 * 1024,
            max_resources: 32,
            max_evaluations: 128,
            entity_timeout: Duration::from_millis(100),
            max_entities: 10_000,
        }
    }
}
