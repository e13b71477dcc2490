//! The Authorizer, requests, decisions and the settable clock.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use pyo3::exceptions::PyTypeError;
use pyo3::gc::PyVisit;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString, PyTuple};
use pyo3::PyTraverseError;
use valet::danger::{DangerousAuthorizerBuilder, DangerousVerifier};
use valet::token;
use valet::{Clock as _, RevocationStore};

use crate::agent_keys::{verifying_key, VerifyingKey};
use crate::convert::{now_or_current, serialize_to_py, to_duration, to_py, to_time};
use crate::entities::Entities;
use crate::errors::{policy_error, valet_error, EntityError, ValetError};
use crate::holder::{approval, holder_proof, Approval};
use crate::keys::KeySet;
use crate::request::request_ref;
use crate::stores::RedisStores;
use crate::tokens::Token;

/// A clock that says what it is told, for tests and replays. Share one with an
/// `Authorizer` and move it with `set` or `advance`.
#[pyclass(module = "valet", frozen)]
pub struct FixedClock {
    inner: Arc<valet::FixedClock>,
}

#[pymethods]
impl FixedClock {
    /// A clock stopped at `now` (Unix seconds or an aware `datetime`).
    #[new]
    fn new(now: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(FixedClock {
            inner: Arc::new(valet::FixedClock::new(to_time(now, "now")?)),
        })
    }

    /// Moves the clock to `now` (Unix seconds or an aware `datetime`).
    fn set(&self, now: &Bound<'_, PyAny>) -> PyResult<()> {
        self.inner.set(to_time(now, "now")?);
        Ok(())
    }

    /// Moves the clock forward (seconds or a `timedelta`).
    fn advance(&self, by: &Bound<'_, PyAny>) -> PyResult<()> {
        self.inner.advance(to_duration(by, "by")?);
        Ok(())
    }

    /// The clock's time, in Unix seconds.
    fn now(&self) -> u64 {
        self.inner
            .now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }

    fn __repr__(&self) -> String {
        format!("FixedClock({})", self.now())
    }
}

/// Reads a `proof_window`: the longest age of a proof (seconds or a `timedelta`), or a
/// `(max_age, max_skew)` pair; the skew defaults to 5 s.
fn proof_window(obj: &Bound<'_, PyAny>) -> PyResult<(Duration, Duration)> {
    if let Ok(t) = obj.cast::<PyTuple>() {
        if t.len() != 2 {
            return Err(PyTypeError::new_err(
                "`proof_window` must be seconds, a timedelta, or a (max_age, max_skew) pair",
            ));
        }
        return Ok((
            to_duration(&t.get_item(0)?, "proof_window max_age")?,
            to_duration(&t.get_item(1)?, "proof_window max_skew")?,
        ));
    }
    Ok((
        to_duration(obj, "proof_window")?,
        token::HolderOptions::default().max_proof_skew,
    ))
}

/// Reads the `proof` and `approvals` arguments into what is presented beside a token.
fn presentation(
    proof: Option<&Bound<'_, PyAny>>,
    approvals: Option<&Bound<'_, PyAny>>,
) -> PyResult<valet::Presentation> {
    let mut p = valet::Presentation::new();
    if let Some(obj) = proof.filter(|o| !o.is_none()) {
        p = p.proof(holder_proof(obj)?);
    }
    if let Some(list) = approvals.filter(|o| !o.is_none()) {
        if list.is_instance_of::<PyString>() || list.cast::<Approval>().is_ok() {
            return Err(PyTypeError::new_err(
                "`approvals` must be a list of Approval (or their JSON text)",
            ));
        }
        for item in list.try_iter()? {
            p = p.approval(approval(&item?)?);
        }
    }
    Ok(p)
}

/// The answer to one request: `outcome` is `"allow"`, `"deny"` or `"needs_approval"`. A
/// deny is this value, never an exception.
#[pyclass(module = "valet", frozen)]
pub struct Decision {
    inner: Arc<valet::Decision>,
}

impl From<Arc<valet::Decision>> for Decision {
    fn from(inner: Arc<valet::Decision>) -> Self {
        Decision { inner }
    }
}

