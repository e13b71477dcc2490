//! Baselines measured in the same run as Valet: one raw Ed25519 verify (and a batch of
//! three), plain biscuit-auth verify + authorize of the very same tokens, plain
//! cedar-policy `is_authorized` on the same policies, their plain composition, and an
//! EdDSA JWT decode + verify with jsonwebtoken.

#![expect(
    missing_docs,
    reason = "criterion_main! generates an undocumented main"
)]

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use biscuit_auth::builder::{self as bb, Fact};
use biscuit_auth::{AuthorizerBuilder, Biscuit};
use cedar_policy::{
    Authorizer, Context, Entities, Entity, EntityUid, PolicySet, Request, RestrictedExpression,
    Schema,
};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier as _, VerifyingKey};
use valet_benches::{fixture, policy_text, schema_text, Fixture, AUDIENCE};

/// A 64-byte message, about what one Biscuit block signature covers for a small block.
const MESSAGE: &[u8] = b"valet benchmark message: sixty-four bytes long, like a block hash";

fn ed25519(c: &mut Criterion) {
    let keys: Vec<SigningKey> = (1..=3u8)
        .map(|i| SigningKey::from_bytes(&[i; 32]))
        .collect();
    let publics: Vec<VerifyingKey> = keys.iter().map(SigningKey::verifying_key).collect();
    let sigs: Vec<Signature> = keys.iter().map(|k| k.sign(MESSAGE)).collect();
    let msgs: Vec<&[u8]> = vec![MESSAGE; 3];
    let mut group = c.benchmark_group("ed25519");
    if let (Some(key), Some(sig)) = (publics.first(), sigs.first()) {
        group.bench_function("verify", |b| b.iter(|| key.verify(MESSAGE, sig)));
        group.bench_function("verify_strict", |b| {
            b.iter(|| key.verify_strict(MESSAGE, sig))
        });
    }
    group.bench_function("verify_batch_3", |b| {
        b.iter(|| ed25519_dalek::verify_batch(&msgs, &sigs, &publics))
    });
    group.finish();
}

/// The facts Valet supplies for the benchmark request, built with biscuit's builder.
fn request_facts(blocks: usize) -> Vec<Fact> {
    vec![
        bb::fact("time", &[bb::Term::Date(1_735_689_600)]),
        bb::fact("resource", &[bb::string(AUDIENCE)]),
        bb::fact("operation", &[bb::string("pay_invoice")]),
        bb::fact("blocks", &[bb::int(blocks as i64)]),
        bb::fact("scope", &[bb::string("files:read")]),
        bb::fact("scope", &[bb::string("payments:write")]),
        bb::fact("detail", &[bb::string("payment")]),
        bb::fact("field", &[bb::string("amount"), bb::string("50.00")]),
        bb::fact("decimal", &[bb::string("amount"), bb::int(500_000)]),
        bb::fact("field", &[bb::string("currency"), bb::string("USD")]),
        bb::fact(
            "field",
            &[bb::string("recipient"), bb::string("alice@example.com")],
        ),
    ]
}

fn biscuit_verify_authorize(
    bytes: &[u8],
    key: &biscuit_auth::PublicKey,
    facts: &[Fact],
) -> Result<usize, biscuit_auth::error::Token> {
    let token = Biscuit::from(bytes, key)?;
    let mut builder = AuthorizerBuilder::new();
    for f in facts {
        builder = builder.fact(f.clone())?;
    }
    let mut authorizer = builder.policy("allow if true")?.build(&token)?;
    authorizer.authorize()
}

fn biscuit(c: &mut Criterion) {
    let fx = Fixture::new();
    let public = fx.root.public();
    let mut group = c.benchmark_group("biscuit");
    for blocks in [1usize, 2, 3, 4, 8] {
        let bytes = fx.token(blocks).to_bytes().to_vec();
        let facts = request_facts(blocks);
        fixture(biscuit_verify_authorize(&bytes, public.key(), &facts));
        group.bench_with_input(BenchmarkId::new("blocks", blocks), &bytes, |b, bytes| {
            b.iter(|| biscuit_verify_authorize(bytes, public.key(), &facts))
        });
    }
    group.finish();
}

/// Plain Cedar: the policies and schema parsed once, the request built from JSON.
struct PlainCedar {
    policies: PolicySet,
    schema: Schema,
    action_entities: Vec<Entity>,
}

impl PlainCedar {
    fn new(n: usize) -> Self {
        let policies = fixture(PolicySet::from_str(&policy_text(n)));
        let (schema, _) = fixture(Schema::from_cedarschema_str(&schema_text()));
        let action_entities = fixture(schema.action_entities()).into_iter().collect();
        PlainCedar {
            policies,
            schema,
            action_entities,
        }
    }

