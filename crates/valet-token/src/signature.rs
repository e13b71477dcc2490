//! The signature chain of a token, checked over the envelope decoded once when the token
//! was read, with exactly the rules of biscuit-auth 6 (`SerializedBiscuit::verify` in its
//! default mode): each block's Ed25519 signature by the key the block before it named
//! (`verify_strict`), signature payloads of versions 0 and 1, third-party signatures over
//! the previous block's signature, and the proof at the end (the last key's secret, or a
//! seal). A chain that names a key of another algorithm is checked by biscuit-auth itself.
//! Tests compare the verdicts with biscuit-auth's on crafted tokens.

use biscuit_auth::format::schema::{self, proof::Content, public_key::Algorithm, SignedBlock};

use crate::agent_keys::VerifyingKey;

/// The only third-party signature version biscuit-auth's default mode accepts.
const THIRD_PARTY_VERSION: u32 = 1;

/// Checks the signature chain of `envelope` (the bytes `bytes`) under `root` (`decoded`
/// when it is an Ed25519 key, decompressed). On success, the key that signed each block as
/// a third party, authority first (always `None`).
pub(crate) fn verify_chain(
    envelope: &schema::Biscuit,
    bytes: &[u8],
    root: &biscuit_auth::PublicKey,
    decoded: Option<&ed25519_dalek::VerifyingKey>,
) -> Option<Vec<Option<VerifyingKey>>> {
    let signed = || std::iter::once(&envelope.authority).chain(envelope.blocks.iter());
    let all_ed25519 = decoded.is_some()
        && signed().all(|b| {
            b.next_key.algorithm == Algorithm::Ed25519 as i32
                && b.external_signature
                    .as_ref()
                    .is_none_or(|e| e.public_key.algorithm == Algorithm::Ed25519 as i32)
        });
    if !all_ed25519 {
        return by_biscuit(envelope, bytes, root);
    }
    if envelope.authority.external_signature.is_some() {
        return None;
    }
    let mut current = *decoded?;
    let mut previous: &[u8] = &[];
    let mut signers = Vec::with_capacity(envelope.blocks.len() + 1);
    let last_index = envelope.blocks.len();
    for (i, block) in signed().enumerate() {
        // The last key is decompressed only for a seal to verify: a secret is compared by
        // its public key's bytes, which no key that fails to decompress can equal.
        let next = if i < last_index
            || matches!(envelope.proof.content, Some(Content::FinalSignature(_)))
        {
            Some(ed25519(&block.next_key.key)?)
        } else {
            None
        };
        let version = block.version.unwrap_or_default();
        let external = match &block.external_signature {
            Some(e) if i > 0 => {
                if block.version != Some(THIRD_PARTY_VERSION) {
                    return None;
                }
                Some((ed25519(&e.public_key.key)?, e.signature.as_slice()))
            }
            Some(_) => return None,
            None => None,
        };
        let payload = block_payload(i, block, version, previous, external.map(|e| e.1))?;
        verify(&current, &payload, &block.signature)?;
        if let Some((key, signature)) = external {
            let payload = external_payload(&block.block, previous, version);
            verify(&key, &payload, signature)?;
            signers.push(Some(VerifyingKey::from_dalek(&key)));
        } else {
            signers.push(None);
        }
        if let Some(next) = next {
            current = next;
        }
        previous = &block.signature;
    }
    let last = envelope.blocks.last().unwrap_or(&envelope.authority);
    match envelope.proof.content.as_ref()? {
        Content::NextSecret(secret) => {
            let secret: [u8; 32] = secret.as_slice().try_into().ok()?;
            let public = ed25519_dalek::SigningKey::from_bytes(&secret).verifying_key();
            (public.as_bytes().as_slice() == last.next_key.key.as_slice()).then_some(())?;
        }
        Content::FinalSignature(signature) => {
            let mut payload = last.block.clone();
            payload.extend_from_slice(&last.next_key.algorithm.to_le_bytes());
            payload.extend_from_slice(&last.next_key.key);
            payload.extend_from_slice(&last.signature);
            verify(&current, &payload, signature)?;
        }
    }
    Some(signers)
}

/// A chain with a key of another algorithm, checked by biscuit-auth (decoding the bytes
/// again: such chains are not made by valet).
fn by_biscuit(
    envelope: &schema::Biscuit,
    bytes: &[u8],
    root: &biscuit_auth::PublicKey,
) -> Option<Vec<Option<VerifyingKey>>> {
    let biscuit = biscuit_auth::UnverifiedBiscuit::from(bytes)
        .ok()?
        .verify(*root)
        .ok()?;
    (0..=envelope.blocks.len())
        .map(|i| match biscuit.block_external_key(i).ok()? {
            None => Some(None),
            Some(k) => VerifyingKey::from_biscuit(&k).map(Some),
        })
        .collect()
}

fn ed25519(bytes: &[u8]) -> Option<ed25519_dalek::VerifyingKey> {
    ed25519_dalek::VerifyingKey::from_bytes(bytes.try_into().ok()?).ok()
}

fn verify(key: &ed25519_dalek::VerifyingKey, payload: &[u8], signature: &[u8]) -> Option<()> {
    let signature = ed25519_dalek::Signature::from_bytes(signature.try_into().ok()?);
    key.verify_strict(payload, &signature).ok()
}

/// What block `index`'s signature covers, by signature version.
fn block_payload(
    index: usize,
    block: &SignedBlock,
    version: u32,
    previous: &[u8],
    external: Option<&[u8]>,
) -> Option<Vec<u8>> {
    let algorithm = block.next_key.algorithm.to_le_bytes();
    let next = &block.next_key.key;
    let mut p = Vec::with_capacity(block.block.len() + 200);
    match version {
        0 => {
            p.extend_from_slice(&block.block);
            if let Some(sig) = external {
                p.extend_from_slice(sig);
            }
            p.extend_from_slice(&algorithm);
            p.extend_from_slice(next);
        }
        1 => {
            p.extend_from_slice(b"\0BLOCK\0\0VERSION\0");
            p.extend_from_slice(&version.to_le_bytes());
            p.extend_from_slice(b"\0PAYLOAD\0");
            p.extend_from_slice(&block.block);
            p.extend_from_slice(b"\0ALGORITHM\0");
            p.extend_from_slice(&algorithm);
            p.extend_from_slice(b"\0NEXTKEY\0");
            p.extend_from_slice(next);
            if index > 0 {
                p.extend_from_slice(b"\0PREVSIG\0");
                p.extend_from_slice(previous);
                if let Some(sig) = external {
                    p.extend_from_slice(b"\0EXTERNALSIG\0");
                    p.extend_from_slice(sig);
                }
            }
        }
        _ => return None,
    }
    Some(p)
}

/// What a third-party signature covers (over the previous block's signature).
fn external_payload(block: &[u8], previous: &[u8], version: u32) -> Vec<u8> {
    let mut p = Vec::with_capacity(block.len() + 100);
    p.extend_from_slice(b"\0EXTERNAL\0\0VERSION\0");
    p.extend_from_slice(&version.to_le_bytes());
    p.extend_from_slice(b"\0PAYLOAD\0");
    p.extend_from_slice(block);
    p.extend_from_slice(b"\0PREVSIG\0");
    p.extend_from_slice(previous);
    p
}
