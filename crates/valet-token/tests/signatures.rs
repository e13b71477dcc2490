#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Valet's own check of the signature chain, compared with biscuit-auth's
//! (`UnverifiedBiscuit::from(bytes)?.verify(root)`) on crafted variants of real valet
//! tokens: one, two and three blocks, unsigned and third-party-signed attenuations, open
//! and sealed. Each variant is edited at the protobuf level and, where the point is to
//! break one property only, signed again from the root so that everything else verifies.
//! Valet accepts the signatures when the verdict is an allow or a denial after the
//! signatures verified; it refuses them when the verdict carries a `Signature` reason or
//! when the token cannot be read at all.
//!
//! Ed25519 verification is slow in debug builds (about 15 ms), so the default tests run
//! every kind of variant on the tokens where it costs the fewest checks;
//! `every_variant_on_every_token` (ignored: minutes in debug) runs every variant on every
//! base token. Two differences are by design and tested as such: valet refuses, when
//! reading, a third-party block signed by a P-256 key, and a block whose signatures still
//! verify after it was turned into a third-party block or back (its Datalog then no
//! longer reads); and valet picks the root key by the token's key id, so a token with
//! none is refused before its signatures are checked.

mod common;

use std::sync::OnceLock;

use biscuit_auth::format::schema::{self, proof::Content, public_key::Algorithm as Alg};
use biscuit_auth::{KeyPair, PrivateKey, PublicKey};
use common::*;
use proptest::prelude::*;
use proptest::sample::Index;
use prost::Message;
use sha2::{Digest, Sha512};
use valet_token::danger::DangerousVerifier;
use valet_token::*;

const ED25519: i32 = Alg::Ed25519 as i32;
const P256: i32 = Alg::Secp256r1 as i32;

// ---------------------------------------------------------------------------------------
// Points and scalars
// ---------------------------------------------------------------------------------------

/// The eight Ed25519 points of small order, canonically encoded.
const SMALL_ORDER: [&str; 8] = [
    // the identity (order 1)
    "0100000000000000000000000000000000000000000000000000000000000000",
    // (0, -1), order 2
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    // (±sqrt(-1), 0), order 4
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0000000000000000000000000000000000000000000000000000000000000080",
    // order 8
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
];

/// Encodings of the identity other than the canonical one: the sign bit set on x = 0,
/// and y = p + 1 (with and without the sign bit).
const IDENTITY_NON_CANONICAL: [&str; 3] = [
    "0100000000000000000000000000000000000000000000000000000000000080",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
];

/// The Ed25519 base point, canonically encoded.
const BASE_POINT: &str = "5866666666666666666666666666666666666666666666666666666666666666";

fn point(hex_text: &str) -> Vec<u8> {
    hex::decode(hex_text).unwrap()
}

/// Non-canonical point encodings: y = p + k for k in 0..=18 (y >= p), with and without the
/// sign bit, and the sign bit set on the two points with x = 0.
fn non_canonical_points() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for k in 0u8..=18 {
        // p = 2^255 - 19: its low byte is 0xed, then 0xff up to the top byte 0x7f.
        let mut y = vec![0xffu8; 32];
        y[0] = 0xed + k;
        y[31] = 0x7f;
        out.push(y.clone());
        y[31] = 0xff;
        out.push(y);
    }
    out.push(point(IDENTITY_NON_CANONICAL[0]));
    out.push(point(
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    ));
    out
}

/// Every small-order and non-canonical point, each once.
fn weird_points() -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = SMALL_ORDER.iter().map(|p| point(p)).collect();
    for p in non_canonical_points() {
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

/// The eight small-order points and four non-canonical encodings (y = p, y = p + 1, and
/// the sign bit set on x = 0 for the identity and for (0, -1)).
fn quick_points() -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = SMALL_ORDER.iter().map(|p| point(p)).collect();
    out.extend(
        [
            "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
            IDENTITY_NON_CANONICAL[1],
            IDENTITY_NON_CANONICAL[0],
            "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        ]
        .iter()
        .map(|p| point(p)),
    );
    out
}

/// The identity, for variants repeated at every block in the quick run.
fn identity_only() -> Vec<Vec<u8>> {
    vec![point(SMALL_ORDER[0])]
}

/// The group order L = 2^252 + 27742317777372353535851937790883648493, little-endian
/// 64-bit limbs.
const L: [u64; 4] = [
    0x5812_631a_5cf5_d3ed,
    0x14de_f9de_a2f7_9cd6,
    0,
    0x1000_0000_0000_0000,
];

fn limbs(bytes: &[u8]) -> Vec<u64> {
    bytes
        .chunks(8)
        .map(|c| {
            let mut b = [0u8; 8];
            b[..c.len()].copy_from_slice(c);
            u64::from_le_bytes(b)
        })
        .collect()
}

fn to_bytes32(n: &[u64; 4]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (chunk, limb) in out.chunks_mut(8).zip(n) {
        chunk.copy_from_slice(&limb.to_le_bytes());
    }
    out
}

fn at_least(a: &[u64; 4], b: &[u64; 4]) -> bool {
    for (x, y) in a.iter().zip(b).rev() {
        if x != y {
            return x > y;
        }
    }
    true
}

fn sub_assign(a: &mut [u64; 4], b: &[u64; 4]) {
    let mut borrow = 0u64;
    for (x, y) in a.iter_mut().zip(b) {
        let (d, b1) = x.overflowing_sub(*y);
        let (d, b2) = d.overflowing_sub(borrow);
        *x = d;
        borrow = u64::from(b1 || b2);
    }
}

/// `n` (little-endian limbs, any length) modulo L, by binary long division.
fn mod_l(n: &[u64]) -> [u64; 4] {
    let mut r = [0u64; 4];
    for bit in (0..n.len() * 64).rev() {
        // r < L < 2^253, so 2r + 1 fits in 256 bits.
        let mut carry = (n[bit / 64] >> (bit % 64)) & 1;
        for limb in r.iter_mut() {
            let top = *limb >> 63;
            *limb = (*limb << 1) | carry;
            carry = top;
        }
        if at_least(&r, &L) {
            sub_assign(&mut r, &L);
        }
    }
    r
}

fn mul_mod_l(a: &[u64; 4], b: &[u64; 4]) -> [u64; 4] {
    let mut wide = [0u64; 8];
    for (i, x) in a.iter().enumerate() {
        let mut carry = 0u128;
        for (j, y) in b.iter().enumerate() {
            let t = u128::from(wide[i + j]) + u128::from(*x) * u128::from(*y) + carry;
            wide[i + j] = t as u64;
            carry = t >> 64;
        }
        wide[i + 4] = carry as u64;
    }
    mod_l(&wide)
}

/// The signature with L added to its S (the same signature for a lax verifier, a
/// non-canonical one for a strict one).
fn s_plus_l(signature: &[u8]) -> Vec<u8> {
    let mut out = signature.to_vec();
    if out.len() != 64 {
        return out;
    }
    let s = limbs(&out[32..]);
    let mut sum = [0u64; 4];
    let mut carry = 0u128;
    for (k, slot) in sum.iter_mut().enumerate() {
        let t = u128::from(s[k]) + u128::from(L[k]) + carry;
        *slot = t as u64;
        carry = t >> 64;
    }
    out[32..].copy_from_slice(&to_bytes32(&sum));
    out
}

/// A signature of `payload` by the Ed25519 key with seed `seed` whose R is the identity:
/// S = H(R || A || M) * a, which satisfies the cofactorless equation [S]B = R + [k]A but
/// that strict verification refuses (R has small order).
fn identity_r_signature(seed: &[u8], public: &[u8], payload: &[u8]) -> Vec<u8> {
    let h = Sha512::digest(seed);
    let mut a = [0u8; 32];
    a.copy_from_slice(&h[..32]);
    a[0] &= 248;
    a[31] &= 127;
    a[31] |= 64;
    let r = point(SMALL_ORDER[0]);
    let k = Sha512::new()
        .chain_update(&r)
        .chain_update(public)
        .chain_update(payload)
        .finalize();
    let k = mod_l(&limbs(&k));
    let a = mod_l(&limbs(&a));
    let s = mul_mod_l(&k, &a);
    let mut out = r;
    out.extend_from_slice(&to_bytes32(&s));
    out
}

/// What a key with no known secret "signs": R = B, S = 1, which satisfies the cofactorless
/// equation [S]B = R + [k]A for every message when A is the identity.
fn forged_signature() -> Vec<u8> {
    let mut out = point(BASE_POINT);
    let mut s = [0u8; 32];
    s[0] = 1;
    out.extend_from_slice(&s);
    out
}

/// The signature with its R replaced by `r`.
fn with_r(signature: &[u8], r: &[u8]) -> Vec<u8> {
    let mut out = r.to_vec();
    out.extend_from_slice(signature.get(32..).unwrap_or_default());
    out
}

// ---------------------------------------------------------------------------------------
// Keys and signing
// ---------------------------------------------------------------------------------------

/// A key as a chain names it: the public key written in the envelope, and the secret
/// that signs for it when there is one (a relabelled key signs with its real secret).
#[derive(Clone)]
struct Key {
    secret: Option<PrivateKey>,
    public: schema::PublicKey,
}

impl Key {
    fn known(secret: PrivateKey) -> Self {
        Key {
            public: secret.public().to_proto(),
            secret: Some(secret),
        }
    }

    fn fresh() -> Self {
        Key::known(KeyPair::new().private())
    }

    fn fresh_p256() -> Self {
        Key::known(KeyPair::new_with_algorithm(biscuit_auth::Algorithm::Secp256r1).private())
    }

    /// A public key with no known secret.
    fn raw(bytes: &[u8], algorithm: i32) -> Self {
        Key {
            secret: None,
            public: schema::PublicKey {
                algorithm,
                key: bytes.to_vec(),
            },
        }
    }

    /// The same secret, its public key written with another algorithm tag.
    fn relabelled(mut self, algorithm: i32) -> Self {
        self.public.algorithm = algorithm;
        self
    }

    fn sign(&self, payload: &[u8]) -> Vec<u8> {
        match &self.secret {
            Some(s) => KeyPair::from(s).sign(payload).unwrap().to_bytes().to_vec(),
            None => forged_signature(),
        }
    }

    /// The Ed25519 seed, when the key is a known Ed25519 key.
    fn ed25519_seed(&self) -> Option<Vec<u8>> {
        let s = self.secret.as_ref()?;
        (s.algorithm() == Alg::Ed25519).then(|| s.to_bytes().to_vec())
    }
}

/// How to sign a chain: the root, the next key each block names, the third-party signer
/// of each block that carries an external signature, and whether to seal it.
#[derive(Clone)]
struct Plan {
    root: Key,
    next: Vec<Key>,
    external: Vec<Option<Key>>,
    seal: bool,
}

/// A signature the chain carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    Block(usize),
    External(usize),
    Seal,
}

