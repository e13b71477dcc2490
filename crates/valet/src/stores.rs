//! Revocation stores, approval stores, audit sinks and clocks: the parts of an
//! [`Authorizer`](crate::Authorizer) a deployment chooses.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use valet_token::{Approval, RevocationId};

use crate::audit::AuditRecord;
use crate::error::Error;

/// The default cap on revocation ids held by one store.
pub const DEFAULT_MAX_REVOCATIONS: usize = 1_000_000;

/// Where revoked ids are kept. Checked on every decision; lookups are O(1).
pub trait RevocationStore: Send + Sync {
    /// Whether `id` is revoked, by what the store knows now.
    fn is_revoked(&self, id: &RevocationId) -> bool;
    /// Revokes `id`.
    fn revoke(&self, id: RevocationId) -> Result<(), Error>;
    /// Whether what the store knows is current enough to decide on: a store that keeps a
    /// local copy of a shared set answers an error when its copy is older than it may
    /// be. Checked before every decision; an error makes the decision a deny with the
    /// error as its reason (fail closed). The default: always current.
    fn freshness(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// Revocations held in memory.
#[derive(Debug)]
pub struct MemoryRevocations {
    ids: RwLock<HashSet<RevocationId>>,
    max: usize,
}

impl Default for MemoryRevocations {
    fn default() -> Self {
        MemoryRevocations {
            ids: RwLock::new(HashSet::new()),
            max: DEFAULT_MAX_REVOCATIONS,
        }
    }
}

impl MemoryRevocations {
    /// An empty store with the default cap.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store holding at most `max` ids.
    pub fn with_capacity_limit(max: usize) -> Self {
        MemoryRevocations {
            ids: RwLock::new(HashSet::new()),
            max,
        }
    }

    /// How many ids are revoked.
    pub fn len(&self) -> usize {
        self.ids.read().map_or(0, |s| s.len())
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl RevocationStore for MemoryRevocations {
    fn is_revoked(&self, id: &RevocationId) -> bool {
        // A poisoned lock means an earlier writer panicked: treat everything as revoked.
        self.ids.read().map_or(true, |s| s.contains(id))
    }

    fn revoke(&self, id: RevocationId) -> Result<(), Error> {
        let mut ids = self
            .ids
            .write()
            .map_err(|_| Error::Internal("the revocation store is unusable".into()))?;
        if ids.len() >= self.max && !ids.contains(&id) {
            return Err(Error::Limit(format!(
                "the revocation store holds its maximum of {} ids",
                self.max
            )));
        }
        ids.insert(id);
        Ok(())
    }
}

/// Revocations kept in a file, one hex revocation id per line (`#` comments and blank lines
/// ignored). Read when opened and again on [`reload`](FileRevocations::reload); `revoke`
/// appends a line.
#[derive(Debug)]
pub struct FileRevocations {
    path: PathBuf,
    memory: RwLock<HashSet<RevocationId>>,
    max: usize,
}

impl FileRevocations {
    /// Opens (or starts) the list at `path`. A missing file is an empty list.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        Self::open_with_limit(path, DEFAULT_MAX_REVOCATIONS)
    }

    /// Opens the list, refusing one with more than `max` ids.
    pub fn open_with_limit(path: impl AsRef<Path>, max: usize) -> Result<Self, Error> {
        let store = FileRevocations {
            path: path.as_ref().to_path_buf(),
            memory: RwLock::new(HashSet::new()),
            max,
        };
        store.reload()?;
        Ok(store)
    }

    /// Re-reads the file. On error the previous list stays in force.
    pub fn reload(&self) -> Result<(), Error> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => {
                return Err(Error::Io {
                    path: self.path.display().to_string(),
                    source,
                })
            }
        };
        let mut ids = HashSet::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let id = RevocationId::from_hex(line).ok_or_else(|| {
                Error::Revocation(format!(
                    "{}:{}: `{line}` is not a hex revocation id",
                    self.path.display(),
                    n + 1
                ))
            })?;
            ids.insert(id);
            if ids.len() > self.max {
                return Err(Error::Limit(format!(
                    "{} holds more than {} revocation ids",
                    self.path.display(),
                    self.max
                )));
            }
        }
        let mut memory = self
            .memory
            .write()
            .map_err(|_| Error::Internal("the revocation store is unusable".into()))?;
        *memory = ids;
        Ok(())
    }

    /// Appends an id to `path` without loading it (what `valet revoke` does).
    pub fn append(path: impl AsRef<Path>, id: &RevocationId) -> Result<(), Error> {
        let path = path.as_ref();
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| Error::Io {
                path: path.display().to_string(),
                source,
            })?;
        writeln!(file, "{id}").map_err(|source| Error::Io {
            path: path.display().to_string(),
            source,
        })
    }
}