#[pymethods]
impl Decision {
    /// `"allow"`, `"deny"` or `"needs_approval"`.
    #[getter]
    fn outcome(&self) -> &'static str {
        match self.inner.outcome() {
            valet::Outcome::Allow => "allow",
            valet::Outcome::Deny => "deny",
            valet::Outcome::NeedsApproval => "needs_approval",
        }
    }

    /// Whether the request may proceed (the outcome is `"allow"`).
    #[getter]
    fn allowed(&self) -> bool {
        self.inner.allowed()
    }

    /// Why, as dicts with `layer` (`"request"`, `"token"`, `"policy"`, `"audit"`,
    /// `"approval"`), `message` and, where known, `kind` (for token reasons: `"expired"`,
    /// `"limit"`, ..., `"holder"` when a bound token comes without a valid proof of
    /// possession, `"proof"` when the proof itself is refused), `block` and `policy`.
    #[getter]
    fn reasons(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        serialize_to_py(py, &self.inner.reasons())
    }

    /// For `"needs_approval"`: what to ask the human.
    #[getter]
    fn approval(&self) -> Option<String> {
        self.inner.approval().map(str::to_owned)
    }

    /// The Cedar policies that determined the outcome, as dicts.
    #[getter]
    fn determining_policies(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        serialize_to_py(py, &self.inner.determining_policies())
    }

    /// The token's claims as a dict, when it could be read.
    #[getter]
    fn claims(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match self.inner.claims() {
            Some(c) => serialize_to_py(py, c),
            None => Ok(py.None()),
        }
    }

    /// Whether the token's signatures were checked and valid.
    #[getter]
    fn token_verified(&self) -> bool {
        self.inner.token_verified()
    }

    /// The key of the proof of possession presented (`"ed25519/<hex>"`), if any; whether it
    /// was accepted is in `reasons`.
    #[getter]
    fn proof_key(&self) -> Option<String> {
        self.inner.proof_key().map(|k| k.to_string())
    }

    /// Every signed approval presented, accepted or not, as dicts with `approver`,
    /// `expires_at`, `accepted` and, when it was not used, `refused` (why).
    #[getter]
    fn approvals(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        serialize_to_py(py, &self.inner.approvals())
    }

    /// The chain of custody: one dict per attenuation block, with `block`, `delegate`,
    /// the narrowing, `holder` (the key it binds the token to), `signed_by` (the key that
    /// signed the block) and `verified` (whether that signature was checked).
    #[getter]
    fn chain(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        serialize_to_py(py, &self.inner.audit().chain)
    }

    /// The audit record of this decision, as a dict.
    #[getter]
    fn audit(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        serialize_to_py(py, self.inner.audit())
    }

    /// The decision as a dict (the audit record is under `"audit"`).
    fn to_dict(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let mut json =
            serde_json::to_value(&self.inner).map_err(|e| ValetError::new_err(e.to_string()))?;
        let audit = serde_json::to_value(self.inner.audit())
            .map_err(|e| ValetError::new_err(e.to_string()))?;
        if let Some(obj) = json.as_object_mut() {
            obj.insert("audit".into(), audit);
        }
        to_py(py, &json)
    }

    fn __str__(&self) -> String {
        self.inner.to_string()
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let reasons: Vec<String> = self
            .inner
            .reasons()
            .iter()
            .map(ToString::to_string)
            .collect();
        let reasons = reasons.into_pyobject(py)?.repr()?;
        Ok(format!(
            "Decision(outcome='{}', reasons={reasons})",
            self.outcome()
        ))
    }
}

/// Judges requests: the token first (signatures, audience, expiry, scopes, every block's
/// limits, revocation, the holder's proof of possession), then the owner's Cedar policies. Build once and share across
/// threads: `authorize` releases the GIL while it decides.
#[pyclass(module = "valet", frozen)]
pub struct Authorizer {
    inner: Arc<valet::Authorizer>,
    revocations: Arc<dyn RevocationStore>,
    clock: Option<Py<FixedClock>>,
    entities: Option<Arc<Entities>>,
}

impl Authorizer {
    /// The Rust authorizer, shared (with a `Gate`'s layer).
    pub(crate) fn shared(&self) -> Arc<valet::Authorizer> {
        self.inner.clone()
    }
}

