//! The agents' and approvers' own Ed25519 keys: the key a token is bound to, and the key
//! pair that signs proofs of possession, delegations and approvals.

use std::path::PathBuf;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};
use valet::token;

use crate::errors::{key_error, read_key};

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
