//! Holder binding and signed approvals: the proof of possession a bound token needs with
//! each request, and signed approvals.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};
use valet::token;

use crate::agent_keys::{SigningKey, VerifyingKey};
use crate::convert::{now_or_current, to_duration, to_time};
use crate::errors::proof_error;
use crate::request::read_request;
use crate::tokens::Token;

/// A proof of possession: the holder's signature over one request to one audience with one
/// token, at one time, with a single-use nonce. A bound token needs a fresh one with every
/// request; a verifier accepts each proof once.
///
/// JSON: `{"key": "ed25519/<hex>", "timestamp": <unix seconds>, "nonce": "<base64url>",
/// "signature": "<base64url>"}`.
#[pyclass(module = "valet", frozen, eq)]
#[derive(Clone, PartialEq, Eq)]
pub struct HolderProof {
    pub(crate) inner: token::HolderProof,
}

/// Reads a `HolderProof`, or its JSON text, from a Python argument.
pub(crate) fn holder_proof(obj: &Bound<'_, PyAny>) -> PyResult<token::HolderProof> {
    if let Ok(p) = obj.cast::<HolderProof>() {
        return Ok(p.get().inner.clone());
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return token::HolderProof::from_json(s.to_str()?).map_err(proof_error);
    }
    Err(PyTypeError::new_err(format!(
        "`proof` must be a HolderProof or its JSON text, not {}",
        obj.get_type().name()?
    )))
}

#[pymethods]
impl HolderProof {
    /// Signs a proof for presenting `token` with `request` (a `Request` or its dict), with
    /// the holder's `key`, dated `now` (Unix seconds or an aware `datetime`; default: the
    /// current time), with `nonce` (16 to 128 base64url characters, never reused; default:
    /// random). Sign a fresh proof for each request.
    #[staticmethod]
    #[pyo3(signature = (key, token, request, now = None, nonce = None))]
    fn sign(
        key: PyRef<'_, SigningKey>,
        token: PyRef<'_, Token>,
        request: &Bound<'_, PyAny>,
        now: Option<Bound<'_, PyAny>>,
        nonce: Option<String>,
    ) -> PyResult<Self> {
        let request = read_request(request)?;
        let now = now_or_current(now.as_ref())?;
        let signed = match nonce {
            Some(n) => {
                token::HolderProof::sign_with_nonce(&key.inner, &token.inner, &request, now, n)
            }
            None => token::HolderProof::sign(&key.inner, &token.inner, &request, now),
        };
        signed
            .map(|inner| HolderProof { inner })
            .map_err(proof_error)
    }

    /// Reads the JSON form; raises `ProofError` if it is not a proof.
    #[staticmethod]
    fn from_json(text: &str) -> PyResult<Self> {
        token::HolderProof::from_json(text)
            .map(|inner| HolderProof { inner })
            .map_err(proof_error)
    }

    /// The JSON form, to send beside the token (e.g. in a request header).
    fn to_json(&self) -> PyResult<String> {
        self.inner.to_json().map_err(proof_error)
    }

    /// The holder's public key.
    #[getter]
    fn key(&self) -> VerifyingKey {
        self.inner.key.into()
    }

    /// When it was signed, Unix seconds.
    #[getter]
    fn timestamp(&self) -> u64 {
        self.inner.timestamp
    }

    /// The single-use nonce.
    #[getter]
    fn nonce(&self) -> String {
        self.inner.nonce.clone()
    }

    /// The Ed25519 signature (64 bytes).
    #[getter]
    fn signature<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.signature)
    }

    fn __repr__(&self) -> String {
        format!(
            "HolderProof(key='{}', timestamp={}, nonce='{}')",
            self.inner.key, self.inner.timestamp, self.inner.nonce
        )
    }
}

/// An approver's signature allowing one exact transaction that a policy sent for approval:
/// for one subject, made with one token, at one audience, one action, one transaction (by
/// digest), until a short expiry. An `Authorizer` trusting the approver turns the matching
/// `"needs_approval"` of that token into `"allow"`, once.
#[pyclass(module = "valet", frozen, eq)]
#[derive(Clone, PartialEq, Eq)]
pub struct Approval {
    pub(crate) inner: token::Approval,
}

