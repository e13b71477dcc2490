//! Reading tokens, keys and files named on the command line.

use std::io::Read;
use std::path::Path;

use valet_token::{KeySet, RootKeyPair, RootPublicKey, Token};

use crate::error::CliError;

/// Reads a whole file, with an error that names it and says what to do.
pub fn read_file(path: &Path, what: &str) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|e| {
        CliError::new(format!(
            "cannot read {what} `{}`: {}: check the path",
            path.display(),
            io_reason(&e)
        ))
    })
}

/// A lowercase reason for an I/O error.
pub fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => {
            let text = e.to_string();
            let text = text.split(" (os error").next().unwrap_or(&text).to_owned();
            text.to_lowercase()
        }
    }
}

/// Reads a token from a file, or from standard input when `source` is `-`.
pub fn read_token(source: &str) -> Result<Token, CliError> {
    let (text, name) = if source == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).map_err(|e| {
            CliError::new(format!(
                "cannot read the token from standard input: {}",
                io_reason(&e)
            ))
        })?;
        (text, "standard input".to_owned())
    } else {
        let path = Path::new(source);
        let text = std::fs::read_to_string(path).map_err(|e| {
            let hint = if looks_like_token(source) {
                ": it looks like a token itself; save it to a file, or pipe it in and pass `-`"
            } else {
                ": give the path of a file holding the token, or `-` to read it from standard input"
            };
            CliError::new(format!(
                "cannot read the token file `{source}`: {}{hint}",
                io_reason(&e)
            ))
        })?;
        (text, format!("`{source}`"))
    };
    if text.trim().is_empty() {
        return Err(CliError::new(format!(
            "{name} is empty: it should hold a token as printed by `valet mint` or `valet attenuate`"
        )));
    }
    Token::from_base64(&text).map_err(|e| {
        CliError::new(format!(
            "{name} does not hold a readable token: {e}: check that the whole token was copied, as printed by `valet mint` or `valet attenuate`"
        ))
    })
}

fn looks_like_token(s: &str) -> bool {
    s.len() > 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'=')
}

/// Reads a private key file (refused when other users can read it).
pub fn read_private_key(path: &Path) -> Result<RootKeyPair, CliError> {
    RootKeyPair::read_file(path).map_err(|e| key_error(path, "private key", &e))
}

/// Reads a public key file.
pub fn read_public_key(path: &Path) -> Result<RootPublicKey, CliError> {
    RootPublicKey::read_file(path).map_err(|e| key_error(path, "public key", &e))
}

/// Reads every public key file into a key set, refusing two files with the same key id.
pub fn read_key_set(paths: &[std::path::PathBuf]) -> Result<KeySet, CliError> {
    let mut keys = KeySet::new();
    for path in paths {
        let key = read_public_key(path)?;
        if keys.get(key.id()).is_some() {
            return Err(CliError::new(format!(
                "two public key files have key id {}: give each key its own id (`valet keypair --key-id N`)",
                key.id()
            )));
        }
        keys.insert(key);
    }
    Ok(keys)
}

fn key_error(path: &Path, what: &str, e: &valet_token::KeyError) -> CliError {
    match e {
        valet_token::KeyError::Io { source, .. } => CliError::new(format!(
            "cannot read the {what} file `{}`: {}: check the path, or create one with `valet keypair`",
            path.display(),
            io_reason(source)
        )),
        valet_token::KeyError::Format(m) => {
            let prefix = format!("{}: ", path.display());
            let m = m.strip_prefix(&prefix).unwrap_or(m);
            CliError::new(format!(
                "`{}` is not a valet {what} file: {m}: create one with `valet keypair`",
                path.display()
            ))
        }
        other => CliError::new(other.to_string()),
    }
}