impl RevocationStore for FileRevocations {
    fn is_revoked(&self, id: &RevocationId) -> bool {
        self.memory.read().map_or(true, |s| s.contains(id))
    }

    fn revoke(&self, id: RevocationId) -> Result<(), Error> {
        {
            let memory = self
                .memory
                .read()
                .map_err(|_| Error::Internal("the revocation store is unusable".into()))?;
            if memory.contains(&id) {
                return Ok(());
            }
            if memory.len() >= self.max {
                return Err(Error::Limit(format!(
                    "{} holds its maximum of {} revocation ids",
                    self.path.display(),
                    self.max
                )));
            }
        }
        Self::append(&self.path, &id)?;
        self.memory
            .write()
            .map_err(|_| Error::Internal("the revocation store is unusable".into()))?
            .insert(id);
        Ok(())
    }
}

/// Adapts a store to the token layer's check.
pub(crate) struct StoreCheck<'a>(pub &'a dyn RevocationStore);

impl valet_token::RevocationCheck for StoreCheck<'_> {
    fn is_revoked(&self, id: &RevocationId) -> bool {
        self.0.is_revoked(id)
    }
}

/// The default cap on unexpired approvals one [`MemoryApprovals`] holds.
pub const DEFAULT_MAX_APPROVALS: usize = 10_000;

/// What an [`ApprovalStore`] records of a spent approval: [`Approval::id`], the SHA-256 of
/// the approver's key and the signing input. Written as 64 lowercase hex digits (a key
/// for a shared store).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ApprovalId([u8; 32]);

impl ApprovalId {
    /// The id of `approval`.
    pub fn of(approval: &Approval) -> Self {
        ApprovalId(approval.id())
    }

    /// The digest.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for ApprovalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for ApprovalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApprovalId({self})")
    }
}

/// What [`ApprovalStore::spend`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Spent {
    /// Not spent before: it is recorded as spent now, and the approval may be used.
    First,
    /// Spent before (by this authorizer or another sharing the store): refuse it.
    Again,
}

/// Why an [`ApprovalStore`] could not answer. The authorizer fails closed: the request is
/// denied, and the approval stays unspent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store could not be reached or refused the operation.
    #[error("{0}")]
    Unreachable(String),
    /// The store did not answer within its time limit.
    #[error("it did not answer within {} ms", .0.as_millis())]
    Timeout(Duration),
    /// The store holds its maximum of unexpired approvals.
    #[error("it holds its maximum of {0} unexpired approvals")]
    Full(usize),
}

/// Where spent approvals are recorded, so that each approval allows one request, across
/// every authorizer sharing the store (replicas, processes).
///
/// The call is synchronous and on the decision's path: a remote store (Redis, a database)
/// must bound its own time, answering [`StoreError::Timeout`] when its deadline passes,
/// and must test and record in one atomic step (as Redis' `SET key 1 NX EXAT expiry`), so
/// that two authorizers racing on one approval see one [`Spent::First`].
pub trait ApprovalStore: Send + Sync {
    /// Records `id` as spent until `expires_at` (the approval's expiry; after it the
    /// approval is refused as expired, so the record may go) unless it is already, at
    /// `now` by the authorizer's clock.
    fn spend(
        &self,
        id: &ApprovalId,
        expires_at: SystemTime,
        now: SystemTime,
    ) -> Result<Spent, StoreError>;
}

/// Spent approvals held in memory, by one process: the default. Each is kept until its
/// approval expires; at most [`DEFAULT_MAX_APPROVALS`] unexpired ones (a full store refuses
/// new approvals rather than forget spent ones).
#[derive(Debug)]
pub struct MemoryApprovals {
    spent: Mutex<HashMap<ApprovalId, u64>>,
    max: usize,
}

impl Default for MemoryApprovals {
    fn default() -> Self {
        Self::with_capacity_limit(DEFAULT_MAX_APPROVALS)
    }
}

impl MemoryApprovals {
    /// An empty store with the default cap.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store holding at most `max` unexpired approvals.
    pub fn with_capacity_limit(max: usize) -> Self {
        MemoryApprovals {
            spent: Mutex::new(HashMap::new()),
            max,
        }
    }

