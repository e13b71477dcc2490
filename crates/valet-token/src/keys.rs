//! Root keys: Ed25519 key pairs with a key id, their text format, and the verifier's key set.
//!
//! # Text format
//!
//! A private key file (written with mode `0600`):
//!
//! ```text
//! # valet private key: keep this file secret
//! key-id: 1
//! private-key: ed25519-private/<64 hex digits>
//! ```
//!
//! A public key file:
//!
//! ```text
//! # valet public key
//! key-id: 1
//! public-key: ed25519/<64 hex digits>
//! ```
//!
//! Lines starting with `#` and blank lines are ignored; the key forms are Biscuit's
//! prefixed key strings.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use biscuit_auth::{KeyPair, PrivateKey, PublicKey};

/// An error reading or writing keys.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key text is not in the documented format.
    #[error("{0}")]
    Format(String),
    /// Reading or writing a key file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A private key file can be read by other users.
    #[error(
        "{path} can be read by other users (mode {mode:o}): run `chmod 600 {path}` and try again"
    )]
    Permissions {
        /// The file.
        path: String,
        /// Its mode bits.
        mode: u32,
    },
    /// The file exists and overwriting was not asked for.
    #[error("{0} already exists: remove it, or allow overwriting it")]
    Exists(String),
}

/// The id of a root key, written into every token it signs (Biscuit's root key id).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct KeyId(pub u32);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An Ed25519 root key pair with its key id. Its `Debug` output never shows the private key.
pub struct RootKeyPair {
    id: KeyId,
    pair: KeyPair,
}

impl Clone for RootKeyPair {
    fn clone(&self) -> Self {
        RootKeyPair {
            id: self.id,
            pair: KeyPair::from(&self.pair.private()),
        }
    }
}

impl fmt::Debug for RootKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RootKeyPair")
            .field("id", &self.id)
            .field("public", &self.pair.public().to_string())
            .field("private", &"<redacted>")
            .finish()
    }
}

impl RootKeyPair {
    /// A new random Ed25519 key pair, from the operating system's generator.
    ///
    /// # Panics
    ///
    /// If the operating system's generator fails, as [`rand_core::OsRng`] does: no key can
    /// be made without it.
    pub fn generate(id: KeyId) -> Self {
        RootKeyPair {
            id,
            pair: KeyPair::new_with_rng(biscuit_auth::Algorithm::Ed25519, &mut rand_core::OsRng),
        }
    }

    /// The key id.
    pub fn id(&self) -> KeyId {
        self.id
    }

    /// The public half, for verifiers.
    pub fn public(&self) -> RootPublicKey {
        RootPublicKey {
            id: self.id,
            key: self.pair.public(),
        }
    }

    pub(crate) fn biscuit_pair(&self) -> &KeyPair {
        &self.pair
    }

    /// The private key file text. Treat the result as a secret.
    pub fn to_private_text(&self) -> String {
        format!(
            "# valet private key: keep this file secret\nkey-id: {}\nprivate-key: {}\n",
            self.id,
            self.pair.private().to_prefixed_string()
        )
    }

    /// Reads the private key file text.
    pub fn from_private_text(text: &str) -> Result<Self, KeyError> {
        let fields = parse_fields(text)?;
        let id = fields.key_id()?;
        let private = fields.ed25519_private()?;
        Ok(RootKeyPair {
            id,
            pair: KeyPair::from(&private),
        })
    }

    /// Reads a private key file, refusing one that other users can read.
    pub fn read_file(path: impl AsRef<Path>) -> Result<Self, KeyError> {
        read_private_file(path.as_ref(), Self::from_private_text)
    }

    /// Writes the private key file with mode `0600`; an existing file is overwritten only
    /// when `force` is set.
    pub fn write_private_file(&self, path: impl AsRef<Path>, force: bool) -> Result<(), KeyError> {
        write_file(
            path.as_ref(),
            self.to_private_text().as_bytes(),
            force,
            true,
        )
    }
}

/// A root public key with its key id.
#[derive(Clone, Debug, PartialEq)]
pub struct RootPublicKey {
    id: KeyId,
    key: PublicKey,
}

impl RootPublicKey {
    /// Pairs a Biscuit public key with its id.
    pub fn new(id: KeyId, key: PublicKey) -> Self {
        RootPublicKey { id, key }
    }

    /// The key id.
    pub fn id(&self) -> KeyId {
        self.id
    }

    /// The Biscuit public key.
    pub fn key(&self) -> &PublicKey {
        &self.key
    }