/// Replaces the honest signature of a step (given the signing key and payload).
type Tweak<'a> = &'a dyn Fn(Step, &Key, &[u8], Vec<u8>) -> Vec<u8>;

fn honest(_: Step, _: &Key, _: &[u8], s: Vec<u8>) -> Vec<u8> {
    s
}

fn block_count(env: &schema::Biscuit) -> usize {
    env.blocks.len() + 1
}

fn block(env: &schema::Biscuit, i: usize) -> &schema::SignedBlock {
    if i == 0 {
        &env.authority
    } else {
        &env.blocks[i - 1]
    }
}

fn block_mut(env: &mut schema::Biscuit, i: usize) -> &mut schema::SignedBlock {
    if i == 0 {
        &mut env.authority
    } else {
        &mut env.blocks[i - 1]
    }
}

/// What block `i`'s signature covers, as biscuit-auth 6 builds it.
fn block_payload(i: usize, b: &schema::SignedBlock, previous: &[u8]) -> Vec<u8> {
    let version = b.version.unwrap_or(0);
    let algorithm = b.next_key.algorithm.to_le_bytes();
    let external = b
        .external_signature
        .as_ref()
        .map(|e| e.signature.as_slice());
    let mut p = Vec::new();
    if version == 0 {
        p.extend_from_slice(&b.block);
        if let Some(e) = external {
            p.extend_from_slice(e);
        }
        p.extend_from_slice(&algorithm);
        p.extend_from_slice(&b.next_key.key);
        return p;
    }
    p.extend_from_slice(b"\0BLOCK\0\0VERSION\0");
    p.extend_from_slice(&version.to_le_bytes());
    p.extend_from_slice(b"\0PAYLOAD\0");
    p.extend_from_slice(&b.block);
    p.extend_from_slice(b"\0ALGORITHM\0");
    p.extend_from_slice(&algorithm);
    p.extend_from_slice(b"\0NEXTKEY\0");
    p.extend_from_slice(&b.next_key.key);
    if i > 0 {
        p.extend_from_slice(b"\0PREVSIG\0");
        p.extend_from_slice(previous);
        if let Some(e) = external {
            p.extend_from_slice(b"\0EXTERNALSIG\0");
            p.extend_from_slice(e);
        }
    }
    p
}

/// What a third-party signature covers.
fn external_payload(data: &[u8], previous: &[u8], version: u32) -> Vec<u8> {
    let mut p = b"\0EXTERNAL\0\0VERSION\0".to_vec();
    p.extend_from_slice(&version.to_le_bytes());
    p.extend_from_slice(b"\0PAYLOAD\0");
    p.extend_from_slice(data);
    p.extend_from_slice(b"\0PREVSIG\0");
    p.extend_from_slice(previous);
    p
}

/// What a seal covers.
fn seal_payload(last: &schema::SignedBlock) -> Vec<u8> {
    let mut p = last.block.clone();
    p.extend_from_slice(&last.next_key.algorithm.to_le_bytes());
    p.extend_from_slice(&last.next_key.key);
    p.extend_from_slice(&last.signature);
    p
}

/// Signs `env` again from the root as `plan` says, each signature passed through `tweak`
/// (whose result the rest of the chain then covers).
fn sign_chain(env: &mut schema::Biscuit, plan: &Plan, tweak: Tweak<'_>) {
    let mut current = plan.root.clone();
    let mut previous = Vec::new();
    for i in 0..block_count(env) {
        let next = plan.next[i].clone();
        let b = block_mut(env, i);
        b.next_key = next.public.clone();
        let version = b.version.unwrap_or(0);
        if let (Some(ext), Some(Some(signer))) =
            (b.external_signature.as_mut(), plan.external.get(i))
        {
            ext.public_key = signer.public.clone();
            let payload = external_payload(&b.block, &previous, version);
            ext.signature = tweak(Step::External(i), signer, &payload, signer.sign(&payload));
        }
        let payload = block_payload(i, b, &previous);
        b.signature = tweak(Step::Block(i), &current, &payload, current.sign(&payload));
        previous = b.signature.clone();
        current = next;
    }
    let last = block(env, block_count(env) - 1);
    env.proof.content = Some(if plan.seal {
        let payload = seal_payload(last);
        Content::FinalSignature(tweak(
            Step::Seal,
            &current,
            &payload,
            current.sign(&payload),
        ))
    } else {
        Content::NextSecret(match &current.secret {
            Some(s) => s.to_bytes().to_vec(),
            None => KeyPair::new().private().to_bytes().to_vec(),
        })
    });
}

/// The signature bytes of a step, if the envelope carries it.
fn signature_mut(env: &mut schema::Biscuit, step: Step) -> Option<&mut Vec<u8>> {
    match step {
        Step::Block(i) => Some(&mut block_mut(env, i).signature),
        Step::External(i) => block_mut(env, i)
            .external_signature
            .as_mut()
            .map(|e| &mut e.signature),
        Step::Seal => match env.proof.content.as_mut() {
            Some(Content::FinalSignature(s)) => Some(s),
            _ => None,
        },
    }
}

/// Every signature the envelope carries.
fn steps(env: &schema::Biscuit) -> Vec<Step> {
    let mut out = Vec::new();
    for i in 0..block_count(env) {
        out.push(Step::Block(i));
        if block(env, i).external_signature.is_some() {
            out.push(Step::External(i));
        }
    }
    if matches!(env.proof.content, Some(Content::FinalSignature(_))) {
        out.push(Step::Seal);
    }
    out
}

fn decode(bytes: &[u8]) -> schema::Biscuit {
    schema::Biscuit::decode(bytes).unwrap()
}