    /// How many spent approvals are held (expired ones included until they are pruned).
    pub fn len(&self) -> usize {
        self.spent.lock().map_or(0, |s| s.len())
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl ApprovalStore for MemoryApprovals {
    fn spend(
        &self,
        id: &ApprovalId,
        expires_at: SystemTime,
        now: SystemTime,
    ) -> Result<Spent, StoreError> {
        let (expires_at, now) = (unix(expires_at), unix(now));
        let mut spent = self
            .spent
            .lock()
            .map_err(|_| StoreError::Unreachable("the memory store is unusable".into()))?;
        if spent.get(id).is_some_and(|exp| *exp >= now) {
            return Ok(Spent::Again);
        }
        if spent.len() >= self.max {
            spent.retain(|_, exp| *exp >= now);
            if spent.len() >= self.max {
                return Err(StoreError::Full(self.max));
            }
        }
        spent.insert(*id, expires_at);
        Ok(Spent::First)
    }
}

/// Where audit records go. A sink that fails turns an allow into a deny.
pub trait AuditSink: Send + Sync {
    /// Records one decision.
    fn record(&self, record: &AuditRecord) -> Result<(), Error>;
}

/// Discards records.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoAudit;

impl AuditSink for NoAudit {
    fn record(&self, _: &AuditRecord) -> Result<(), Error> {
        Ok(())
    }
}

/// Keeps records in memory (tests, small tools).
#[derive(Debug, Default)]
pub struct MemoryAudit {
    records: Mutex<Vec<AuditRecord>>,
}

impl MemoryAudit {
    /// An empty sink.
    pub fn new() -> Self {
        Self::default()
    }

    /// The records so far.
    pub fn records(&self) -> Vec<AuditRecord> {
        self.records.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

impl AuditSink for MemoryAudit {
    fn record(&self, record: &AuditRecord) -> Result<(), Error> {
        self.records
            .lock()
            .map_err(|_| Error::Internal("the audit sink is unusable".into()))?
            .push(record.clone());
        Ok(())
    }
}

/// Appends one JSON line per decision to a file.
#[derive(Debug)]
pub struct JsonLinesAudit {
    path: PathBuf,
    file: Mutex<std::fs::File>,
}

impl JsonLinesAudit {
    /// Opens (creating) the file for appending.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref().to_path_buf();
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|source| Error::Io {
                path: path.display().to_string(),
                source,
            })?;
        Ok(JsonLinesAudit {
            path,
            file: Mutex::new(file),
        })
    }
}

impl AuditSink for JsonLinesAudit {
    fn record(&self, record: &AuditRecord) -> Result<(), Error> {
        let mut line = serde_json::to_vec(record)
            .map_err(|e| Error::Internal(format!("cannot encode the audit record: {e}")))?;
        line.push(b'\n');
        let mut file = self
            .file
            .lock()
            .map_err(|_| Error::Internal("the audit sink is unusable".into()))?;
        // One write per line, so concurrent writers never interleave within a record.
        file.write_all(&line).map_err(|source| Error::Io {
            path: self.path.display().to_string(),
            source,
        })
    }
}

/// The verifier's clock. Time is never taken from the request.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> SystemTime;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that says what it is told (tests, replay, `--now`).
#[derive(Debug)]
pub struct FixedClock(AtomicU64);

impl FixedClock {
    /// A clock stopped at `t` (whole seconds).
    pub fn new(t: SystemTime) -> Self {
        FixedClock(AtomicU64::new(
            t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        ))
    }

    /// Moves the clock.
    pub fn set(&self, t: SystemTime) {
        self.0.store(
            t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
            Ordering::SeqCst,
        );
    }

    /// Moves the clock forward.
    pub fn advance(&self, d: Duration) {
        self.0.fetch_add(d.as_secs(), Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.0.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn memory_approvals_spend_once_expire_and_fail_closed_when_full() {
        let store = MemoryApprovals::with_capacity_limit(2);
        let (a, b, c) = (
            ApprovalId([1; 32]),
            ApprovalId([2; 32]),
            ApprovalId([3; 32]),
        );
        assert_eq!(store.spend(&a, at(100), at(10)), Ok(Spent::First));
        assert_eq!(store.spend(&a, at(100), at(10)), Ok(Spent::Again));
        assert_eq!(store.spend(&b, at(20), at(10)), Ok(Spent::First));
        assert_eq!(store.spend(&c, at(100), at(10)), Err(StoreError::Full(2)));
        // Once `b`'s approval has expired its room is reused; `a` is still spent.
        assert_eq!(store.spend(&c, at(100), at(21)), Ok(Spent::First));
        assert_eq!(store.spend(&a, at(100), at(21)), Ok(Spent::Again));
        assert_eq!(store.len(), 2);
        assert_eq!(a.to_string(), "01".repeat(32));
    }
}