    /// The public key file text.
    pub fn to_text(&self) -> String {
        format!(
            "# valet public key\nkey-id: {}\npublic-key: {}\n",
            self.id, self.key
        )
    }

    /// Reads the public key file text.
    pub fn from_text(text: &str) -> Result<Self, KeyError> {
        let fields = parse_fields(text)?;
        let id = fields.key_id()?;
        let raw = fields.get("public-key")?;
        let key: PublicKey = raw.parse().map_err(|_| {
            KeyError::Format(
                "`public-key` is not an Ed25519 public key: expected `ed25519/` followed by 64 hex digits".into(),
            )
        })?;
        Ok(RootPublicKey { id, key })
    }

    /// Reads a public key file.
    pub fn read_file(path: impl AsRef<Path>) -> Result<Self, KeyError> {
        read_key_file(path.as_ref(), Self::from_text)
    }

    /// Writes the public key file.
    pub fn write_file(&self, path: impl AsRef<Path>, force: bool) -> Result<(), KeyError> {
        write_file(path.as_ref(), self.to_text().as_bytes(), force, false)
    }
}

/// The public keys a verifier trusts, by key id. Rotation: add the new key, mint with it,
/// and remove the old one once its tokens have expired; tokens naming a removed key id are
/// refused with an error that names the id.
#[derive(Clone, Debug, Default)]
pub struct KeySet {
    keys: BTreeMap<KeyId, PublicKey>,
    /// The Ed25519 keys among them, decompressed once when added.
    ed25519: BTreeMap<KeyId, ed25519_dalek::VerifyingKey>,
}

impl KeySet {
    /// An empty key set.
    pub fn new() -> Self {
        KeySet::default()
    }

    /// Adds or replaces a key.
    pub fn insert(&mut self, key: RootPublicKey) {
        match ed25519_dalek_key(&key.key) {
            Some(decoded) => self.ed25519.insert(key.id, decoded),
            None => self.ed25519.remove(&key.id),
        };
        self.keys.insert(key.id, key.key);
    }

    /// Adds a key, builder style.
    #[must_use]
    pub fn with(mut self, key: RootPublicKey) -> Self {
        self.insert(key);
        self
    }

    /// Removes a key; returns whether it was there.
    pub fn remove(&mut self, id: KeyId) -> bool {
        self.ed25519.remove(&id);
        self.keys.remove(&id).is_some()
    }

    /// The Ed25519 key with this id, decompressed (`None` for a key of another algorithm).
    pub(crate) fn ed25519(&self, id: KeyId) -> Option<&ed25519_dalek::VerifyingKey> {
        self.ed25519.get(&id)
    }

    /// The key with this id.
    pub fn get(&self, id: KeyId) -> Option<&PublicKey> {
        self.keys.get(&id)
    }

    /// The key ids held.
    pub fn ids(&self) -> impl Iterator<Item = KeyId> + '_ {
        self.keys.keys().copied()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// The Ed25519 key of a Biscuit public key, decompressed.
fn ed25519_dalek_key(key: &PublicKey) -> Option<ed25519_dalek::VerifyingKey> {
    if key.algorithm() != biscuit_auth::format::schema::public_key::Algorithm::Ed25519 {
        return None;
    }
    ed25519_dalek::VerifyingKey::from_bytes(&key.to_bytes().try_into().ok()?).ok()
}

pub(crate) struct Fields(BTreeMap<String, String>);

impl Fields {
    pub(crate) fn get(&self, name: &str) -> Result<&str, KeyError> {
        self.0
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| KeyError::Format(format!("the key file has no `{name}:` line")))
    }

    /// The `private-key` field, which must be an Ed25519 private key.
    pub(crate) fn ed25519_private(&self) -> Result<PrivateKey, KeyError> {
        let private: PrivateKey = self.get("private-key")?.parse().map_err(|_| {
            KeyError::Format(
                "`private-key` is not an Ed25519 private key: expected `ed25519-private/` followed by 64 hex digits".into(),
            )
        })?;
        if private.algorithm() != biscuit_auth::format::schema::public_key::Algorithm::Ed25519 {
            return Err(KeyError::Format(
                "`private-key` is not an Ed25519 private key".into(),
            ));
        }
        Ok(private)
    }

    fn key_id(&self) -> Result<KeyId, KeyError> {
        let raw = self.get("key-id")?;
        raw.parse::<u32>().map(KeyId).map_err(|_| {
            KeyError::Format(format!(
                "`key-id` must be a number between 0 and 4294967295, found `{raw}`"
            ))
        })
    }
}