#[pymethods]
impl Authorizer {
    /// An authorizer trusting `keys` and judging with the policies in `policy_dir` (its
    /// `*.cedar` files and `schema.cedarschema`).
    ///
    /// - `now`: `None` for the system clock, a `FixedClock` to share, or a time (Unix
    ///   seconds or an aware `datetime`) for a fixed clock, reachable as `.clock`;
    /// - `revocations`: a file of revoked ids (one hex id per line), else kept in memory;
    /// - `audit_log`: a file that gets one JSON line per decision;
    /// - `approvers`: the `VerifyingKey`s (or their text) whose signed approvals may turn
    ///   a `"needs_approval"` into an `"allow"` (none by default);
    /// - `accept_bearer_tokens`: risky: also honour bearer tokens (bound to no holder
    ///   key), which anyone holding a copy can use. By default only tokens the issuer
    ///   bound to a holder key are accepted, each request with a fresh proof;
    /// - `proof_window`: how old a proof of possession may be (seconds or a `timedelta`,
    ///   default 60), or a `(max_age, max_skew)` pair (skew default 5);
    /// - `max_approval_lifetime`: the furthest ahead an approval may expire when presented
    ///   (seconds or a `timedelta`, default 900);
    /// - `entities`: the entity data the policies read (people, teams, resources, fleets):
    ///   a list of entity dicts in Cedar's JSON shape, checked against the schema now and
    ///   replaced with `set_entities`, or a callable asked once per decision that reaches
    ///   the policies, with `{"agents": [uid, ...], "person": uid or None, "resources":
    ///   [uid, ...]}` (each uid `{"type": ..., "id": ...}`), that returns a list of entity
    ///   dicts. An exception, a late answer or entities that do not fit is a deny that
    ///   says so;
    /// - `stores`: `RedisStores`, for a replica of a resource server whose replicas share
    ///   used proofs, spent approvals and revocations in Redis (and its `replica` name in
    ///   audit records); by default they are kept in this authorizer's memory. Not with
    ///   `revocations`: revoke through `revoke`, which writes to Redis.
    ///
    /// Raises `PolicyError` (with `diagnostics`) if the policies do not load, and
    /// `EntityError` if a list of `entities` does not fit their schema.
    #[new]
    #[pyo3(signature = (keys, policy_dir, now = None, *, revocations = None, audit_log = None, approvers = None, accept_bearer_tokens = false, proof_window = None, max_approval_lifetime = None, entities = None, stores = None))]
    #[expect(
        clippy::too_many_arguments,
        reason = "mirrors the Python keyword arguments"
    )]
    fn new(
        py: Python<'_>,
        keys: PyRef<'_, KeySet>,
        policy_dir: PathBuf,
        now: Option<Bound<'_, PyAny>>,
        revocations: Option<PathBuf>,
        audit_log: Option<PathBuf>,
        approvers: Option<Bound<'_, PyAny>>,
        accept_bearer_tokens: bool,
        proof_window: Option<Bound<'_, PyAny>>,
        max_approval_lifetime: Option<Bound<'_, PyAny>>,
        entities: Option<Bound<'_, PyAny>>,
        stores: Option<PyRef<'_, RedisStores>>,
    ) -> PyResult<Self> {
        if revocations.is_some() && stores.is_some() {
            return Err(PyTypeError::new_err(
                "give `revocations` (a file) or `stores` (Redis), not both: with `stores`, revocations are kept in Redis; revoke through `Authorizer.revoke`",
            ));
        }
        let store = valet::PolicyStore::load(&policy_dir).map_err(|e| policy_error(py, &e))?;
        let entities = match entities.filter(|e| !e.is_none()) {
            Some(e) => Some(Arc::new(Entities::from_arg(&e, &store)?)),
            None => None,
        };
        let mut builder = valet::Authorizer::builder(keys.snapshot()?, store);
        if let Some(e) = &entities {
            builder = builder.entities(e.clone());
        }
        if accept_bearer_tokens {
            builder = builder.accept_bearer_tokens();
        }
        if let Some(list) = approvers {
            if list.is_instance_of::<PyString>() || list.cast::<VerifyingKey>().is_ok() {
                return Err(PyTypeError::new_err(
                    "`approvers` must be a list of VerifyingKey (or their text)",
                ));
            }
            for item in list.try_iter()? {
                builder = builder.approver(verifying_key(&item?, "approvers")?);
            }
        }
        if let Some(w) = proof_window {
            let (age, skew) = self::proof_window(&w)?;
            builder = builder.proof_window(age, skew);
        }
        let approval_lifetime = match max_approval_lifetime {
            Some(m) => to_duration(&m, "max_approval_lifetime")?,
            None => valet::DEFAULT_MAX_APPROVAL_LIFETIME,
        };
        builder = builder.max_approval_lifetime(approval_lifetime);
        let clock = match now {
            None => None,
            Some(n) => match n.cast::<FixedClock>() {
                Ok(c) => Some(c.clone().unbind()),
                Err(_) => Some(Py::new(py, FixedClock::new(&n)?)?),
            },
        };
        if let Some(c) = &clock {
            builder = builder.clock(c.get().inner.clone());
        }
        if let Some(path) = audit_log {
            let sink = valet::JsonLinesAudit::open(path).map_err(|e| valet_error(py, e))?;
            builder = builder.audit(Arc::new(sink));
        }
        // Last: the Redis stores start reading the revocations, once nothing else can fail.
        let revocations: Arc<dyn RevocationStore> = match (revocations, stores) {
            (_, Some(shared)) => {
                let applied = shared.apply(py, builder, approval_lifetime)?;
                builder = applied.builder;
                applied.revocations
            }
            (Some(path), None) => {
                Arc::new(valet::FileRevocations::open(path).map_err(|e| valet_error(py, e))?)
            }
            (None, None) => Arc::new(valet::MemoryRevocations::new()),
        };
        builder = builder.revocations(revocations.clone());
        Ok(Authorizer {
            inner: Arc::new(builder.build()),
            revocations,
            clock,
            entities,
        })
    }

    /// Replaces the list of `entities` the authorizer was built with by another, checked
    /// against the schema: each decision sees the old list or the new one, never a mix,
    /// and on any error the old list stays. Raises `EntityError` if the new list does not
    /// fit, or if the authorizer was built with a callable or without `entities` (build
    /// it with `entities=[]` to set them later).
    fn set_entities(&self, entities: &Bound<'_, PyAny>) -> PyResult<()> {
        match &self.entities {
            Some(current) => current.set(entities, self.inner.policies()),
            None => Err(EntityError::new_err(
                "this Authorizer was built without `entities`: build it with `entities=[]` to set them later",
            )),
        }
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        if let Some(clock) = &self.clock {
            visit.call(clock)?;
        }
        if let Some(entities) = &self.entities {
            entities.traverse(&visit)?;
        }
        Ok(())
    }

    /// The fixed clock this authorizer reads, or `None` when it uses the system clock.
    #[getter]
    fn clock(&self, py: Python<'_>) -> Option<Py<FixedClock>> {
        self.clock.as_ref().map(|c| c.clone_ref(py))
    }

    /// Judges one request. `token` is a `Token`, its base64url text or its bytes;
    /// `request` a `Request` or its dict. Beside the token the agent may present:
    ///
    /// - `proof`: its `HolderProof` (or the proof's JSON), needed when the token is bound
    ///   to a holder key, and checked (and consumed) whenever present;
    /// - `approvals`: signed `Approval`s (or their JSON); one by a trusted approver for
    ///   exactly this request turns a `"needs_approval"` into an `"allow"`, once.
    ///
    /// Returns a `Decision` (a deny is a decision, not an exception); raises
    /// `RequestError` only when the request cannot be read, `ProofError` when a proof or
    /// an approval is not valid JSON.
    #[pyo3(signature = (token, request, proof = None, approvals = None))]
    fn authorize(
        &self,
        py: Python<'_>,
        token: &Bound<'_, PyAny>,
        request: &Bound<'_, PyAny>,
        proof: Option<Bound<'_, PyAny>>,
        approvals: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Decision> {
        let req = &*request_ref(request)?;
        let presented = presentation(proof.as_ref(), approvals.as_ref())?;
        let inner = &self.inner;
        let decision = if let Ok(t) = token.cast::<Token>() {
            let t = &t.get().inner;
            py.detach(|| inner.authorize(t, req, &presented))
        } else if let Ok(s) = token.cast::<PyString>() {
            let text = s.to_str()?.trim().to_owned();
            // A token read before is shared, not parsed again (see `read_token`); an
            // unreadable one gets the authorizer's own refusal.
            py.detach(|| inner.authorize_encoded(valet::Encoded::Base64(&text), req, &presented))
        } else if let Ok(b) = token.cast::<PyBytes>() {
            let bytes = b.as_bytes().to_vec();
            py.detach(|| inner.authorize_encoded(valet::Encoded::Bytes(&bytes), req, &presented))
        } else {
            return Err(PyTypeError::new_err(format!(
                "`token` must be a Token, str or bytes, not {}",
                token.get_type().name()?
            )));
        };
        Ok(Decision::from(Arc::new(decision)))
    }

    /// Revokes a block by its revocation id (hex, from `Token.revocation_ids()`): that
    /// token and every token derived from it are refused from now on. With `stores`, the
    /// id is written to Redis (without the GIL) and every replica refuses it within a
    /// second; if Redis cannot be reached, this replica refuses it at once, `ValetError`
    /// says it is not yet shared, and it is written to Redis when Redis is back.
    fn revoke(&self, py: Python<'_>, revocation_id: &str) -> PyResult<()> {
        let id = token::RevocationId::from_hex(revocation_id.trim()).ok_or_else(|| {
            crate::errors::RequestError::new_err(format!(
                "`{revocation_id}` is not a revocation id: expected hex text from Token.revocation_ids()"
            ))
        })?;
        let store = &self.revocations;
        py.detach(|| store.revoke(id))
            .map_err(|e| valet_error(py, e))
    }

    /// Whether this revocation id (hex) is revoked.
    fn is_revoked(&self, revocation_id: &str) -> bool {
        token::RevocationId::from_hex(revocation_id.trim())
            .is_some_and(|id| self.revocations.is_revoked(&id))
    }

    /// The ids of the policies loaded.
    fn policy_ids(&self) -> Vec<String> {
        self.inner.policies().policy_ids()
    }

    fn __repr__(&self) -> String {
        format!("Authorizer(policies={:?})", self.inner.policies().dir())
    }
}

