//! Shared fixtures of the Valet benchmarks: keys, tokens of a given depth, one payment
//! request, and synthetic policy sets of a given size written to a temporary directory
//! with the bundled schema.
//!
//! Every benchmark builds its inputs from here, so the baselines (raw Ed25519, Biscuit,
//! Cedar, JWT, Tenuo) and Valet measure the same token shape, the same request and the
//! same policies.

#![forbid(unsafe_code)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use valet::danger::{BearerMinting, DangerousAuthorizerBuilder};
use valet::{
    Attenuation, Audience, AuthorizationDetail, Authorizer, FixedClock, HolderOptions, HolderProof,
    Issuer, KeyId, KeySet, MemoryRevocations, PolicyStore, Presentation, Request, RootKeyPair,
    Scope, SigningKey, Token, TokenBuilder, TransactionDetails,
};

/// The tools the bundled schema declares, in a fixed order.
pub const ACTIONS: [&str; 7] = [
    "pay_invoice",
    "read_calendar",
    "list_files",
    "read_file",
    "write_file",
    "send_email",
    "delete_file",
];

/// The resource server the tokens are for.
pub const AUDIENCE: &str = "https://pay.example.com";

/// The bundled schema, read from the repository.
pub fn schema_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/schema.cedarschema")
}

/// The bundled schema text.
pub fn schema_text() -> String {
    std::fs::read_to_string(schema_path()).unwrap_or_default()
}

/// A fixed instant (2025-01-01T00:00:00Z) all tokens are minted and judged at.
pub fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_735_689_600)
}

/// The audience of every token and request.
pub fn audience() -> Audience {
    Audience::parse(AUDIENCE).unwrap_or_else(|e| unreachable_fixture(&e))
}

fn unreachable_fixture(e: &dyn std::fmt::Display) -> ! {
    // A fixture that does not build is a bug in the benchmarks, not a measurement.
    #[expect(
        clippy::panic,
        reason = "fixtures are constants; failing loudly is right"
    )]
    {
        panic!("benchmark fixture: {e}")
    }
}

/// Unwraps a fixture result.
pub fn fixture<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| unreachable_fixture(&e))
}

/// Keys and a token builder shared by the benchmarks.
pub struct Fixture {
    /// The issuer's root key.
    pub root: RootKeyPair,
}

impl Default for Fixture {
    fn default() -> Self {
        Self::new()
    }
}

impl Fixture {
    /// A fresh root key with id 1.
    pub fn new() -> Self {
        Fixture {
            root: RootKeyPair::generate(KeyId(1)),
        }
    }

    /// The verifier's key set.
    pub fn keys(&self) -> KeySet {
        KeySet::new().with(self.root.public())
    }

    /// The root grant: audience, two scopes, a payment detail with an amount cap and a
    /// recipient allowlist, ten minutes. Minted as a bearer token (the `danger` opt-in),
    /// as the benchmarks have always measured, unless given a holder key.
    pub fn grant(&self) -> TokenBuilder {
        TokenBuilder::new("alice@example.com", "https://orchestrator.example/client")
            .audience(audience())
            .scope(fixture(Scope::parse("payments:write")))
            .scope(fixture(Scope::parse("files:read")))
            .expires_in(Duration::from_secs(600))
            .token_id("bench-token")
            .detail(
                AuthorizationDetail::new("payment")
                    .max("amount", fixture("1000.00".parse()))
                    .one_of(
                        "recipient",
                        ["alice@example.com", "bob@example.com", "carol@example.com"],
                    ),
            )
            .bearer()
    }

    /// A root token: a bearer token.
    pub fn mint(&self) -> Token {
        fixture(Issuer::new(self.root.clone()).mint_at(self.grant(), now()))
    }

    /// A token of `blocks` blocks: the root, then `blocks - 1` attenuations, each naming a
    /// delegate and lowering the amount cap.
    pub fn token(&self, blocks: usize) -> Token {
        let mut token = self.mint();
        for i in 1..blocks {
            token = fixture(token.attenuate(attenuation(i)));
        }
        token
    }