fn secret_of(private_text: &str) -> PrivateKey {
    private_text
        .lines()
        .find_map(|l| l.strip_prefix("private-key:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

// ---------------------------------------------------------------------------------------
// The two verdicts
// ---------------------------------------------------------------------------------------

/// What valet made of a token's signatures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Valet {
    /// `Token::from_bytes` refused the bytes.
    Unreadable,
    /// `Token::from_bytes` panicked.
    Panicked,
    /// The token names no key id: refused before any signature is checked.
    NoKeyId,
    /// Refused for another reason before the signatures were checked (only random
    /// flips do this, e.g. to an expiry: the signatures would not verify either).
    Undecided,
    Accepted,
    Refused,
}

fn request() -> Request {
    plain(PAY, "pay_invoice")
}

fn classify(verdict: &Verdict) -> Valet {
    match verdict {
        Verdict::Allowed(_) => Valet::Accepted,
        Verdict::Denied(d) => {
            let signature = d.reasons.iter().any(|r| r.kind == ReasonKind::Signature);
            assert!(
                !(signature && d.signature_verified),
                "a denial both verified and refused the signatures: {d:?}"
            );
            if d.signature_verified {
                Valet::Accepted
            } else if signature {
                Valet::Refused
            } else if d.reasons.iter().any(|r| r.kind == ReasonKind::UnknownKey) {
                Valet::NoKeyId
            } else {
                Valet::Undecided
            }
        }
    }
}

/// Reads `bytes` as valet does, a panic caught and returned as its message.
fn read(bytes: &[u8]) -> Result<Result<Token, TokenError>, String> {
    std::panic::catch_unwind(|| Token::from_bytes(bytes)).map_err(|p| {
        p.downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_default()
    })
}

/// A verifier trusting `root` under the key id `token` names (so that a changed key id
/// still reaches the signatures).
fn verifier_for(token: &Token, root: &PublicKey) -> Verifier {
    let id = token.key_id().unwrap_or(KeyId(1));
    Verifier::new(KeySet::new().with(RootPublicKey::new(id, *root))).accept_bearer_tokens()
}

/// Valet's verdict on the signatures of `bytes` under `root`.
fn valet(bytes: &[u8], root: &PublicKey) -> Valet {
    let token = match read(bytes) {
        Err(_) => return Valet::Panicked,
        Ok(Err(_)) => return Valet::Unreadable,
        Ok(Ok(t)) => t,
    };
    let verdict = verifier_for(&token, root).verify(&token, &request(), now(), &NoRevocations);
    let outcome = classify(&verdict);
    if token.key_id().is_none() {
        assert_eq!(outcome, Valet::NoKeyId, "{verdict:?}");
    }
    outcome
}

/// Whether biscuit-auth 6 accepts the signatures of `bytes` under `root`.
fn biscuit(bytes: &[u8], root: &PublicKey) -> bool {
    biscuit_auth::UnverifiedBiscuit::from(bytes)
        .and_then(|u| u.verify(*root).map_err(Into::into))
        .is_ok()
}

/// The variants checked and how each came out.
#[derive(Default)]
struct Tally {
    checked: Vec<(String, bool, Valet)>,
    mismatches: Vec<String>,
    /// Variants whose signatures verify but whose changed block valet cannot read.
    unreadable_but_signed: Vec<String>,
}

impl Tally {
    /// Checks that valet accepts the signatures of `bytes` exactly when biscuit-auth does
    /// (a token valet cannot read counts as refused). Returns biscuit-auth's answer.
    fn check(&mut self, name: impl Into<String>, bytes: &[u8], root: &PublicKey) -> bool {
        let name = name.into();
        let b = biscuit(bytes, root);
        let v = valet(bytes, root);
        let agree = match v {
            Valet::Accepted => b,
            Valet::Refused | Valet::Unreadable => !b,
            Valet::Panicked | Valet::NoKeyId | Valet::Undecided => false,
        };
        if !agree {
            let verdict = if b { "accepts" } else { "refuses" };
            self.mismatches
                .push(format!("{name}: biscuit-auth {verdict}, valet {v:?}"));
        }
        self.checked.push((name, b, v));
        b
    }

    /// Checks a variant both must accept (the crafting is sound).
    fn accepted(&mut self, name: impl Into<String>, bytes: &[u8], root: &PublicKey) {
        let name = name.into();
        assert!(
            self.check(name.clone(), bytes, root),
            "{name}: biscuit-auth refused"
        );
    }

    /// Checks a variant both must refuse.
    fn refused(&mut self, name: impl Into<String>, bytes: &[u8], root: &PublicKey) {
        let name = name.into();
        assert!(
            !self.check(name.clone(), bytes, root),
            "{name}: biscuit-auth accepted"
        );
    }

    /// Checks a variant whose signatures may verify but whose changed block then no
    /// longer reads as the Datalog it was written as (a block turned into a third-party
    /// block, or back): valet may refuse it when reading, which is then recorded.
    fn check_or_unreadable(&mut self, name: impl Into<String>, bytes: &[u8], root: &PublicKey) {
        let name = name.into();
        let b = biscuit(bytes, root);
        if b {
            if let Ok(Err(e)) = read(bytes) {
                self.unreadable_but_signed.push(format!("{name}: {e}"));
                self.checked.push((name, b, Valet::Unreadable));
                return;
            }
        }
        self.check(name, bytes, root);
    }

    #[track_caller]
    fn finish(self, at_least: usize) {
        let accepted = self.checked.iter().filter(|c| c.1).count();
        let unreadable = self
            .checked
            .iter()
            .filter(|c| c.2 == Valet::Unreadable)
            .count();
        eprintln!(
            "{} variants ({accepted} accepted by biscuit-auth, {unreadable} unreadable by valet)",
            self.checked.len()
        );
        for u in &self.unreadable_but_signed {
            eprintln!("  signatures verify but valet cannot read the block: {u}");
        }
        assert!(
            self.mismatches.is_empty(),
            "valet and biscuit-auth disagree on {} of {} variants:\n{}",
            self.mismatches.len(),
            self.checked.len(),
            self.mismatches.join("\n")
        );
        assert!(
            self.checked.len() >= at_least,
            "only {} variants",
            self.checked.len()
        );
    }
}

// ---------------------------------------------------------------------------------------
// The tokens
// ---------------------------------------------------------------------------------------

/// An attenuation step of a base token.
#[derive(Clone, Copy, Debug)]
enum Hop {
    Unsigned,
    Signed,
}

/// The shapes of the base tokens, each open then sealed: `World::bases[2 * shape + sealed]`.
const SHAPES: [&[Hop]; 5] = [
    &[],
    &[Hop::Unsigned],
    &[Hop::Signed],
    &[Hop::Unsigned, Hop::Signed],
    &[Hop::Signed, Hop::Unsigned],
];

/// The authority alone, open.
const T1: usize = 0;
/// The authority alone, sealed.
const T1_SEALED: usize = 1;
/// An unsigned attenuation, open.
const T2_UNSIGNED: usize = 2;
/// A third-party-signed attenuation, open.
const T2_SIGNED: usize = 4;
/// A third-party-signed attenuation, sealed.
const T2_SIGNED_SEALED: usize = 5;
/// An unsigned then a signed attenuation, open.
const T3: usize = 6;
/// A signed then an unsigned attenuation, sealed.
const T3_SEALED: usize = 9;

/// A real valet token, and how to sign its chain again.
struct Base {
    name: String,
    /// The bytes valet (and biscuit-auth, for the seal) made.
    original: Vec<u8>,
    /// Another token of the same shape, for signatures from elsewhere.
    sibling: Vec<u8>,
    /// Signs the chain again: fresh next keys, the agent for third-party blocks.
    plan: Plan,
    /// The chain signed again, honestly.
    resigned: Vec<u8>,
}

impl Base {
    fn envelope(&self) -> schema::Biscuit {
        decode(&self.original)
    }

    fn blocks(&self) -> usize {
        self.plan.next.len()
    }

    fn signed(&self, i: usize) -> bool {
        self.plan.external[i].is_some()
    }

    /// The token as made and signed again.
    fn forms(&self) -> [(String, &[u8]); 2] {
        [
            (format!("{} as made", self.name), &self.original),
            (format!("{} signed again", self.name), &self.resigned),
        ]
    }

    /// Both forms in full; one in quick (signed again when sealed, else as made).
    fn forms_at(&self, depth: Depth) -> Vec<(String, &[u8])> {
        let [made, again] = self.forms();
        match depth {
            Depth::Full => vec![made, again],
            Depth::Quick if self.plan.seal => vec![again],
            Depth::Quick => vec![made],
        }
    }
}

struct World {
    root: RootPublicKey,
    root_secret: PrivateKey,
    other_root: RootKeyPair,
    agent_secret: PrivateKey,
    bases: Vec<Base>,
}

impl World {
    fn root(&self) -> &PublicKey {
        self.root.key()
    }

    fn base(&self, i: usize) -> &Base {
        &self.bases[i]
    }

    /// The bases a family of variants runs on: `quick` ones, or all of them.
    fn pick(&self, depth: Depth, quick: &[usize]) -> Vec<&Base> {
        match depth {
            Depth::Quick => quick.iter().map(|&i| &self.bases[i]).collect(),
            Depth::Full => self.bases.iter().collect(),
        }
    }

    /// A plan that signs `env` again as it is, with fresh next keys.
    fn plan_for(&self, env: &schema::Biscuit, seal: bool) -> Plan {
        let n = block_count(env);
        Plan {
            root: Key::known(self.root_secret.clone()),
            next: (0..n).map(|_| Key::fresh()).collect(),
            external: (0..n)
                .map(|i| {
                    block(env, i)
                        .external_signature
                        .as_ref()
                        .map(|_| Key::known(self.agent_secret.clone()))
                })
                .collect(),
            seal,
        }
    }

    fn agent(&self) -> Key {
        Key::known(self.agent_secret.clone())
    }
}

/// How many variants to make: a quick selection (every kind of variant at least once, on
/// the tokens where it costs the fewest signature checks: Ed25519 verification is slow
/// in debug builds), or every variant on every base token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Depth {
    Quick,
    Full,
}

fn mint_chain(issuer: &Issuer, agent: &SigningKey, hops: &[Hop]) -> Token {
    let mut token = issuer
        .mint_at(grant().holder(agent.public()), now())
        .unwrap();
    for (n, hop) in hops.iter().enumerate() {
        let step = Attenuation::new().delegate(format!("agent-{n}"));
        token = match hop {
            Hop::Unsigned => token.attenuate(step).unwrap(),
            Hop::Signed => token.attenuate_signed(step, agent).unwrap(),
        };
    }
    token
}

fn seal(bytes: &[u8]) -> Vec<u8> {
    biscuit_auth::UnverifiedBiscuit::from(bytes)
        .unwrap()
        .seal()
        .unwrap()
        .to_vec()
        .unwrap()
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let root = RootKeyPair::generate(KeyId(1));
        let issuer = Issuer::new(root.clone());
        let agent = SigningKey::generate();
        let mut w = World {
            root: root.public(),
            root_secret: secret_of(&root.to_private_text()),
            other_root: RootKeyPair::generate(KeyId(1)),
            agent_secret: secret_of(&agent.to_private_text()),
            bases: Vec::new(),
        };
        for hops in SHAPES {
            let made = mint_chain(&issuer, &agent, hops).to_bytes().to_vec();
            let other = mint_chain(&issuer, &agent, hops).to_bytes().to_vec();
            for sealed in [false, true] {
                let (original, sibling) = if sealed {
                    (seal(&made), seal(&other))
                } else {
                    (made.clone(), other.clone())
                };
                let plan = w.plan_for(&decode(&original), sealed);
                let mut env = decode(&original);
                sign_chain(&mut env, &plan, &honest);
                w.bases.push(Base {
                    name: format!("{hops:?}{}", if sealed { " sealed" } else { "" }),
                    original,
                    sibling,
                    plan,
                    resigned: env.encode_to_vec(),
                });
            }
        }
        w
    })
}

