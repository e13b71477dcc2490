//! The policy store: the policies in force, shared by every request and swapped whole on
//! a reload.

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use crate::error::{Diagnostic, PolicyError};
use crate::limits::PolicyLimits;
use crate::load::load_dir;
use crate::loaded::Loaded;

/// A directory of Cedar policies and their schema, parsed and strictly validated once,
/// then shared by every request.
///
/// The store is `Send + Sync`; [`PolicyStore::reload`] swaps the whole set at once, so a
/// request sees either the old policies or the new ones, never a mix.
pub struct PolicyStore {
    dir: PathBuf,
    limits: PolicyLimits,
    current: RwLock<Arc<Loaded>>,
}

impl std::fmt::Debug for PolicyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyStore")
            .field("dir", &self.dir)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl PolicyStore {
    /// Loads every `*.cedar` file of `dir` (not its subdirectories) and its
    /// `schema.cedarschema`, with the default [`PolicyLimits`].
    pub fn load(dir: impl AsRef<Path>) -> Result<PolicyStore, PolicyError> {
        Self::load_with_limits(dir, PolicyLimits::default())
    }

    /// Loads a policy directory with the given limits.
    ///
    /// Every parse or validation problem is reported, each at its file, line and column.
    /// Validation warnings do not stop the load; they are kept in
    /// [`PolicyStore::warnings`].
    pub fn load_with_limits(
        dir: impl AsRef<Path>,
        limits: PolicyLimits,
    ) -> Result<PolicyStore, PolicyError> {
        let dir = dir.as_ref().to_path_buf();
        let loaded = load_dir(&dir, limits)?;
        Ok(PolicyStore {
            dir,
            limits,
            current: RwLock::new(Arc::new(loaded)),
        })
    }

    /// Reads the directory again and, if it loads, replaces every policy at once.
    /// On any error the policies in force stay as they were.
    pub fn reload(&self) -> Result<(), PolicyError> {
        let loaded = Arc::new(load_dir(&self.dir, self.limits)?);
        let mut guard = self.current.write().unwrap_or_else(PoisonError::into_inner);
        *guard = loaded;
        Ok(())
    }

    /// The policy directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The limits the store loads with.
    pub fn limits(&self) -> PolicyLimits {
        self.limits
    }

    /// The validation and schema warnings of the policies in force.
    pub fn warnings(&self) -> Vec<Diagnostic> {
        self.snapshot().warnings.clone()
    }

    /// The RFC 9396 details types the schema's actions take (their `@detail_type`
    /// annotations), sorted and without duplicates.
    pub fn detail_types(&self) -> Vec<String> {
        let loaded = self.snapshot();
        let mut types: Vec<String> = loaded
            .actions
            .values()
            .filter_map(|a| a.detail_type.clone())
            .collect();
        types.sort();
        types.dedup();
        types
    }

    /// The names of the schema's actions, sorted.
    pub fn action_names(&self) -> Vec<String> {
        let loaded = self.snapshot();
        let mut names: Vec<String> = loaded.actions.keys().cloned().collect();
        names.sort();
        names
    }

    /// The ids of the policies in force, sorted.
    pub fn policy_ids(&self) -> Vec<String> {
        let loaded = self.snapshot();
        let mut ids: Vec<String> = loaded
            .policies
            .policies()
            .map(|p| p.id().to_string())
            .collect();
        ids.sort();
        ids
    }

    /// The policies in force, taken under a short read lock.
    pub(crate) fn snapshot(&self) -> Arc<Loaded> {
        let guard = self.current.read().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(&guard)
    }
}