/// Reads a private key file with `from_text`, refusing a file that other users can read;
/// format errors name the file.
pub(crate) fn read_private_file<T>(
    path: &Path,
    from_text: impl FnOnce(&str) -> Result<T, KeyError>,
) -> Result<T, KeyError> {
    check_private_permissions(path)?;
    read_key_file(path, from_text)
}

/// Reads a key file with `parse`, naming the file in a format error.
pub(crate) fn read_key_file<K>(
    path: &Path,
    parse: impl FnOnce(&str) -> Result<K, KeyError>,
) -> Result<K, KeyError> {
    let text = std::fs::read_to_string(path).map_err(|source| KeyError::Io {
        path: path.display().to_string(),
        source,
    })?;
    parse(&text).map_err(|e| match e {
        KeyError::Format(m) => KeyError::Format(format!("{}: {m}", path.display())),
        other => other,
    })
}

pub(crate) fn parse_fields(text: &str) -> Result<Fields, KeyError> {
    let mut map = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(KeyError::Format(format!(
                "line {}: expected `name: value`",
                n + 1
            )));
        };
        map.insert(name.trim().to_owned(), value.trim().to_owned());
    }
    Ok(Fields(map))
}

pub(crate) fn write_file(
    path: &Path,
    bytes: &[u8],
    force: bool,
    private: bool,
) -> Result<(), KeyError> {
    use std::io::Write;
    let io = |source| KeyError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if private { 0o600 } else { 0o644 });
    }
    let mut file = options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            KeyError::Exists(path.display().to_string())
        } else {
            io(e)
        }
    })?;
    #[cfg(unix)]
    if private {
        // An existing file keeps its mode on open: tighten it before writing the secret.
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(io)?;
    }
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)
}

pub(crate) fn check_private_permissions(path: &Path) -> Result<(), KeyError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path).map_err(|source| KeyError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyError::Permissions {
                path: path.display().to_string(),
                mode,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_root_private_key_of_another_algorithm_is_refused() {
        let p256 = biscuit_auth::KeyPair::new_with_algorithm(biscuit_auth::Algorithm::Secp256r1);
        let text = format!(
            "key-id: 1\nprivate-key: {}\n",
            p256.private().to_prefixed_string()
        );
        let err = RootKeyPair::from_private_text(&text)
            .err()
            .map(|e| e.to_string());
        assert!(
            err.as_deref()
                .is_some_and(|e| e.contains("not an Ed25519 private key")),
            "{err:?}"
        );
    }

    #[test]
    fn text_round_trip() {
        let pair = RootKeyPair::generate(KeyId(7));
        let back = RootKeyPair::from_private_text(&pair.to_private_text()).unwrap();
        assert_eq!(back.id(), KeyId(7));
        assert_eq!(back.public(), pair.public());
        let public = RootPublicKey::from_text(&pair.public().to_text()).unwrap();
        assert_eq!(public, pair.public());
    }

    #[test]
    fn bad_text_is_a_typed_error() {
        assert!(matches!(
            RootPublicKey::from_text("key-id: x\npublic-key: ed25519/00"),
            Err(KeyError::Format(m)) if m.contains("key-id")
        ));
        assert!(matches!(
            RootPublicKey::from_text("key-id: 1\npublic-key: ed25519/00"),
            Err(KeyError::Format(m)) if m.contains("public-key")
        ));
        assert!(matches!(
            RootKeyPair::from_private_text("key-id: 1"),
            Err(KeyError::Format(m)) if m.contains("private-key")
        ));
        assert!(RootKeyPair::from_private_text("garbage").is_err());
    }

    #[test]
    fn debug_never_shows_the_private_key() {
        let pair = RootKeyPair::generate(KeyId(1));
        let private_hex = pair.biscuit_pair().private().to_bytes_hex();
        let debug = format!("{pair:?}");
        assert!(!debug.contains(&private_hex));
        assert!(debug.contains("redacted"));
    }

    #[cfg(unix)]
    #[test]
    fn private_files_are_0600_and_not_overwritten() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("valet-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("root.key");
        let _ = std::fs::remove_file(&path);
        let pair = RootKeyPair::generate(KeyId(3));
        pair.write_private_file(&path, false).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(matches!(
            RootKeyPair::generate(KeyId(4)).write_private_file(&path, false),
            Err(KeyError::Exists(_))
        ));
        assert_eq!(RootKeyPair::read_file(&path).unwrap().id(), KeyId(3));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = RootKeyPair::read_file(&path).unwrap_err();
        assert!(err.to_string().contains("chmod 600"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