/// The variant of `base` edited by `pre`, signed again under `plan` with `tweak`, then
/// edited by `post`.
fn variant(
    base: &Base,
    plan: &Plan,
    pre: impl FnOnce(&mut schema::Biscuit),
    tweak: Tweak<'_>,
    post: impl FnOnce(&mut schema::Biscuit),
) -> Vec<u8> {
    let mut env = base.envelope();
    pre(&mut env);
    sign_chain(&mut env, plan, tweak);
    post(&mut env);
    env.encode_to_vec()
}

/// `base` signed again under `plan`, honestly.
fn signed_as(base: &Base, plan: &Plan) -> Vec<u8> {
    variant(base, plan, |_| {}, &honest, |_| {})
}

/// The variant of `bytes` edited by `post` only (not signed again).
fn edited(bytes: &[u8], post: impl FnOnce(&mut schema::Biscuit)) -> Vec<u8> {
    let mut env = decode(bytes);
    post(&mut env);
    env.encode_to_vec()
}

// ---------------------------------------------------------------------------------------
// The families of variants
// ---------------------------------------------------------------------------------------

/// The base tokens, as made and signed again: accepted by both.
fn bases(w: &World, depth: Depth, t: &mut Tally) {
    for base in w.pick(depth, &[T1, T1_SEALED, T2_SIGNED, T3_SEALED]) {
        for (name, bytes) in base.forms() {
            t.accepted(name, bytes, w.root());
        }
    }
}

/// Small-order and non-canonical public keys as next keys, third-party signer keys and
/// root keys, each signed for honestly; what the weak key then "signs" is the forgery
/// that passes cofactorless verification under the identity.
fn weak_keys(w: &World, depth: Depth, t: &mut Tally) {
    let all = match depth {
        Depth::Quick => quick_points(),
        Depth::Full => weird_points(),
    };
    let next_key = |t: &mut Tally, base: &Base, i: usize, p: &[u8]| {
        let mut plan = base.plan.clone();
        plan.next[i] = Key::raw(p, ED25519);
        let what = if i + 1 == base.blocks() {
            if base.plan.seal {
                "last next key (the seal forged)"
            } else {
                "last next key (no secret matches)"
            }
        } else {
            "next key (the next block forged)"
        };
        t.refused(
            format!("{}: block {i} {what} {}", base.name, hex::encode(p)),
            &signed_as(base, &plan),
            w.root(),
        );
    };
    let signer_key = |t: &mut Tally, base: &Base, i: usize, p: &[u8]| {
        let mut plan = base.plan.clone();
        plan.external[i] = Some(Key::raw(p, ED25519));
        t.refused(
            format!(
                "{}: block {i} signer key {} (forged)",
                base.name,
                hex::encode(p)
            ),
            &signed_as(base, &plan),
            w.root(),
        );
    };
    // Every point where it costs one or two signature checks.
    for p in &all {
        next_key(t, w.base(T1_SEALED), 0, p);
        next_key(t, w.base(T2_UNSIGNED), 0, p);
        signer_key(t, w.base(T2_SIGNED), 1, p);
    }
    // The identity everywhere else (in full: every point).
    let points = match depth {
        Depth::Quick => identity_only(),
        Depth::Full => all.clone(),
    };
    for base in w.pick(depth, &[T1, T3, T3_SEALED]) {
        for i in 0..base.blocks() {
            for p in &points {
                next_key(t, base, i, p);
                if base.signed(i) {
                    signer_key(t, base, i, p);
                }
            }
        }
    }
    // A weak root key trusted by the verifier, the authority forged for it.
    for p in &all {
        let Ok(weak_root) = PublicKey::from_bytes(p, biscuit_auth::Algorithm::Ed25519) else {
            continue;
        };
        let base = w.base(T2_SIGNED);
        let mut plan = base.plan.clone();
        plan.root = Key::raw(p, ED25519);
        t.refused(
            format!("{}: root key {} (forged)", base.name, hex::encode(p)),
            &signed_as(base, &plan),
            &weak_root,
        );
    }
}

/// Signature replacements applied while signing (the rest of the chain covers them).
type ReplaceFn = dyn Fn(&Key, &[u8], Vec<u8>) -> Vec<u8>;
type Replace = Box<ReplaceFn>;

