//! What an agent sends beside its bearer token: the holder's proof of possession in a
//! `Valet-Proof` header, and signed approvals in `Valet-Approval` headers.
//!
//! Each value is the compact JSON of a [`HolderProof`] or an [`Approval`], encoded as
//! base64url without padding (RFC 4648 section 5), so that a value is plain ASCII
//! whatever the subject or the action, and so that several approvals folded into one
//! comma-separated field by an intermediary stay readable.

use http::{HeaderMap, HeaderName, HeaderValue};
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

/// The `Valet-Proof` header value for `proof`.
pub fn proof_header_value(proof: &HolderProof) -> HeaderValue {
    encoded(&proof.to_json())
}

/// A `Valet-Approval` header value for `approval`.
pub fn approval_header_value(approval: &Approval) -> HeaderValue {
    encoded(&approval.to_json())
}

fn encoded(json: &str) -> HeaderValue {
    // base64url text is always a valid header value.
    HeaderValue::from_str(&encode_base64url(json.as_bytes()))
        .unwrap_or_else(|_| HeaderValue::from_static(""))
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
    let bytes = decode_base64url(text).ok_or_else(|| {
        malformed(
            header,
            "it is not base64url (RFC 4648 section 5, without padding)",
        )
    })?;
    String::from_utf8(bytes).map_err(|_| malformed(header, "it does not encode UTF-8 JSON text"))
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// base64url without padding.
pub(crate) fn encode_base64url(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            let index = ((n >> (18 - 6 * i)) & 63) as usize;
            out.push(char::from(ALPHABET.get(index).copied().unwrap_or(b'A')));
        }
    }
    out
}

/// base64url; trailing `=` padding is tolerated, any other character refused.
fn decode_base64url(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    if text.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_round_trips() {
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
            let encoded = encode_base64url(text.as_bytes());
            assert!(!encoded.contains('='));
            assert_eq!(
                decode_base64url(&encoded).as_deref(),
                Some(text.as_bytes()),
                "{text}"
            );
        }
        assert_eq!(encode_base64url(b"foobar"), "Zm9vYmFy");
        assert_eq!(encode_base64url(&[0xfb, 0xff]), "-_8");
        assert_eq!(decode_base64url("Zm8="), Some(b"fo".to_vec()));
        assert_eq!(decode_base64url("Zm9v+A"), None);
        assert_eq!(decode_base64url("Zm9vY"), None);
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
        h.insert(APPROVAL_HEADER, encoded("{\"approver\":\"x\"}"));
        let e = read_presentation(&h).err().map(|e| e.to_string());
        assert!(
            e.as_deref()
                .is_some_and(|e| e.contains("Valet-Approval") && e.contains("not a valet approval")),
            "{e:?}"
        );
    }
}
