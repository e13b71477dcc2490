//! Revocation: a block's revocation id, and how the verifier asks whether one was revoked.

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;

/// A block's revocation id (its signature). Revoking it refuses the token and every token
/// attenuated from it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RevocationId(pub Vec<u8>);

impl RevocationId {
    /// Parses the hex form (upper or lower case, surrounding whitespace ignored); `None`
    /// for empty text, an odd number of digits or anything but hex digits.
    pub fn from_hex(text: &str) -> Option<Self> {
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        ::hex::decode(text).ok().map(RevocationId)
    }
}

impl fmt::Display for RevocationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Hex in chunks written straight to the formatter: no allocation.
        let mut buf = [0u8; 64];
        for chunk in self.0.chunks(32) {
            let out = buf.get_mut(..chunk.len() * 2).ok_or(fmt::Error)?;
            ::hex::encode_to_slice(chunk, out).map_err(|_| fmt::Error)?;
            f.write_str(std::str::from_utf8(out).map_err(|_| fmt::Error)?)?;
        }
        Ok(())
    }
}

impl Serialize for RevocationId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revocation_id_hex_round_trip() {
        let id = RevocationId(vec![0, 1, 0xab, 0xff]);
        assert_eq!(id.to_string(), "0001abff");
        assert_eq!(RevocationId::from_hex("0001abff"), Some(id));
        assert_eq!(RevocationId::from_hex("abc"), None);
        assert_eq!(RevocationId::from_hex("zz"), None);
    }

    #[test]
    fn revocation_ids_print_as_lowercase_hex_at_any_length() {
        assert_eq!(
            RevocationId(vec![0x00, 0x01, 0xab, 0xff]).to_string(),
            "0001abff"
        );
        assert_eq!(RevocationId(Vec::new()).to_string(), "");
        // Longer than one formatting chunk (32 bytes), as a 64-byte signature is.
        let long: Vec<u8> = (0u8..70).collect();
        let text = RevocationId(long.clone()).to_string();
        let expected: String = long.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(text, expected);
        assert_eq!(RevocationId::from_hex(&text), Some(RevocationId(long)));
    }
}
