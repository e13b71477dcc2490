//! The text encodings of bytes: base64url for tokens, signatures and nonces, lowercase hex
//! for digests, keys and revocation ids.
//!
//! base64url (RFC 4648 section 5) is written without padding. It is read with or without
//! trailing `=` (any number of them), and with any value of the unused low bits of the
//! last character, as Valet always read it; anything outside the URL-safe alphabet
//! (the standard alphabet's `+` and `/`, whitespace, `=` before the end) is refused.

use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::{DecodeError, Engine};

use crate::error::TokenError;

/// base64url: written without padding; read without it, once trailing `=` are taken off.
const BASE64URL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

/// base64url without padding.
pub(crate) fn encode_base64url(bytes: &[u8]) -> String {
    BASE64URL.encode(bytes)
}

/// base64url, with or without trailing `=` padding; standard-alphabet `+`/`/` and
/// whitespace are refused.
pub(crate) fn decode_base64url(text: &str) -> Result<Vec<u8>, TokenError> {
    BASE64URL
        .decode(text.trim_end_matches('='))
        .map_err(|e| match e {
            DecodeError::InvalidByte(at, _) | DecodeError::InvalidLastSymbol(at, _) => {
                TokenError::Format(format!(
                    "character {} of the token text is not base64url",
                    at.saturating_add(1)
                ))
            }
            DecodeError::InvalidLength(_) | DecodeError::InvalidPadding => TokenError::Format(
                "the token text is truncated (its base64url length is impossible)".into(),
            ),
        })
}

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    ::hex::encode(bytes)
}

/// Serde of bytes as base64url text (signatures in JSON).
pub(crate) mod b64 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::encode_base64url(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        super::decode_base64url(&String::deserialize(d)?)
            .map_err(|_| serde::de::Error::custom("the signature is not base64url"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_round_trips_without_padding() {
        for len in 0..40 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let text = encode_base64url(&bytes);
            assert!(!text.contains('='));
            assert_eq!(decode_base64url(&text).unwrap(), bytes);
        }
        assert_eq!(encode_base64url(b"foobar"), "Zm9vYmFy");
        assert_eq!(encode_base64url(b"foob"), "Zm9vYg");
        assert_eq!(encode_base64url(&[0xfb, 0xff]), "-_8");
    }

    /// What the hand-written decoder accepted and refused, kept as it was.
    #[test]
    fn base64url_accepts_and_refuses_as_before() {
        let ok = |text: &str, bytes: &[u8]| {
            assert_eq!(decode_base64url(text).unwrap(), bytes, "{text:?}");
        };
        ok("", b"");
        ok("Zg", b"f");
        ok("Zm8", b"fo");
        ok("Zm9v", b"foo");
        ok("-_8", &[0xfb, 0xff]);
        // Trailing padding, of any length, even where none belongs.
        ok("Zg=", b"f");
        ok("Zg==", b"f");
        ok("Zg===", b"f");
        ok("Zm9v=", b"foo");
        ok("=", b"");
        ok("====", b"");
        // The unused low bits of the last character are not checked.
        ok("Zh", b"f");
        ok("Zm9vYh", b"foob");
        let refused = |text: &str, message: &str| {
            let e = decode_base64url(text).unwrap_err().to_string();
            assert!(e.contains(message), "{text:?}: {e}");
        };
        refused("Z", "truncated");
        refused("Zm9vZ", "truncated");
        refused("Zm+v", "character 3 of the token text is not base64url");
        refused("Zm/v", "character 3 of the token text is not base64url");
        refused("Zm9vY+", "character 6 of the token text is not base64url");
        refused("+", "character 1 of the token text is not base64url");
        refused("Zm9v\n", "character 5 of the token text is not base64url");
        refused(" Zm9v", "character 1 of the token text is not base64url");
        refused("Zm9v.", "character 5 of the token text is not base64url");
        refused("Zg=g", "character 3 of the token text is not base64url");
        refused("Z=g", "character 2 of the token text is not base64url");
    }

    #[test]
    fn hex_is_lowercase() {
        assert_eq!(hex(&[0x00, 0x01, 0xab, 0xff]), "0001abff");
        assert_eq!(hex(&[]), "");
    }
}
