//! Revocation: how the verifier asks whether a block's revocation id was revoked.

use std::collections::BTreeSet;

use crate::model::RevocationId;

/// Whether a revocation id has been revoked.
pub trait RevocationCheck {
    /// True when `id` is revoked.
    fn is_revoked(&self, id: &RevocationId) -> bool;
}

/// Nothing is revoked.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoRevocations;

impl RevocationCheck for NoRevocations {
    fn is_revoked(&self, _: &RevocationId) -> bool {
        false
    }
}

impl<S: std::hash::BuildHasher> RevocationCheck for std::collections::HashSet<RevocationId, S> {
    fn is_revoked(&self, id: &RevocationId) -> bool {
        self.contains(id)
    }
}

impl RevocationCheck for BTreeSet<RevocationId> {
    fn is_revoked(&self, id: &RevocationId) -> bool {
        self.contains(id)
    }
}