    /// A holder-bound token of `holders.len()` blocks, as Tenuo's chains are built: the
    /// root bound to `holders[0]`, then each attenuation ([`attenuation`]`(i)`) bound to
    /// `holders[i]` and signed by `holders[i - 1]`, the holder before it. Its proofs of
    /// possession are by the last holder.
    pub fn bound_token(&self, holders: &[SigningKey]) -> Token {
        let Some(first) = holders.first() else {
            unreachable_fixture(&"a bound token needs at least one holder")
        };
        let mut token = fixture(
            Issuer::new(self.root.clone()).mint_at(self.grant().holder(first.public()), now()),
        );
        for (i, pair) in holders.windows(2).enumerate() {
            if let [previous, next] = pair {
                token = fixture(
                    token.attenuate_signed(attenuation(i + 1).holder(next.public()), previous),
                );
            }
        }
        token
    }
}

/// `n` fresh agent keys, the holders of a bound chain of `n` blocks.
pub fn holders(n: usize) -> Vec<SigningKey> {
    (0..n).map(|_| SigningKey::generate()).collect()
}

/// A presentation of `token` for [`request`] with a fresh proof of possession by
/// `holder`, signed at [`now`] with a random nonce.
pub fn presentation_with_proof(holder: &SigningKey, token: &Token) -> Presentation {
    Presentation::new().proof(fixture(HolderProof::sign(holder, token, &request(), now())))
}

/// The `i`-th attenuation (1-based): delegate `agent-i`, amount cap `1000 - 10 i`,
/// recipients alice and bob, expiry a little earlier each time.
pub fn attenuation(i: usize) -> Attenuation {
    let cap = 1000u32.saturating_sub(10 * u32::try_from(i).unwrap_or(0));
    Attenuation::new()
        .delegate(format!("agent-{i}"))
        .max("payment", "amount", fixture(format!("{cap}.00").parse()))
        .one_of(
            "payment",
            "recipient",
            ["alice@example.com", "bob@example.com"],
        )
        .expires_in(Duration::from_secs(600u64.saturating_sub(i as u64)))
        .now(now())
}

/// The payment the benchmarks authorize: 50.00 USD to alice, allowed by every token and
/// every policy set here.
pub fn payment() -> TransactionDetails {
    TransactionDetails::new("payment")
        .with("amount", "50.00")
        .with("currency", "USD")
        .with("recipient", "alice@example.com")
}

/// The request: `pay_invoice` at the audience with [`payment`].
pub fn request() -> Request {
    Request::new(audience(), "pay_invoice").details(payment())
}

/// `n` policies over the bundled schema (`n >= 8`): one permit per action, one forbid
/// naming no action, then per-agent forbids and permits and per-recipient (or
/// per-resource) forbids spread over the actions. None of the synthetic ones applies to
/// [`request`], so it is allowed only after every applicable policy is looked at.
pub fn policy_text(n: usize) -> String {
    let mut out = String::new();
    for a in ACTIONS {
        let scope = if a == "pay_invoice" {
            "payments:write"
        } else {
            "files:read"
        };
        let _ = writeln!(
            out,
            "@id(\"permit-{a}\")\npermit (principal, action == Action::\"{a}\", resource)\nwhen {{ context.scopes.contains(\"{scope}\") }};\n"
        );
    }
    let _ = writeln!(
        out,
        "@id(\"forbid-deep-chains\")\nforbid (principal, action, resource)\nwhen {{ principal.depth > 12 }};\n"
    );
    for i in 0..n.saturating_sub(ACTIONS.len() + 1) {
        let a = ACTIONS
            .get(i % ACTIONS.len())
            .copied()
            .unwrap_or("read_file");
        let _ = match i % 3 {
            0 => writeln!(
                out,
                "@id(\"s{i}\")\nforbid (principal == Agent::\"agent-s{i}\", action == Action::\"{a}\", resource);\n"
            ),
            1 => writeln!(
                out,
                "@id(\"s{i}\")\npermit (principal == Agent::\"agent-s{i}\", action == Action::\"{a}\", resource)\nwhen {{ context.scopes.contains(\"extra:{i}\") }};\n"
            ),
            _ if a == "pay_invoice" || a == "send_email" => writeln!(
                out,
                "@id(\"s{i}\")\n@reason(\"recipient r{i} is blocked\")\nforbid (principal, action == Action::\"{a}\", resource)\nwhen {{ context.recipient == \"r{i}@example.com\" }};\n"
            ),
            _ => writeln!(
                out,
                "@id(\"s{i}\")\nforbid (principal, action == Action::\"{a}\", resource == Resource::\"res-{i}\");\n"
            ),
        };
    }
    out
}