fn replacements() -> Vec<(&'static str, Replace)> {
    vec![
        (
            "R the identity, S = k*a",
            Box::new(
                |key: &Key, payload: &[u8], s: Vec<u8>| match key.ed25519_seed() {
                    Some(seed) => identity_r_signature(&seed, &key.public.key, payload),
                    None => s,
                },
            ),
        ),
        (
            "S + L",
            Box::new(|_: &Key, _: &[u8], s: Vec<u8>| s_plus_l(&s)),
        ),
        (
            "S + 2L",
            Box::new(|_: &Key, _: &[u8], s: Vec<u8>| s_plus_l(&s_plus_l(&s))),
        ),
        ("all zero", Box::new(|_: &Key, _: &[u8], _| vec![0u8; 64])),
        (
            "R of order 8",
            Box::new(|_: &Key, _: &[u8], s: Vec<u8>| with_r(&s, &point(SMALL_ORDER[4]))),
        ),
        (
            "R of order 2, S = 0",
            Box::new(|_: &Key, _: &[u8], _| with_r(&[0u8; 64], &point(SMALL_ORDER[1]))),
        ),
        (
            "R the identity encoded y = p + 1",
            Box::new(|_: &Key, _: &[u8], s: Vec<u8>| with_r(&s, &point(IDENTITY_NON_CANONICAL[1]))),
        ),
        (
            "63 bytes",
            Box::new(|_: &Key, _: &[u8], mut s: Vec<u8>| {
                s.truncate(63);
                s
            }),
        ),
        (
            "65 bytes",
            Box::new(|_: &Key, _: &[u8], mut s: Vec<u8>| {
                s.push(0);
                s
            }),
        ),
    ]
}

/// The variant of `base` whose signature at `step` is replaced while signing.
fn replaced(base: &Base, step: Step, replace: &ReplaceFn) -> Vec<u8> {
    let tweak = |s: Step, k: &Key, p: &[u8], sig: Vec<u8>| {
        if s == step {
            replace(k, p, sig)
        } else {
            sig
        }
    };
    variant(base, &base.plan, |_| {}, &tweak, |_| {})
}

/// Non-canonical signatures (S >= L), all-zero ones, ones whose R has small order (and
/// one that is valid under the cofactorless equation), truncated and extended ones, at
/// every kind of signature: the authority's, an attenuation's, a third party's, a seal.
fn malformed_signatures(w: &World, depth: Depth, t: &mut Tally) {
    let all = replacements();
    // Every replacement at every kind of signature, where it costs the fewest checks of
    // the signatures before it: the authority's, an attenuation's, a third party's, a
    // seal (in full: at every signature of every base).
    let spots: Vec<(&Base, Step)> = match depth {
        Depth::Quick => vec![
            (w.base(T1), Step::Block(0)),
            (w.base(T2_UNSIGNED), Step::Block(1)),
            (w.base(T2_SIGNED), Step::External(1)),
            (w.base(T1_SEALED), Step::Seal),
        ],
        Depth::Full => w
            .bases
            .iter()
            .flat_map(|b| steps(&decode(&b.resigned)).into_iter().map(move |s| (b, s)))
            .collect(),
    };
    for (base, step) in spots {
        for (what, replace) in &all {
            t.refused(
                format!("{}: {step:?} {what}", base.name),
                &replaced(base, step, replace),
                w.root(),
            );
        }
    }
    // R each small-order point (S kept): at the authority, and at a seal.
    for (base, step) in [(T1, Step::Block(0)), (T1_SEALED, Step::Seal)] {
        let base = w.base(base);
        for p in SMALL_ORDER.iter().chain(&IDENTITY_NON_CANONICAL) {
            let r = point(p);
            let replace = move |_: &Key, _: &[u8], s: Vec<u8>| with_r(&s, &r);
            t.refused(
                format!("{}: {step:?} R = {p}", base.name),
                &replaced(base, step, &replace),
                w.root(),
            );
        }
    }
    // The cofactorless-valid signature at the end of longer chains.
    for (base, step) in [(T3, Step::External(2)), (T3_SEALED, Step::Seal)] {
        let base = w.base(base);
        for (what, replace) in all.iter().take(1) {
            t.refused(
                format!("{}: {step:?} {what}", base.name),
                &replaced(base, step, replace),
                w.root(),
            );
        }
    }
}

/// Which edits of signatures after signing to make.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Edits {
    /// Each signature truncated, extended, emptied, flipped, zeroed, S + L, taken from
    /// another token of the same shape; every pair swapped.
    All,
    /// Each signature taken from another token.
    Foreign,
    /// Every pair swapped.
    Swaps,
}

fn signature_edits(
    t: &mut Tally,
    name: &str,
    bytes: &[u8],
    sibling: &[u8],
    which: Edits,
    root: &PublicKey,
) {
    let all = steps(&decode(bytes));
    let sibling_env = decode(sibling);
    for &step in &all {
        type Edit = Box<dyn Fn(&mut Vec<u8>)>;
        let edits: Vec<(&str, Edit)> = vec![
            (
                "truncated to 63 bytes",
                Box::new(|s: &mut Vec<u8>| s.truncate(63)),
            ),
            (
                "extended to 65 bytes",
                Box::new(|s: &mut Vec<u8>| s.push(0)),
            ),
            (
                "extended to 65 bytes (last byte repeated)",
                Box::new(|s: &mut Vec<u8>| {
                    let last = *s.last().unwrap();
                    s.push(last);
                }),
            ),
            ("empty", Box::new(|s: &mut Vec<u8>| s.clear())),
            ("a bit of R flipped", Box::new(|s: &mut Vec<u8>| s[0] ^= 1)),
            (
                "a bit of S flipped",
                Box::new(|s: &mut Vec<u8>| s[40] ^= 0x10),
            ),
            ("S + L", Box::new(|s: &mut Vec<u8>| *s = s_plus_l(s))),
            ("all zero", Box::new(|s: &mut Vec<u8>| *s = vec![0; 64])),
        ];
        if which == Edits::All {
            for (what, edit) in edits {
                let v = edited(bytes, |env| edit(signature_mut(env, step).unwrap()));
                t.refused(format!("{name}: {step:?} {what}"), &v, root);
            }
        }
        if which != Edits::Swaps {
            let mut other = sibling_env.clone();
            if let Some(s) = signature_mut(&mut other, step) {
                let s = s.clone();
                let v = edited(bytes, |env| *signature_mut(env, step).unwrap() = s);
                t.refused(format!("{name}: {step:?} from another token"), &v, root);
            }
        }
        if which == Edits::Foreign {
            continue;
        }
        for &other_step in all.iter().filter(|&&o| o > step) {
            let v = edited(bytes, |env| {
                let a = signature_mut(env, step).unwrap().clone();
                let b = signature_mut(env, other_step).unwrap().clone();
                *signature_mut(env, step).unwrap() = b;
                *signature_mut(env, other_step).unwrap() = a;
            });
            t.refused(
                format!("{name}: {step:?} swapped with {other_step:?}"),
                &v,
                root,
            );
        }
    }
}

fn edited_signatures_and_blocks(w: &World, depth: Depth, t: &mut Tally) {
    // Every edit on a token with a signed attenuation and on a sealed one, the swaps and
    // foreign signatures on a sealed token with a signed attenuation, the swaps on a
    // three-block token (in full: every edit on every form of every base).
    let runs: Vec<(&Base, usize, Edits)> = match depth {
        Depth::Quick => vec![
            (w.base(T2_SIGNED), 0, Edits::All),
            (w.base(T1_SEALED), 1, Edits::All),
            (w.base(T2_SIGNED_SEALED), 1, Edits::Swaps),
            (w.base(T2_SIGNED_SEALED), 0, Edits::Foreign),
            (w.base(T3), 0, Edits::Swaps),
        ],
        Depth::Full => w
            .bases
            .iter()
            .flat_map(|b| [(b, 0, Edits::All), (b, 1, Edits::All)])
            .collect(),
    };
    for (base, form, which) in runs {
        let (name, bytes) = &base.forms()[form];
        signature_edits(t, name, bytes, &base.sibling, which, w.root());
    }
    // The blocks themselves: one taken out, two swapped, the last repeated, the authority
    // taken from another token.
    for base in w.pick(depth, &[T3_SEALED, T2_UNSIGNED]) {
        let sibling = decode(&base.sibling);
        let v = edited(&base.original, |e| e.authority = sibling.authority.clone());
        t.refused(
            format!("{}: authority of another token", base.name),
            &v,
            w.root(),
        );
        if base.blocks() < 2 {
            continue;
        }
        let v = edited(&base.original, |e| {
            e.blocks.remove(0);
        });
        t.refused(
            format!("{}: first attenuation removed", base.name),
            &v,
            w.root(),
        );
        let v = edited(&base.original, |e| {
            let last = e.blocks.last().unwrap().clone();
            e.blocks.push(last);
        });
        t.refused(format!("{}: last block repeated", base.name), &v, w.root());
        if base.blocks() >= 3 {
            let v = edited(&base.original, |e| e.blocks.swap(0, 1));
            t.refused(format!("{}: attenuations swapped", base.name), &v, w.root());
        }
    }
}

