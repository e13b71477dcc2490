//! Token sizes beside a Tenuo warrant and an EdDSA JWT carrying the same grant: one
//! audience (`https://pay.example.com`), one scope (`payments:write`), one amount limit
//! (`payment.amount <= 1000.00`), subject `alice@example.com`, client
//! `https://orchestrator.example/client`, 15 minutes. Valet bearer and holder-bound, at
//! the root and after one and three delegations (each naming a delegate and lowering the
//! amount; the holder-bound ones signed by the holder before and bound to the next, as
//! Tenuo's are); Tenuo's warrant (a tool capability with the amount range and the
//! holder, the same delegations, a delegated chain presented as its stack of warrants);
//! the JWT with the same claims, bearer and bound with `cnf.jwk` (RFC 7800).
//!
//! Not a timing: it prints the table and writes it as JSON to
//! `<criterion dir>/valet-sizes.json`, where `report` reads it. Any arguments (criterion's
//! `--bench`, `--test`, `--quick`) are ignored.

use std::time::Duration;

use serde_json::{json, Value};
use tenuo::constraints::{ConstraintSet, Range};
use tenuo::warrant::Warrant;
use tenuo::wire::{self, WarrantStack};
use valet::danger::BearerMinting;
use valet::{Attenuation, AuthorizationDetail, Issuer, Scope, SigningKey, Token, TokenBuilder};
use valet_benches::{
    audience, criterion_dir, fixture, now, sizes_markdown, Fixture, AUDIENCE, SIZES_FILE,
};

const SUBJECT: &str = "alice@example.com";
const CLIENT: &str = "https://orchestrator.example/client";
const SCOPE: &str = "payments:write";
const LIFETIME: Duration = Duration::from_secs(15 * 60);
/// The delegation depths of the table's columns.
const DEPTHS: [usize; 3] = [0, 1, 3];

/// The amount cap after the `i`-th delegation: 1000.00 at the root, 10.00 lower each time.
fn cap(i: usize) -> f64 {
    1000.0 - 10.0 * i as f64
}

fn cap_text(i: usize) -> String {
    format!("{:.2}", cap(i))
}

/// Unpadded base64url length of `n` bytes.
fn base64url_len(n: usize) -> usize {
    (4 * n).div_ceil(3)
}

/// How many bytes `len` unpadded base64url characters decode to.
fn base64url_decoded_len(len: usize) -> usize {
    len * 3 / 4
}

/// Unpadded base64url (RFC 4648 section 5).
fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let symbol = |v: u32| char::from(ALPHABET.get((v & 63) as usize).copied().unwrap_or(b'A'));
    let mut out = String::with_capacity(base64url_len(bytes.len()));
    for chunk in bytes.chunks(3) {
        let [a, b, c] = [0, 1, 2].map(|i| u32::from(chunk.get(i).copied().unwrap_or(0)));
        let v = (a << 16) | (b << 8) | c;
        for k in 0..=chunk.len() {
            out.push(symbol(v >> (18 - 6 * k)));
        }
    }
    out
}

fn cell(bytes: usize, base64url: usize) -> Value {
    json!({ "bytes": bytes, "base64url": base64url })
}

fn valet_cell(token: &Token) -> Value {
    let bytes = token.to_bytes().len();
    assert_eq!(token.to_base64(), base64url(token.to_bytes()));
    cell(bytes, base64url_len(bytes))
}

fn valet_grant() -> TokenBuilder {
    TokenBuilder::new(SUBJECT, CLIENT)
        .audience(audience())
        .scope(fixture(Scope::parse(SCOPE)))
        .expires_in(LIFETIME)
        .detail(AuthorizationDetail::new("payment").max("amount", fixture("1000.00".parse())))
}

fn valet_attenuation(i: usize) -> Attenuation {
    Attenuation::new().delegate(format!("agent-{i}")).max(
        "payment",
        "amount",
        fixture(cap_text(i).parse()),
    )
}

/// Valet bearer (minted through the `danger` opt-in): the root, then unsigned
/// attenuations.
fn valet_bearer(issuer: &Issuer) -> Vec<Value> {
    let mut token = fixture(issuer.mint_at(valet_grant().bearer(), now()));
    let mut cells = Vec::new();
    for i in 0..=3 {
        if i > 0 {
            token = fixture(token.attenuate(valet_attenuation(i)));
        }
        if DEPTHS.contains(&i) {
            cells.push(valet_cell(&token));
        }
    }
    cells
}

/// Valet holder-bound: the root bound to `holders[0]`, then each attenuation signed by
/// the holder before it and bound to the next.
fn valet_bound(issuer: &Issuer, holders: &[SigningKey]) -> Vec<Value> {
    let first = fixture(holders.first().ok_or("no holder"));
    let mut token = fixture(issuer.mint_at(valet_grant().holder(first.public()), now()));
    let mut cells = vec![valet_cell(&token)];
    for i in 1..=3 {
        let (previous, next) = fixture(
            holders
                .get(i - 1)
                .zip(holders.get(i))
                .ok_or("too few holders"),
        );
        token =
            fixture(token.attenuate_signed(valet_attenuation(i).holder(next.public()), previous));
        if DEPTHS.contains(&i) {
            cells.push(valet_cell(&token));
        }
    }
    cells
}

fn amount(i: usize) -> ConstraintSet {
    ConstraintSet::from_iter(vec![(
        "amount".to_string(),
        fixture(Range::new(Some(0.0), Some(cap(i)))).into(),
    )])
}