/// A temporary policy directory with the bundled schema and [`policy_text`]`(n)`.
pub fn policy_dir(n: usize) -> tempfile::TempDir {
    let dir = fixture(tempfile::tempdir());
    fixture(std::fs::copy(
        schema_path(),
        dir.path().join("schema.cedarschema"),
    ));
    fixture(std::fs::write(
        dir.path().join("synthetic.cedar"),
        policy_text(n),
    ));
    dir
}

/// A loaded policy store of `n` policies (the directory is removed once loaded).
pub fn policy_store(n: usize) -> PolicyStore {
    let dir = policy_dir(n);
    fixture(PolicyStore::load(dir.path()))
}

/// An authorizer trusting the fixture's key, judging with `n` policies, at [`now`], that
/// honours the fixture's bearer tokens (the `danger` opt-in).
pub fn authorizer(fx: &Fixture, n: usize) -> Authorizer {
    Authorizer::builder(fx.keys(), policy_store(n))
        .accept_bearer_tokens()
        .clock(Arc::new(FixedClock::new(now())))
        .build()
}

/// An authorizer as [`authorizer`], but with the defaults for bearer tokens (refused: it
/// judges bound tokens with their proofs), whose replay cache has room for every proof a
/// benchmark run presents: the clock stands still, so no nonce expires during the run,
/// and every token of the fixture is the same agent's (one subject and client).
pub fn proof_authorizer(fx: &Fixture, n: usize) -> Authorizer {
    Authorizer::builder(fx.keys(), policy_store(n))
        .clock(Arc::new(FixedClock::new(now())))
        .holder_options(HolderOptions {
            replay_capacity: 2_000_000,
            replay_per_agent: 2_000_000,
            ..HolderOptions::default()
        })
        .build()
}

/// An authorizer as [`authorizer`], with this many revoked ids (none of the fixture's).
pub fn authorizer_with_revocations(fx: &Fixture, n: usize, revoked: usize) -> Authorizer {
    let store = Arc::new(MemoryRevocations::new());
    for i in 0..revoked {
        let mut id = vec![0u8; 64];
        for (k, b) in (i as u64).to_le_bytes().iter().enumerate() {
            if let Some(slot) = id.get_mut(k) {
                *slot = *b;
            }
        }
        fixture(valet::RevocationStore::revoke(
            store.as_ref(),
            valet::RevocationId(id),
        ));
    }
    Authorizer::builder(fx.keys(), policy_store(n))
        .accept_bearer_tokens()
        .clock(Arc::new(FixedClock::new(now())))
        .revocations(store)
        .build()
}

/// Where criterion writes its results: `$CARGO_TARGET_DIR/criterion`, else the
/// workspace's `target/criterion`.
pub fn criterion_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("criterion")
}

/// The file, in [`criterion_dir`], where the `sizes` bench writes the token sizes.
pub const SIZES_FILE: &str = "valet-sizes.json";

/// The token sizes the `sizes` bench wrote, as a Markdown table: one row per token, one
/// column per delegation depth, each cell `bytes / base64url characters` or why there is
/// no such token. `None` when the JSON is not of that shape.
pub fn sizes_markdown(sizes: &serde_json::Value) -> Option<String> {
    let columns = sizes.get("columns")?.as_array()?;
    let rows = sizes.get("rows")?.as_array()?;
    let mut out = String::new();
    let _ = write!(out, "| token |");
    for c in columns {
        let _ = write!(out, " {} |", c.as_str()?);
    }
    let _ = write!(out, "\n|---|");
    for _ in columns {
        let _ = write!(out, "---:|");
    }
    out.push('\n');
    for row in rows {
        let _ = write!(out, "| {} |", row.get("token")?.as_str()?);
        for cell in row.get("cells")?.as_array()? {
            match (
                cell.get("bytes").and_then(serde_json::Value::as_u64),
                cell.get("base64url").and_then(serde_json::Value::as_u64),
            ) {
                (Some(b), Some(c)) => {
                    let _ = write!(out, " {b} / {c} |");
                }
                _ => {
                    let _ = write!(
                        out,
                        " {} |",
                        cell.get("none").and_then(serde_json::Value::as_str)?
                    );
                }
            }
        }
        out.push('\n');
    }
    Some(out)
}