/// The token layer alone: signatures, audience, expiry, scopes and every block's limits,
/// with no policies (what an agent or a test vector checks). Most servers want an
/// `Authorizer`.
#[pyclass(module = "valet", frozen)]
pub struct Verifier {
    inner: token::Verifier,
}

#[pymethods]
impl Verifier {
    /// A verifier trusting `keys`.
    ///
    /// - `accept_bearer_tokens`: risky: also honour bearer tokens (bound to no holder
    ///   key), which anyone holding a copy can use. By default only tokens the issuer
    ///   bound to a holder key are accepted, each with a fresh proof;
    /// - `proof_window`: how old a proof of possession may be (seconds or a `timedelta`,
    ///   default 60), or a `(max_age, max_skew)` pair (skew default 5).
    ///
    /// The verifier remembers every proof it accepted until the proof is too old, so a
    /// replayed proof is refused.
    #[new]
    #[pyo3(signature = (keys, *, accept_bearer_tokens = false, proof_window = None))]
    fn new(
        keys: PyRef<'_, KeySet>,
        accept_bearer_tokens: bool,
        proof_window: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let mut inner = token::Verifier::new(keys.snapshot()?);
        if accept_bearer_tokens {
            inner = inner.accept_bearer_tokens();
        }
        if let Some(w) = proof_window {
            let (age, skew) = self::proof_window(&w)?;
            inner = inner.proof_window(age, skew);
        }
        Ok(Verifier { inner })
    }

