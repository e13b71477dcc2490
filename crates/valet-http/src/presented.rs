//! What an agent sends beside its bearer token: the holder's proof of possession in a
//! `Valet-Proof` header, and signed approvals in `Valet-Approval` headers.
//!
//! Each value is the compact JSON of a [`HolderProof`] or an [`Approval`], encoded as
//! base64url without padding (RFC 4648 section 5), so that a value is plain ASCII
//! whatever the subject or the action, and so that several approvals folded into one
//! comma-separated field by an intermediary stay readable.

use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use http::{HeaderMap, HeaderName, HeaderValue};
use valet::token::TokenError;
use valet::{Approval, HolderProof, Presentation};

use crate::error::HeaderError;

/// The header carrying the proof of possession (in the spirit of DPoP's `DPoP` header,
/// RFC 9449): `Valet-Proof: <base64url of the HolderProof JSON>`. At most one.
pub const PROOF_HEADER: HeaderName = HeaderName::from_static("valet-proof");

/// The header carrying a signed approval: `Valet-Approval: <base64url of the Approval
/// JSON>`. It may be repeated, or carry a comma-separated list; at most
/// [`MAX_APPROVALS`] in all.
pub const APPROVAL_HEADER: HeaderName = HeaderName::from_static("valet-approval");

/// Most approvals one request may carry.
pub const MAX_APPROVALS: usize = 8;

/// Longest encoded proof or approval, in characters.
const MAX_VALUE_CHARS: usize = 8 * 1024;

/// base64url: written without padding; read without it once trailing `=` are taken off
/// (tolerated), with any value of the unused low bits of the last character.
const BASE64URL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

/// The `Valet-Proof` header value for `proof`.
pub fn proof_header_value(proof: &HolderProof) -> Result<HeaderValue, TokenError> {
    encoded("proof of possession", &proof.to_json()?)
}

/// A `Valet-Approval` header value for `approval`.
pub fn approval_header_value(approval: &Approval) -> Result<HeaderValue, TokenError> {
    encoded("approval", &approval.to_json()?)
}

fn encoded(what: &'static str, json: &str) -> Result<HeaderValue, TokenError> {
    HeaderValue::from_str(&BASE64URL.encode(json)).map_err(|e| TokenError::Json {
        what,
        reason: format!("its base64url text is not a header value ({e})"),
    })
}

/// Reads the `Valet-Proof` and `Valet-Approval` headers into a [`Presentation`]; without
/// them, an empty one. The layer answers an error with `400`.
pub fn read_presentation(headers: &HeaderMap) -> Result<Presentation, HeaderError> {
    let mut presentation = Presentation::new();
    let mut proofs = headers.get_all(&PROOF_HEADER).iter();
    if let Some(value) = proofs.next() {
        if proofs.next().is_some() {
            return Err(HeaderError::ManyProofs);
        }
        let text = value
            .to_str()
            .map_err(|_| malformed("Valet-Proof", "it is not ASCII"))?
            .trim();
        // JSON text is refused below, with its own message.
        if text.contains(',') && !text.starts_with('{') {
            return Err(HeaderError::ManyProofs);
        }
        let json = decode("Valet-Proof", text)?;
        let proof = HolderProof::from_json(&json).map_err(|e| malformed("Valet-Proof", &e))?;
        presentation = presentation.proof(proof);
    }
    for value in headers.get_all(&APPROVAL_HEADER) {
        let text = value
            .to_str()
            .map_err(|_| malformed("Valet-Approval", "it is not ASCII"))?;
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if presentation.approvals.len() == MAX_APPROVALS {
                return Err(HeaderError::ManyApprovals(MAX_APPROVALS));
            }
            let json = decode("Valet-Approval", item)?;
            let approval =
                Approval::from_json(&json).map_err(|e| malformed("Valet-Approval", &e))?;
            presentation = presentation.approval(approval);
        }
    }
    Ok(presentation)
}

fn malformed(header: &'static str, problem: impl std::fmt::Display) -> HeaderError {
    HeaderError::Malformed {
        header,
        problem: problem.to_string(),
    }
}