/// A next key wrong, truncated, extended or retagged; the proof's next secret replaced,
/// truncated, extended or missing; a seal corrupted, forged, or turned back into a secret.
fn next_keys_proofs_and_seals(w: &World, depth: Depth, t: &mut Tally) {
    type KeyEdit = Box<dyn Fn(&mut schema::PublicKey)>;
    let key_edits = || -> Vec<(&str, KeyEdit)> {
        vec![
            (
                "another key",
                Box::new(|k: &mut schema::PublicKey| k.key = KeyPair::new().public().to_bytes()),
            ),
            (
                "truncated to 31 bytes",
                Box::new(|k: &mut schema::PublicKey| k.key.truncate(31)),
            ),
            (
                "extended to 33 bytes",
                Box::new(|k: &mut schema::PublicKey| k.key.push(0)),
            ),
            ("empty", Box::new(|k: &mut schema::PublicKey| k.key.clear())),
            (
                "a bit flipped",
                Box::new(|k: &mut schema::PublicKey| k.key[5] ^= 4),
            ),
            (
                "tagged P-256",
                Box::new(|k: &mut schema::PublicKey| k.algorithm = P256),
            ),
            (
                "tagged algorithm 2",
                Box::new(|k: &mut schema::PublicKey| k.algorithm = 2),
            ),
            (
                "tagged algorithm -1",
                Box::new(|k: &mut schema::PublicKey| k.algorithm = -1),
            ),
        ]
    };
    // After signing (the block's signature covers its next key).
    let spots: Vec<(&Base, usize)> = match depth {
        Depth::Quick => vec![
            (w.base(T2_SIGNED), 0),
            (w.base(T2_SIGNED), 1),
            (w.base(T3_SEALED), 2),
        ],
        Depth::Full => w
            .bases
            .iter()
            .flat_map(|b| (0..b.blocks()).map(move |i| (b, i)))
            .collect(),
    };
    for (base, i) in spots {
        for (name, bytes) in base.forms_at(depth) {
            for (what, edit) in key_edits() {
                let v = edited(bytes, |e| edit(&mut block_mut(e, i).next_key));
                t.refused(format!("{name}: block {i} next key {what}"), &v, w.root());
            }
        }
        // A next key signed for, then not the key of the secret or of the next signature.
        let v = variant(
            base,
            &base.plan,
            |_| {},
            &honest,
            |e| {
                block_mut(e, i).next_key = KeyPair::new().public().to_proto();
            },
        );
        t.refused(
            format!("{}: block {i} next key replaced after signing", base.name),
            &v,
            w.root(),
        );
    }

    type ProofEdit = Box<dyn Fn(&mut schema::Proof)>;
    let proof_edits = || -> Vec<(&str, ProofEdit)> {
        vec![
            (
                "missing",
                Box::new(|p: &mut schema::Proof| p.content = None),
            ),
            (
                "the next secret of another key",
                Box::new(|p: &mut schema::Proof| {
                    p.content = Some(Content::NextSecret(
                        KeyPair::new().private().to_bytes().to_vec(),
                    ));
                }),
            ),
            (
                "a next secret of 32 zero bytes",
                Box::new(|p: &mut schema::Proof| {
                    p.content = Some(Content::NextSecret(vec![0; 32]))
                }),
            ),
            (
                "an empty next secret",
                Box::new(|p: &mut schema::Proof| p.content = Some(Content::NextSecret(Vec::new()))),
            ),
            (
                "a seal of zero bytes",
                Box::new(|p: &mut schema::Proof| {
                    p.content = Some(Content::FinalSignature(vec![0; 64]))
                }),
            ),
            (
                "a forged seal",
                Box::new(|p: &mut schema::Proof| {
                    p.content = Some(Content::FinalSignature(forged_signature()));
                }),
            ),
            (
                "an empty seal",
                Box::new(|p: &mut schema::Proof| {
                    p.content = Some(Content::FinalSignature(Vec::new()))
                }),
            ),
        ]
    };
    for base in w.pick(depth, &[T1, T1_SEALED, T2_SIGNED, T2_SIGNED_SEALED]) {
        // Every edit of the proof on one-block tokens, two on longer ones (a proof is
        // checked after every block's signature, so it costs the whole chain).
        let edits = proof_edits();
        let edits = if depth == Depth::Quick && base.blocks() > 1 {
            edits.into_iter().take(2).collect()
        } else {
            edits
        };
        for (name, bytes) in base.forms_at(depth) {
            for (what, edit) in &edits {
                let v = edited(bytes, |e| edit(&mut e.proof));
                t.refused(format!("{name}: proof {what}"), &v, w.root());
            }
            match decode(bytes).proof.content {
                Some(Content::NextSecret(secret)) => {
                    type SecretEdit = Box<dyn Fn(&mut Vec<u8>)>;
                    let secret_edits: Vec<(&str, SecretEdit)> = vec![
                        (
                            "truncated to 31 bytes",
                            Box::new(|s: &mut Vec<u8>| s.truncate(31)),
                        ),
                        (
                            "extended to 33 bytes",
                            Box::new(|s: &mut Vec<u8>| s.push(0)),
                        ),
                        (
                            "extended to 64 bytes",
                            Box::new(|s: &mut Vec<u8>| s.resize(64, 0)),
                        ),
                        ("with a bit flipped", Box::new(|s: &mut Vec<u8>| s[0] ^= 1)),
                    ];
                    let n = if depth == Depth::Quick && base.blocks() > 1 {
                        1
                    } else {
                        4
                    };
                    for (what, edit) in secret_edits.into_iter().take(n) {
                        let mut s = secret.clone();
                        edit(&mut s);
                        let v = edited(bytes, |e| e.proof.content = Some(Content::NextSecret(s)));
                        t.refused(format!("{name}: the next secret {what}"), &v, w.root());
                    }
                    // Sealed by hand with that secret: accepted.
                    let mut env = decode(bytes);
                    let last = block(&env, block_count(&env) - 1).clone();
                    let key = Key::known(
                        PrivateKey::from_bytes(&secret, biscuit_auth::Algorithm::Ed25519).unwrap(),
                    );
                    env.proof.content =
                        Some(Content::FinalSignature(key.sign(&seal_payload(&last))));
                    t.accepted(
                        format!("{name}: sealed by hand"),
                        &env.encode_to_vec(),
                        w.root(),
                    );
                }
                Some(Content::FinalSignature(_)) => {
                    let v = edited(bytes, |e| {
                        if let Some(Content::FinalSignature(s)) = e.proof.content.as_mut() {
                            s[7] ^= 0x40;
                        }
                    });
                    t.refused(format!("{name}: the seal with a bit flipped"), &v, w.root());
                }
                None => unreachable!(),
            }
        }
        if base.plan.seal {
            // Turned back into an open token with the last secret: accepted.
            let mut plan = base.plan.clone();
            plan.seal = false;
            t.accepted(
                format!("{}: unsealed with the last secret", base.name),
                &signed_as(base, &plan),
                w.root(),
            );
            // Sealed over a last next key that does not decode as what its tag says.
            for (what, key) in [
                ("tagged P-256", Key::fresh().relabelled(P256)),
                ("tagged algorithm 3", Key::fresh().relabelled(3)),
            ] {
                let mut plan = base.plan.clone();
                let last = base.blocks() - 1;
                plan.next[last] = key;
                t.refused(
                    format!("{}: sealed, the last next key {what}", base.name),
                    &signed_as(base, &plan),
                    w.root(),
                );
            }
        }
    }
}