    /// Verifies `token` for `request` at `now` (Unix seconds or an aware `datetime`;
    /// default: the current time), with nothing revoked and the holder's `proof` (a
    /// `HolderProof` or its JSON) when one was sent: a bound token needs one, and a
    /// presented proof is always checked and consumed. Returns a `Verdict`; raises
    /// `RequestError` only when the request cannot be read.
    #[pyo3(signature = (token, request, proof = None, now = None))]
    fn verify(
        &self,
        py: Python<'_>,
        token: PyRef<'_, Token>,
        request: &Bound<'_, PyAny>,
        proof: Option<Bound<'_, PyAny>>,
        now: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Verdict> {
        let now = now_or_current(now.as_ref())?;
        let req = &*request_ref(request)?;
        let proof = match proof.filter(|p| !p.is_none()) {
            Some(p) => Some(holder_proof(&p)?),
            None => None,
        };
        let (inner, t) = (&self.inner, &token.inner);
        let verdict = py
            .detach(|| inner.verify_with_proof(t, req, proof.as_ref(), now, &token::NoRevocations));
        Ok(Verdict { inner: verdict })
    }
}

/// What the token layer says: `allowed`, and for a refusal the `reasons`.
#[pyclass(module = "valet", frozen)]
pub struct Verdict {
    inner: token::Verdict,
}

#[pymethods]
impl Verdict {
    /// Whether the token allows the request.
    #[getter]
    fn allowed(&self) -> bool {
        self.inner.is_allowed()
    }

    /// Why it was refused, as dicts with `kind`, `message` and, where known, `block` and
    /// `delegate`.
    #[getter]
    fn reasons(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        serialize_to_py(py, &self.inner.reasons())
    }

    /// The token's claims as a dict, when they could be read.
    #[getter]
    fn claims(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match self.inner.claims() {
            Some(c) => serialize_to_py(py, c),
            None => Ok(py.None()),
        }
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let reasons: Vec<String> = self
            .inner
            .reasons()
            .iter()
            .map(|r| r.message.clone())
            .collect();
        let reasons = reasons.into_pyobject(py)?.repr()?;
        let allowed = if self.inner.is_allowed() {
            "True"
        } else {
            "False"
        };
        Ok(format!("Verdict(allowed={allowed}, reasons={reasons})"))
    }
}