    fn request(&self) -> Result<(Request, Entities), Box<dyn std::error::Error>> {
        let principal = EntityUid::from_str(r#"Acme::Agent::"agent-2""#)?;
        let action = EntityUid::from_str(r#"Acme::Action::"pay_invoice""#)?;
        let resource = EntityUid::from_str(&format!("Acme::Invoice::{AUDIENCE:?}"))?;
        let person = EntityUid::from_str(r#"Acme::Person::"alice@example.com""#)?;
        let context = Context::from_json_value(
            serde_json::json!({
                "audience": AUDIENCE,
                "scopes": ["files:read", "payments:write"],
                "amount": {"__extn": {"fn": "decimal", "arg": "50.00"}},
                "currency": "USD",
                "recipient": "alice@example.com",
            }),
            Some((&self.schema, &action)),
        )?;
        let attrs = HashMap::from([
            (
                "person".to_owned(),
                RestrictedExpression::new_entity_uid(person),
            ),
            (
                "subject".to_owned(),
                RestrictedExpression::new_string("alice@example.com".into()),
            ),
            (
                "client".to_owned(),
                RestrictedExpression::new_string("https://orchestrator.example/client".into()),
            ),
            ("depth".to_owned(), RestrictedExpression::new_long(2)),
            (
                "chain".to_owned(),
                RestrictedExpression::new_set([
                    RestrictedExpression::new_string("agent-1".into()),
                    RestrictedExpression::new_string("agent-2".into()),
                ]),
            ),
            ("verified".to_owned(), RestrictedExpression::new_bool(true)),
        ]);
        let mut all = self.action_entities.clone();
        all.push(Entity::new(principal.clone(), attrs, HashSet::new())?);
        all.push(Entity::new_no_attrs(resource.clone(), HashSet::new()));
        let entities = Entities::from_entities(all, Some(&self.schema))?;
        let request = Request::new(principal, action, resource, context, Some(&self.schema))?;
        Ok((request, entities))
    }

    fn decide(&self) -> Result<cedar_policy::Decision, Box<dyn std::error::Error>> {
        let (request, entities) = self.request()?;
        let response = Authorizer::new().is_authorized(&request, &self.policies, &entities);
        Ok(response.decision())
    }
}

fn cedar(c: &mut Criterion) {
    let mut group = c.benchmark_group("cedar");
    for n in [10usize, 100, 1000] {
        let plain = PlainCedar::new(n);
        assert_eq!(fixture(plain.decide()), cedar_policy::Decision::Allow);
        let (request, entities) = fixture(plain.request());
        group.bench_with_input(BenchmarkId::new("is_authorized", n), &n, |b, _| {
            b.iter(|| Authorizer::new().is_authorized(&request, &plain.policies, &entities))
        });
        group.bench_with_input(BenchmarkId::new("with_request", n), &n, |b, _| {
            b.iter(|| plain.decide())
        });
    }
    group.finish();
}

/// Biscuit then Cedar, each used plainly: the composition Valet is measured against.
fn composition(c: &mut Criterion) {
    let fx = Fixture::new();
    let public = fx.root.public();
    let bytes = fx.token(3).to_bytes().to_vec();
    let facts = request_facts(3);
    let plain = PlainCedar::new(100);
    let mut group = c.benchmark_group("plain");
    group.bench_function("composition_3_blocks_100_policies", |b| {
        b.iter(|| {
            biscuit_verify_authorize(&bytes, public.key(), &facts)
                .ok()
                .and_then(|_| plain.decide().ok())
        })
    });
    group.finish();
}

#[derive(serde::Serialize, serde::Deserialize)]
struct JwtClaims {
    sub: String,
    aud: String,
    exp: u64,
    scope: String,
}

fn jwt(c: &mut Criterion) {
    use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
    let seed = [9u8; 32];
    // PKCS#8 v1 wrapping of an Ed25519 seed (RFC 8410).
    let mut pkcs8 = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    pkcs8.extend_from_slice(&seed);
    let public = SigningKey::from_bytes(&seed).verifying_key().to_bytes();
    let claims = JwtClaims {
        sub: "alice@example.com".into(),
        aud: AUDIENCE.into(),
        exp: 4_102_444_800,
        scope: "payments:write files:read".into(),
    };
    let token = fixture(encode(
        &Header::new(Algorithm::EdDSA),
        &claims,
        &EncodingKey::from_ed_der(&pkcs8),
    ));
    let key = DecodingKey::from_ed_der(&public);
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_audience(&[AUDIENCE]);
    fixture(decode::<JwtClaims>(&token, &key, &validation));
    c.bench_function("jwt/eddsa_decode_verify", |b| {
        b.iter(|| decode::<JwtClaims>(&token, &key, &validation))
    });
}

criterion_group!(benches, ed25519, biscuit, cedar, composition, jwt);
criterion_main!(benches);