/// Block version fields: None, 0, 1, 2, 3 (and u32::MAX in full), signed for and changed
/// after signing, on the authority and on attenuations, with and without an external
/// signature (one added to an unsigned block, or removed from a signed one).
fn block_versions(w: &World, depth: Depth, t: &mut Tally) {
    let mut versions = vec![None, Some(0), Some(1), Some(2), Some(3)];
    if depth == Depth::Full {
        versions.push(Some(u32::MAX));
    }
    let spots: Vec<(&Base, usize)> = match depth {
        Depth::Quick => vec![
            (w.base(T2_SIGNED), 0),
            (w.base(T2_SIGNED), 1),
            (w.base(T2_UNSIGNED), 1),
        ],
        Depth::Full => w
            .bases
            .iter()
            .flat_map(|b| (0..b.blocks()).map(move |i| (b, i)))
            .collect(),
    };
    for (base, i) in spots {
        for &v in &versions {
            // Signed for it (payload format 0, or 1 with the version number in it).
            let bytes = variant(
                base,
                &base.plan,
                |e| block_mut(e, i).version = v,
                &honest,
                |_| {},
            );
            t.check(
                format!("{}: block {i} version {v:?}, signed for", base.name),
                &bytes,
                w.root(),
            );
            // Changed after signing (None and 0 sign alike).
            let bytes = edited(&base.original, |e| block_mut(e, i).version = v);
            t.check(
                format!("{}: block {i} version {v:?} after signing", base.name),
                &bytes,
                w.root(),
            );
            if i == 0 {
                continue;
            }
            if base.signed(i) {
                // The external signature removed, the block signed for that.
                let mut plan = base.plan.clone();
                plan.external[i] = None;
                let pre = |e: &mut schema::Biscuit| {
                    let b = block_mut(e, i);
                    b.version = v;
                    b.external_signature = None;
                };
                let bytes = variant(base, &plan, pre, &honest, |_| {});
                t.check_or_unreadable(
                    format!(
                        "{}: block {i} external signature removed, version {v:?}, signed for",
                        base.name
                    ),
                    &bytes,
                    w.root(),
                );
            } else {
                // An external signature by the agent added, the block signed for that.
                let mut plan = base.plan.clone();
                plan.external[i] = Some(w.agent());
                let pre = |e: &mut schema::Biscuit| {
                    let b = block_mut(e, i);
                    b.version = v;
                    b.external_signature = Some(schema::ExternalSignature {
                        signature: Vec::new(),
                        public_key: KeyPair::new().public().to_proto(),
                    });
                };
                let bytes = variant(base, &plan, pre, &honest, |_| {});
                t.check_or_unreadable(
                    format!(
                        "{}: block {i} external signature added, version {v:?}, signed for",
                        base.name
                    ),
                    &bytes,
                    w.root(),
                );
            }
        }
        if base.signed(i) {
            let bytes = edited(&base.original, |e| {
                block_mut(e, i).external_signature = None
            });
            t.refused(
                format!(
                    "{}: block {i} external signature removed after signing",
                    base.name
                ),
                &bytes,
                w.root(),
            );
        }
    }
}

/// Keys of other algorithms: the P-256 tag on Ed25519 keys, unknown tags, a real P-256
/// next key and root (verified by biscuit-auth for valet), an external signature on the
/// authority.
fn algorithms(w: &World, depth: Depth, t: &mut Tally) {
    for base in w.pick(depth, &[T2_SIGNED]) {
        for i in 0..base.blocks() {
            for (what, alg) in [("the P-256 tag", P256), ("algorithm 5", 5)] {
                let mut plan = base.plan.clone();
                plan.next[i] = plan.next[i].clone().relabelled(alg);
                t.refused(
                    format!("{}: block {i} next key with {what}, signed for", base.name),
                    &signed_as(base, &plan),
                    w.root(),
                );
                if base.signed(i) {
                    let mut plan = base.plan.clone();
                    plan.external[i] = plan.external[i].clone().map(|k| k.relabelled(alg));
                    t.refused(
                        format!(
                            "{}: block {i} signer key with {what}, signed for",
                            base.name
                        ),
                        &signed_as(base, &plan),
                        w.root(),
                    );
                }
            }
        }
    }
    // A real P-256 next key, the chain then signed by it: accepted; each signature after
    // flipped: refused.
    let spots: Vec<(&Base, usize)> = match depth {
        Depth::Quick => vec![(w.base(T2_SIGNED_SEALED), 0)],
        Depth::Full => w
            .bases
            .iter()
            .flat_map(|b| (0..b.blocks()).map(move |i| (b, i)))
            .collect(),
    };
    for (base, i) in spots {
        let mut plan = base.plan.clone();
        plan.next[i] = Key::fresh_p256();
        let v = signed_as(base, &plan);
        t.accepted(
            format!("{}: block {i} P-256 next key", base.name),
            &v,
            w.root(),
        );
        for step in steps(&decode(&v)) {
            let bad = edited(&v, |e| {
                let s = signature_mut(e, step).unwrap();
                let n = s.len() / 2;
                s[n] ^= 1;
            });
            t.refused(
                format!("{}: block {i} P-256 next key, {step:?} flipped", base.name),
                &bad,
                w.root(),
            );
        }
        let bad = edited(&v, |e| {
            if let Some(Content::NextSecret(s)) = e.proof.content.as_mut() {
                s[3] ^= 1;
            }
        });
        if !base.plan.seal {
            t.refused(
                format!("{}: block {i} P-256 next key, secret flipped", base.name),
                &bad,
                w.root(),
            );
        }
    }
    // An external signature on the authority, by the agent, signed for.
    for base in w.pick(depth, &[T1]) {
        for v in [None, Some(0), Some(1)] {
            let mut plan = base.plan.clone();
            plan.external[0] = Some(w.agent());
            let pre = |e: &mut schema::Biscuit| {
                e.authority.version = v;
                e.authority.external_signature = Some(schema::ExternalSignature {
                    signature: Vec::new(),
                    public_key: KeyPair::new().public().to_proto(),
                });
            };
            let bytes = variant(base, &plan, pre, &honest, |_| {});
            t.refused(
                format!(
                    "{}: external signature on the authority, version {v:?}",
                    base.name
                ),
                &bytes,
                w.root(),
            );
        }
    }
    // A P-256 root trusted by the verifier: accepted under it only.
    for base in w.pick(depth, &[T1]) {
        let p256_root = KeyPair::new_with_algorithm(biscuit_auth::Algorithm::Secp256r1);
        let mut plan = base.plan.clone();
        plan.root = Key::known(p256_root.private());
        let v = signed_as(base, &plan);
        t.accepted(
            format!("{}: P-256 root", base.name),
            &v,
            &p256_root.public(),
        );
        t.refused(
            format!("{}: P-256 root, verified under the Ed25519 root", base.name),
            &v,
            w.root(),
        );
        let bad = edited(&v, |e| e.authority.signature[10] ^= 2);
        t.refused(
            format!("{}: P-256 root, its signature flipped", base.name),
            &bad,
            &p256_root.public(),
        );
    }
}

