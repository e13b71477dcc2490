//! Holder binding and signed approvals: the agents' and approvers' own Ed25519 keys, the
//! proof of possession a bound token needs with each request, and signed approvals.

use std::path::PathBuf;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};
use valet::token;

use crate::authorizer::read_request;
use crate::convert::{now_or_current, to_duration, to_time};
use crate::errors::{key_error, proof_error, read_key};
use crate::tokens::Token;

/// An Ed25519 public key of an agent (a token holder) or of an approver, written
/// `ed25519/<64 hex digits>`. Bind a token to it (`TokenBuilder.holder`,
/// `Token.attenuate(holder=...)`) or trust it as an approver (`Authorizer(approvers=[...])`).
#[pyclass(module = "valet", frozen, eq, hash)]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct VerifyingKey {
    pub(crate) inner: token::VerifyingKey,
}

impl From<token::VerifyingKey> for VerifyingKey {
    fn from(inner: token::VerifyingKey) -> Self {
        VerifyingKey { inner }
    }
}

/// Reads a `VerifyingKey`, or its `ed25519/<hex>` text, from a Python argument.
pub(crate) fn verifying_key(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<token::VerifyingKey> {
    if let Ok(k) = obj.cast::<VerifyingKey>() {
        return Ok(k.get().inner);
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return token::VerifyingKey::parse(s.to_str()?).map_err(key_error);
    }
    Err(PyTypeError::new_err(format!(
        "`{name}` must be a VerifyingKey or its text \"ed25519/<hex>\", not {}",
        obj.get_type().name()?
    )))
}

#[pymethods]
impl VerifyingKey {
    /// Reads `ed25519/<64 hex digits>`; raises `ValetKeyError` for anything else.
    #[staticmethod]
    fn parse(text: &str) -> PyResult<Self> {
        read_key(token::VerifyingKey::parse(text))
    }

    /// Reads the public key file text `to_text` writes (a root public key file works too).
    #[staticmethod]
    fn from_text(text: &str) -> PyResult<Self> {
        read_key(token::VerifyingKey::from_text(text))
    }

    /// Reads a public key file.
    #[staticmethod]
    fn read_file(path: PathBuf) -> PyResult<Self> {
        read_key(token::VerifyingKey::read_file(path))
    }

    /// The public key file text (`public-key: ed25519/<hex>` with a comment line).
    fn to_text(&self) -> String {
        self.inner.to_text()
    }

    /// Writes the public key file; an existing file is overwritten only when `force` is
    /// true.
    #[pyo3(signature = (path, force = false))]
    fn write_file(&self, path: PathBuf, force: bool) -> PyResult<()> {
        self.inner.write_file(path, force).map_err(key_error)
    }

    /// The raw 32 bytes.
    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.to_bytes())
    }

    /// `ed25519/<64 hex digits>`.
    fn __str__(&self) -> String {
        self.inner.to_string()
    }

    fn __repr__(&self) -> String {
        format!("VerifyingKey('{}')", self.inner)
    }
}

/// An agent's or an approver's Ed25519 key pair: it signs proofs of possession, delegation
/// blocks (`Token.attenuate_signed`) and approvals. Its `repr` never shows the private key.
#[pyclass(module = "valet", frozen)]
pub struct SigningKey {
    pub(crate) inner: token::SigningKey,
}

impl From<token::SigningKey> for SigningKey {
    fn from(inner: token::SigningKey) -> Self {
        SigningKey { inner }
    }
}

#[pymethods]
impl SigningKey {
    /// A new random key pair.
    #[staticmethod]
    fn generate() -> Self {
        token::SigningKey::generate().into()
    }

    /// Reads a key pair from the text `to_private_text` writes (a root private key file
    /// works too).
    #[staticmethod]
    fn from_private_text(text: &str) -> PyResult<Self> {
        read_key(token::SigningKey::from_private_text(text))
    }

    /// Reads a private key file, refusing one that other users can read.
    #[staticmethod]
    fn read_file(path: PathBuf) -> PyResult<Self> {
        read_key(token::SigningKey::read_file(path))
    }

    /// The public half, to bind tokens to or to trust as an approver.
    fn public(&self) -> VerifyingKey {
        self.inner.public().into()
    }

    /// The private key file text. Treat the result as a secret.
    fn to_private_text(&self) -> String {
        self.inner.to_private_text()
    }

    /// Writes the private key file with mode 0600; an existing file is overwritten only when
    /// `force` is true.
    #[pyo3(signature = (path, force = false))]
    fn write_private_file(&self, path: PathBuf, force: bool) -> PyResult<()> {
        self.inner
            .write_private_file(path, force)
            .map_err(key_error)
    }

    fn __repr__(&self) -> String {
        format!("SigningKey(public='{}')", self.inner.public())
    }
}

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