/// Reads an `Approval`, or its JSON text, from a Python argument.
pub(crate) fn approval(obj: &Bound<'_, PyAny>) -> PyResult<token::Approval> {
    if let Ok(a) = obj.cast::<Approval>() {
        return Ok(a.get().inner.clone());
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return token::Approval::from_json(s.to_str()?).map_err(proof_error);
    }
    Err(PyTypeError::new_err(format!(
        "each approval must be an Approval or its JSON text, not {}",
        obj.get_type().name()?
    )))
}

#[pymethods]
impl Approval {
    /// Signs an approval of exactly `request` (a `Request` or its dict) made with `token`
    /// (the token the agent presents: another token, even an attenuation of this one,
    /// cannot use it) for `subject` (the person the agent acts for), valid until
    /// `expires_at` (Unix seconds or an aware `datetime`) or for `expires_in` (seconds or a
    /// `timedelta`) from `now` (default: the current time). Give one of `expires_at` and
    /// `expires_in`. Keep it short: an authorizer refuses approvals that expire further
    /// ahead than its `max_approval_lifetime` (15 minutes by default).
    #[staticmethod]
    #[pyo3(signature = (key, subject, token, request, *, expires_at = None, expires_in = None, now = None))]
    fn sign(
        key: PyRef<'_, SigningKey>,
        subject: &str,
        token: PyRef<'_, Token>,
        request: &Bound<'_, PyAny>,
        expires_at: Option<Bound<'_, PyAny>>,
        expires_in: Option<Bound<'_, PyAny>>,
        now: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let request = read_request(request)?;
        let until = match (expires_at, expires_in) {
            (Some(at), None) => to_time(&at, "expires_at")?,
            (None, Some(ttl)) => {
                let start = now_or_current(now.as_ref())?;
                let ttl = to_duration(&ttl, "expires_in")?;
                start.checked_add(ttl).ok_or_else(|| {
                    PyValueError::new_err("`expires_in` is too long to add to the current time")
                })?
            }
            _ => {
                return Err(PyTypeError::new_err(
                    "give exactly one of `expires_at` and `expires_in`",
                ))
            }
        };
        token::Approval::sign(&key.inner, subject, &token.inner, &request, until)
            .map(|inner| Approval { inner })
            .map_err(proof_error)
    }

    /// Reads the JSON form; raises `ProofError` if it is not an approval.
    #[staticmethod]
    fn from_json(text: &str) -> PyResult<Self> {
        token::Approval::from_json(text)
            .map(|inner| Approval { inner })
            .map_err(proof_error)
    }

    /// The JSON form, to hand to the agent, which sends it beside its token.
    fn to_json(&self) -> PyResult<String> {
        self.inner.to_json().map_err(proof_error)
    }

    /// The approver's public key.
    #[getter]
    fn approver(&self) -> VerifyingKey {
        self.inner.approver.into()
    }

    /// The person the agent acts for.
    #[getter]
    fn subject(&self) -> String {
        self.inner.subject.clone()
    }

    /// Where the transaction is performed.
    #[getter]
    fn audience(&self) -> String {
        self.inner.audience.as_str().to_owned()
    }

    /// The operation.
    #[getter]
    fn action(&self) -> String {
        self.inner.action.clone()
    }

    /// The lowercase hex SHA-256 of the token's bytes: only that token can use it.
    #[getter]
    fn token_digest(&self) -> String {
        self.inner.token_digest.clone()
    }

    /// The lowercase hex SHA-256 of the transaction's canonical JSON.
    #[getter]
    fn details_digest(&self) -> String {
        self.inner.details_digest.clone()
    }

    /// Unix seconds after which it approves nothing.
    #[getter]
    fn expires_at(&self) -> u64 {
        self.inner.expires_at
    }

    /// The Ed25519 signature (64 bytes).
    #[getter]
    fn signature<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.signature)
    }

    fn __repr__(&self) -> String {
        format!(
            "Approval(approver='{}', subject={:?}, audience='{}', action={:?}, expires_at={})",
            self.inner.approver,
            self.inner.subject,
            self.inner.audience.as_str(),
            self.inner.action,
            self.inner.expires_at
        )
    }
}