/// The root key id changed (it is not signed), removed, and other root keys.
fn root_keys_and_key_ids(w: &World, depth: Depth, t: &mut Tally) {
    let other = w.other_root.public();
    for base in w.pick(depth, &[T1, T2_SIGNED_SEALED]) {
        for (name, bytes) in base.forms_at(depth) {
            for id in [Some(0), Some(7), Some(u32::MAX)] {
                let v = edited(bytes, |e| e.root_key_id = id);
                t.accepted(format!("{name}: key id {id:?}"), &v, w.root());
            }
            // No key id: biscuit-auth verifies under the key it is given; valet picks the
            // key by id, so refuses before checking a signature.
            let v = edited(bytes, |e| e.root_key_id = None);
            assert!(biscuit(&v, w.root()), "{name}");
            assert_eq!(valet(&v, w.root()), Valet::NoKeyId, "{name}");
            t.refused(
                format!("{name}: verified under another root"),
                bytes,
                other.key(),
            );
        }
        let mut plan = base.plan.clone();
        plan.root = Key::known(secret_of(&w.other_root.to_private_text()));
        let v = signed_as(base, &plan);
        t.accepted(
            format!("{}: signed by another root, under it", base.name),
            &v,
            other.key(),
        );
        t.refused(
            format!("{}: signed by another root, under ours", base.name),
            &v,
            w.root(),
        );
    }
    let issuer = Issuer::new(w.other_root.clone());
    let token = mint_chain(&issuer, &SigningKey::generate(), &[Hop::Unsigned]);
    t.refused("minted by another root", token.to_bytes(), w.root());
    t.accepted(
        "minted by another root, under it",
        token.to_bytes(),
        other.key(),
    );
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

#[test]
fn the_crafted_signatures_are_what_they_claim() {
    use ed25519_dalek::{Signature, Verifier as _, VerifyingKey as DalekKey};
    let sig = |b: &[u8]| Signature::from_bytes(b.try_into().unwrap());
    let dalek = |b: &[u8]| DalekKey::from_bytes(b.try_into().unwrap());
    let key = Key::fresh();
    let public = dalek(&key.public.key).unwrap();
    let message = b"a block payload";
    let honest_sig = key.sign(message);
    assert!(public.verify_strict(message, &sig(&honest_sig)).is_ok());
    // R the identity: a valid cofactorless signature that strict verification refuses.
    let seed = key.ed25519_seed().unwrap();
    let identity_r = identity_r_signature(&seed, &key.public.key, message);
    assert!(public.verify(message, &sig(&identity_r)).is_ok());
    assert!(public.verify_strict(message, &sig(&identity_r)).is_err());
    // S + L: still 253 bits, refused strictly.
    let plus = s_plus_l(&honest_sig);
    assert_ne!(plus, honest_sig);
    assert_eq!(plus[63] & 0xe0, 0);
    assert!(public.verify_strict(message, &sig(&plus)).is_err());
    // R = B, S = 1 under the identity (every encoding): valid cofactorless, refused
    // strictly.
    for encoding in std::iter::once(&SMALL_ORDER[0]).chain(&IDENTITY_NON_CANONICAL) {
        let weak = dalek(&point(encoding)).unwrap();
        assert!(weak.verify(message, &sig(&forged_signature())).is_ok());
        assert!(weak
            .verify_strict(message, &sig(&forged_signature()))
            .is_err());
    }
    // Every small-order point decodes, so chains naming one reach their signature checks.
    for p in SMALL_ORDER {
        assert!(dalek(&point(p)).is_ok(), "{p}");
    }
    let decoding = non_canonical_points()
        .iter()
        .filter(|p| dalek(p).is_ok())
        .count();
    assert!(
        decoding >= 6,
        "only {decoding} non-canonical encodings decode"
    );
}

#[test]
fn valet_reads_verifies_and_caches_alike() {
    // The same classification through the cache (twice) and from the bytes, on the bases
    // and a few refused variants.
    let w = world();
    let mut samples: Vec<Vec<u8>> = Vec::new();
    for i in [T1, T2_SIGNED_SEALED, T3] {
        let base = w.base(i);
        samples.push(base.resigned.clone());
        samples.push(replaced(
            base,
            Step::Block(0),
            &|_: &Key, _: &[u8], s: Vec<u8>| s_plus_l(&s),
        ));
    }
    for bytes in samples {
        let token = Token::from_bytes(&bytes).unwrap();
        let verifier = verifier_for(&token, w.root());
        let expected = valet(&bytes, w.root());
        let cached = verifier.clone().with_cache(8);
        for _ in 0..2 {
            let v = cached.verify(&token, &request(), now(), &NoRevocations);
            assert_eq!(classify(&v), expected);
        }
        let v = verifier.verify_bytes(&bytes, &request(), now(), &NoRevocations);
        assert_eq!(classify(&v), expected);
        assert_eq!(expected == Valet::Accepted, biscuit(&bytes, w.root()));
    }
}

#[test]
fn base_tokens() {
    let mut t = Tally::default();
    bases(world(), Depth::Quick, &mut t);
    t.finish(8);
}

#[test]
fn small_order_and_non_canonical_keys() {
    let mut t = Tally::default();
    weak_keys(world(), Depth::Quick, &mut t);
    t.finish(55);
}

#[test]
fn non_canonical_and_malformed_signatures() {
    let mut t = Tally::default();
    malformed_signatures(world(), Depth::Quick, &mut t);
    t.finish(50);
}

#[test]
fn swapped_truncated_and_foreign_signatures() {
    let mut t = Tally::default();
    edited_signatures_and_blocks(world(), Depth::Quick, &mut t);
    t.finish(50);
}

#[test]
fn next_keys_secrets_and_seals() {
    let mut t = Tally::default();
    next_keys_proofs_and_seals(world(), Depth::Quick, &mut t);
    t.finish(60);
}

#[test]
fn block_version_fields() {
    let mut t = Tally::default();
    block_versions(world(), Depth::Quick, &mut t);
    t.finish(30);
}

#[test]
fn keys_of_other_algorithms() {
    let mut t = Tally::default();
    algorithms(world(), Depth::Quick, &mut t);
    t.finish(15);
}

#[test]
fn root_keys_and_root_key_ids() {
    let mut t = Tally::default();
    root_keys_and_key_ids(world(), Depth::Quick, &mut t);
    t.finish(12);
}

/// Every family on every base token, with every point, version and edit: a few minutes
/// in a debug build (`cargo test -p valet-token --test signatures -- --ignored`).
#[test]
#[ignore = "slow in debug builds: every variant on every base token"]
fn every_variant_on_every_token() {
    let w = world();
    let mut t = Tally::default();
    bases(w, Depth::Full, &mut t);
    weak_keys(w, Depth::Full, &mut t);
    malformed_signatures(w, Depth::Full, &mut t);
    edited_signatures_and_blocks(w, Depth::Full, &mut t);
    next_keys_proofs_and_seals(w, Depth::Full, &mut t);
    block_versions(w, Depth::Full, &mut t);
    algorithms(w, Depth::Full, &mut t);
    root_keys_and_key_ids(w, Depth::Full, &mut t);
    t.finish(2000);
}

/// A third-party block signed by a real P-256 key verifies for biscuit-auth, but valet
/// refuses such a token when reading it (delegations are signed by Ed25519 keys): a
/// refusal by design, not a disagreement on the signatures.
#[test]
fn a_p256_third_party_signer_is_refused_when_read() {
    let w = world();
    let base = w.base(T2_SIGNED);
    let mut plan = base.plan.clone();
    plan.external[1] = Some(Key::fresh_p256());
    let v = signed_as(base, &plan);
    assert!(biscuit(&v, w.root()));
    assert_eq!(valet(&v, w.root()), Valet::Unreadable);
    let err = Token::from_bytes(&v).unwrap_err().to_string();
    assert!(err.contains("P-256"), "{err}");
}

/// Reading a token whose check carries an expression that does not reduce to one value
/// (here: its last operation dropped) refuses it rather than panicking: reading comes
/// before any signature is checked, so anyone can send such bytes. (Random flips found
/// this: reading once formatted such a check with biscuit-auth's `Display`, which
/// unwraps.)
#[test]
fn a_check_with_a_malformed_expression_is_refused_when_read() {
    let w = world();
    let mut env = w.base(T1).envelope();
    let mut authority = schema::Block::decode(env.authority.block.as_slice()).unwrap();
    let ops = authority
        .checks
        .iter_mut()
        .flat_map(|c| c.queries.iter_mut())
        .flat_map(|q| q.expressions.iter_mut())
        .map(|e| &mut e.ops)
        .find(|ops| ops.len() > 1)
        .unwrap();
    ops.pop();
    env.authority.block = authority.encode_to_vec();
    let bytes = env.encode_to_vec();
    assert!(!biscuit(&bytes, w.root()));
    match read(&bytes) {
        Ok(Err(_)) => {}
        Ok(Ok(_)) => panic!("the token was read"),
        Err(p) => panic!("reading the token panicked: {p}"),
    }
}

// ---------------------------------------------------------------------------------------
// Random flips
// ---------------------------------------------------------------------------------------

/// The tokens the flips start from: short chains (each signature check is slow in debug
/// builds), as made and signed again.
fn flip_sources() -> Vec<&'static [u8]> {
    let w = world();
    [T1, T1_SEALED, T2_UNSIGNED, T2_SIGNED]
        .iter()
        .flat_map(|&i| {
            let b = w.base(i);
            [b.original.as_slice(), b.resigned.as_slice()]
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Random bytes and bits flipped anywhere in the encoded token: whenever valet reads
    /// the token and reaches the signatures, it accepts them exactly when biscuit-auth
    /// does. A token valet cannot read, or refuses before the signatures (no key id, an
    /// expiry changed), is refused all the same.
    #[test]
    fn random_flips_agree_with_biscuit(
        source in any::<Index>(),
        flips in prop::collection::vec((any::<Index>(), any::<u8>(), any::<bool>()), 1..=4),
    ) {
        let w = world();
        let mut bytes = source.get(&flip_sources()).to_vec();
        for (at, value, bit) in flips {
            let i = at.index(bytes.len());
            bytes[i] ^= if bit { 1u8 << (value % 8) } else { value.max(1) };
        }
        let b = biscuit(&bytes, w.root());
        match valet(&bytes, w.root()) {
            Valet::Accepted => prop_assert!(b, "valet accepted what biscuit-auth refused"),
            Valet::Refused => prop_assert!(!b, "valet refused what biscuit-auth accepted"),
            Valet::Panicked => prop_assert!(false, "reading the token panicked"),
            Valet::Unreadable | Valet::NoKeyId | Valet::Undecided => {}
        }
    }
}