/// Tenuo: the root warrant bound to the first holder, then each delegation signed by
/// the holder before it, naming the delegate (`agent_id`) and bound to the next holder.
/// A delegated warrant is presented with its parents: the chain's stack.
fn tenuo_cells() -> Vec<Value> {
    let issuer = tenuo::crypto::SigningKey::generate();
    let keys: Vec<tenuo::crypto::SigningKey> = (0..4)
        .map(|_| tenuo::crypto::SigningKey::generate())
        .collect();
    let key = |i: usize| fixture(keys.get(i).ok_or("no Tenuo key"));
    let root = fixture(
        Warrant::builder()
            .capability(SCOPE, amount(0))
            .ttl(LIFETIME)
            .holder(key(0).public_key())
            .build(&issuer),
    );
    let root_bytes = fixture(wire::encode(&root));
    assert_eq!(
        fixture(wire::encode_base64(&root)).len(),
        base64url_len(root_bytes.len())
    );
    let mut cells = vec![cell(root_bytes.len(), base64url_len(root_bytes.len()))];
    let mut chain = vec![root];
    for i in 1..=3 {
        let parent = fixture(chain.last().ok_or("empty chain"));
        let child = fixture(
            parent
                .attenuate()
                .capability(SCOPE, amount(i))
                .agent_id(format!("agent-{i}"))
                .holder(key(i).public_key())
                .build(key(i - 1)),
        );
        chain.push(child);
        if DEPTHS.contains(&i) {
            let bytes = fixture(wire::encode_stack(&WarrantStack::new(chain.clone()))).len();
            cells.push(cell(bytes, base64url_len(bytes)));
        }
    }
    cells
}

/// The JWT's payload: the same grant as claims, the amount limit as RFC 9396
/// `authorization_details` (Valet's JSON form of the same detail).
fn jwt_claims(cnf: Option<Value>) -> Value {
    let iat = now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let detail = AuthorizationDetail::new("payment").max("amount", fixture("1000.00".parse()));
    let mut claims = json!({
        "sub": SUBJECT,
        "client_id": CLIENT,
        "aud": AUDIENCE,
        "scope": SCOPE,
        "iat": iat,
        "exp": iat + LIFETIME.as_secs(),
        "authorization_details": [fixture(serde_json::to_value(&detail))],
    });
    if let (Some(cnf), Some(map)) = (cnf, claims.as_object_mut()) {
        map.insert("cnf".into(), cnf);
    }
    claims
}

/// An EdDSA JWT of `claims`, with the key id in its header as Valet's token has it.
/// Its bytes are the three decoded segments (header JSON, payload JSON, 64-byte
/// signature); its characters are the compact serialization's, dots included.
fn jwt_cell(claims: &Value) -> Value {
    use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
    let seed = [9u8; 32];
    // PKCS#8 v1 wrapping of an Ed25519 seed (RFC 8410).
    let mut pkcs8 = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    pkcs8.extend_from_slice(&seed);
    let public = ed25519_dalek::SigningKey::from_bytes(&seed)
        .verifying_key()
        .to_bytes();
    let header = Header {
        kid: Some("1".into()),
        ..Header::new(Algorithm::EdDSA)
    };
    let token = fixture(encode(&header, claims, &EncodingKey::from_ed_der(&pkcs8)));
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_audience(&[AUDIENCE]);
    validation.validate_exp = false;
    fixture(decode::<Value>(
        &token,
        &DecodingKey::from_ed_der(&public),
        &validation,
    ));
    let bytes: usize = token
        .split('.')
        .map(|part| base64url_decoded_len(part.len()))
        .sum();
    cell(bytes, token.len())
}

/// The holder's Ed25519 public key as an OKP JWK (RFC 8037), as `cnf.jwk` carries it.
fn jwk(holder: &SigningKey) -> Value {
    json!({ "kty": "OKP", "crv": "Ed25519", "x": base64url(&holder.public().to_bytes()) })
}

fn jwt_row(token: &str, claims: &Value) -> Value {
    let none = json!({ "none": "n/a: cannot be attenuated offline" });
    json!({ "token": token, "cells": [jwt_cell(claims), none.clone(), none] })
}

fn main() {
    let fx = Fixture::new();
    let issuer = Issuer::new(fx.root.clone());
    let holders: Vec<SigningKey> = (0..4).map(|_| SigningKey::generate()).collect();
    let holder = fixture(holders.first().ok_or("no holder"));
    let sizes = json!({
        "grant": format!(
            "audience {AUDIENCE}, scope {SCOPE}, payment.amount <= 1000.00, subject {SUBJECT}, \
             client {CLIENT}, 15 minutes; each delegation names a delegate and lowers the amount"
        ),
        "columns": ["root", "+1 delegation", "+3 delegations"],
        "rows": [
            { "token": "Valet, bearer (unsigned delegations)", "cells": valet_bearer(&issuer) },
            {
                "token": "Valet, holder-bound (each delegation signed by the holder, bound to the next)",
                "cells": valet_bound(&issuer, &holders),
            },
            {
                "token": "Tenuo warrant, holder-bound (delegated: the stack of warrants; no subject, client or audience)",
                "cells": tenuo_cells(),
            },
            jwt_row("JWT (EdDSA), bearer", &jwt_claims(None)),
            jwt_row(
                "JWT (EdDSA), bound (`cnf.jwk`)",
                &jwt_claims(Some(json!({ "jwk": jwk(holder) }))),
            ),
        ],
    });
    let table = fixture(sizes_markdown(&sizes).ok_or("the sizes do not make a table"));
    println!("Token sizes (bytes / base64url characters)\n\n{table}");
    let dir = criterion_dir();
    fixture(std::fs::create_dir_all(&dir));
    let path = dir.join(SIZES_FILE);
    fixture(std::fs::write(
        &path,
        fixture(serde_json::to_string_pretty(&sizes)),
    ));
    println!("written to {}", path.display());
}