/// The JSON text a header value encodes.
fn decode(header: &'static str, text: &str) -> Result<String, HeaderError> {
    if text.is_empty() {
        return Err(malformed(header, "it is empty"));
    }
    if text.len() > MAX_VALUE_CHARS {
        return Err(malformed(
            header,
            format!("it is longer than {MAX_VALUE_CHARS} characters"),
        ));
    }
    if text.starts_with('{') {
        return Err(malformed(
            header,
            "it is JSON text: encode the JSON as base64url, without padding",
        ));
    }
    let bytes = BASE64URL.decode(text.trim_end_matches('=')).map_err(|_| {
        malformed(
            header,
            "it is not base64url (RFC 4648 section 5, without padding)",
        )
    })?;
    String::from_utf8(bytes).map_err(|_| malformed(header, "it does not encode UTF-8 JSON text"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The header's JSON text, as [`read_presentation`] decodes it.
    fn decoded(text: &str) -> Option<String> {
        decode("Valet-Proof", text).ok()
    }

    #[test]
    fn base64url_round_trips_without_padding() {
        for text in [
            "",
            "f",
            "fo",
            "foo",
            "foob",
            "fooba",
            "foobar",
            "{\"a\":\"é\"}",
        ] {
            let value = encoded("proof of possession", text).unwrap();
            let value = value.to_str().unwrap();
            assert!(!value.contains('='));
            if !text.is_empty() {
                assert_eq!(decoded(value).as_deref(), Some(text), "{text}");
            }
        }
        assert_eq!(BASE64URL.encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(BASE64URL.encode([0xfb, 0xff]), "-_8");
    }

    /// What the hand-written decoder accepted and refused, kept as it was.
    #[test]
    fn base64url_accepts_and_refuses_as_before() {
        assert_eq!(decoded("Zm8").as_deref(), Some("fo"));
        assert_eq!(decoded("Zm8=").as_deref(), Some("fo"));
        assert_eq!(decoded("Zm8==").as_deref(), Some("fo"));
        assert_eq!(decoded("Zm9v=").as_deref(), Some("foo"));
        assert_eq!(decoded("=").as_deref(), Some(""));
        // The unused low bits of the last character are not checked.
        assert_eq!(decoded("Zm9").as_deref(), Some("fo"));
        for refused in ["Zm9v+A", "Zm9v/A", "Zm9vY", "Z", "Zm 9v", "Zm=9v", "Zm9v."] {
            assert_eq!(decoded(refused), None, "{refused:?}");
        }
    }

    #[test]
    fn no_headers_is_an_empty_presentation() {
        let p = read_presentation(&HeaderMap::new()).unwrap_or_default();
        assert!(p.proof.is_none());
        assert!(p.approvals.is_empty());
    }

    #[test]
    fn malformed_values_are_refused_with_the_header_named() {
        let mut h = HeaderMap::new();
        h.insert(PROOF_HEADER, HeaderValue::from_static("not base64!"));
        let e = read_presentation(&h).err().map(|e| e.to_string());
        assert!(
            e.as_deref()
                .is_some_and(|e| e.starts_with("the Valet-Proof header is malformed")),
            "{e:?}"
        );
        h.insert(PROOF_HEADER, HeaderValue::from_static("{\"key\":1}"));
        let e = read_presentation(&h).err().map(|e| e.to_string());
        assert!(
            e.as_deref().is_some_and(|e| e.contains("base64url")),
            "{e:?}"
        );
        h.insert(PROOF_HEADER, HeaderValue::from_static("a,b"));
        assert_eq!(read_presentation(&h).err(), Some(HeaderError::ManyProofs));
        h.remove(PROOF_HEADER);
        h.insert(
            APPROVAL_HEADER,
            encoded("approval", "{\"approver\":\"x\"}").unwrap(),
        );
        let e = read_presentation(&h).err().map(|e| e.to_string());
        assert!(
            e.as_deref()
                .is_some_and(|e| e.contains("Valet-Approval") && e.contains("not a valet approval")),
            "{e:?}"
        );
    }
}
