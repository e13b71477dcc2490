//! Root keys and key sets.

use std::path::PathBuf;
use std::sync::RwLock;

use pyo3::prelude::*;
use valet::token;

use crate::errors::{key_error, read_key, ValetError, ValetKeyError};

/// An Ed25519 root key pair with its key id; it signs the tokens an issuer mints. Its
/// `repr` never shows the private key.
#[pyclass(module = "valet", frozen)]
pub struct RootKeyPair {
    pub(crate) inner: token::RootKeyPair,
}

impl From<token::RootKeyPair> for RootKeyPair {
    fn from(inner: token::RootKeyPair) -> Self {
        RootKeyPair { inner }
    }
}

#[pymethods]
impl RootKeyPair {
    /// A new random key pair with this key id (written into every token it signs).
    #[staticmethod]
    #[pyo3(signature = (key_id = 1))]
    fn generate(key_id: u32) -> Self {
        token::RootKeyPair::generate(token::KeyId(key_id)).into()
    }

    /// Reads a key pair from the text `to_private_text` writes.
    #[staticmethod]
    fn from_private_text(text: &str) -> PyResult<Self> {
        read_key(token::RootKeyPair::from_private_text(text))
    }

    /// Reads a private key file, refusing one that other users can read.
    #[staticmethod]
    fn read_file(path: PathBuf) -> PyResult<Self> {
        read_key(token::RootKeyPair::read_file(path))
    }

    /// The key id.
    #[getter]
    fn id(&self) -> u32 {
        self.inner.id().0
    }

    /// The public half, to give to verifiers.
    fn public(&self) -> RootPublicKey {
        self.inner.public().into()
    }

    /// The private key as text (keep it secret).
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
        format!(
            "RootKeyPair(id={}, public={:?})",
            self.inner.id(),
            self.inner.public().to_text().trim()
        )
    }
}

/// A root public key with its key id: what a verifier trusts.
#[pyclass(module = "valet", frozen)]
#[derive(Clone)]
pub struct RootPublicKey {
    pub(crate) inner: token::RootPublicKey,
}

impl From<token::RootPublicKey> for RootPublicKey {
    fn from(inner: token::RootPublicKey) -> Self {
        RootPublicKey { inner }
    }
}

#[pymethods]
impl RootPublicKey {
    /// Reads a public key from the text `to_text` writes.
    #[staticmethod]
    fn from_text(text: &str) -> PyResult<Self> {
        read_key(token::RootPublicKey::from_text(text))
    }

    /// Reads a public key file.
    #[staticmethod]
    fn read_file(path: PathBuf) -> PyResult<Self> {
        read_key(token::RootPublicKey::read_file(path))
    }

    /// The key id.
    #[getter]
    fn id(&self) -> u32 {
        self.inner.id().0
    }

    /// The public key as text.
    fn to_text(&self) -> String {
        self.inner.to_text()
    }

    /// Writes the public key file; an existing file is overwritten only when `force` is
    /// true.
    #[pyo3(signature = (path, force = false))]
    fn write_file(&self, path: PathBuf, force: bool) -> PyResult<()> {
        self.inner.write_file(path, force).map_err(key_error)
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<RootPublicKey>()
            .is_ok_and(|o| o.get().inner == self.inner)
    }

    fn __repr__(&self) -> String {
        format!(
            "RootPublicKey(id={}, key={:?})",
            self.inner.id(),
            self.inner.to_text().trim()
        )
    }
}

/// The root public keys a verifier trusts, by key id.
#[pyclass(module = "valet", frozen)]
pub struct KeySet {
    inner: RwLock<token::KeySet>,
}

impl KeySet {
    /// A copy of the keys, for an authorizer.
    pub(crate) fn snapshot(&self) -> PyResult<token::KeySet> {
        self.inner
            .read()
            .map(|k| k.clone())
            .map_err(|_| ValetError::new_err("the key set is unusable"))
    }
}

#[pymethods]
impl KeySet {
    /// A key set holding these keys (none by default).
    #[new]
    #[pyo3(signature = (keys = Vec::new()))]
    fn new(keys: Vec<PyRef<'_, RootPublicKey>>) -> Self {
        let mut set = token::KeySet::new();
        for k in keys {
            set.insert(k.inner.clone());
        }
        KeySet {
            inner: RwLock::new(set),
        }
    }

    /// Adds a key, replacing any key with the same id.
    fn add(&self, key: PyRef<'_, RootPublicKey>) -> PyResult<()> {
        self.inner
            .write()
            .map(|mut k| k.insert(key.inner.clone()))
            .map_err(|_| ValetError::new_err("the key set is unusable"))
    }

    /// Removes the key with this id; raises `ValetKeyError` if there is none.
    fn remove(&self, key_id: u32) -> PyResult<()> {
        let removed = self
            .inner
            .write()
            .map(|mut k| k.remove(token::KeyId(key_id)))
            .map_err(|_| ValetError::new_err("the key set is unusable"))?;
        if removed {
            Ok(())
        } else {
            Err(ValetKeyError::new_err(format!(
                "the key set holds no key with id {key_id}"
            )))
        }
    }

    /// The key ids held, in order.
    fn ids(&self) -> PyResult<Vec<u32>> {
        Ok(self.snapshot()?.ids().map(|i| i.0).collect())
    }

    fn __len__(&self) -> PyResult<usize> {
        Ok(self.snapshot()?.ids().count())
    }

    fn __contains__(&self, key_id: u32) -> PyResult<bool> {
        Ok(self.snapshot()?.get(token::KeyId(key_id)).is_some())
    }

    fn __repr__(&self) -> PyResult<String> {
        Ok(format!("KeySet(ids={:?})", self.ids()?))
    }
}
