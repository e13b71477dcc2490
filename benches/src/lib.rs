//! Shared fixtures of the Valet benchmarks: keys, tokens of a given depth, one payment
//! request, and synthetic policy sets of a given size written to a temporary directory
//! with the bundled schema.
//!
//! Every benchmark builds its inputs from here, so the baselines (raw Ed25519, Biscuit,
//! Cedar, JWT, Tenuo) and Valet measure the same token shape, the same request and the
//! same policies.

#![forbid(unsafe_code)]

pub mod decision_model;

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
use valet_policy::{EntityData, Step, Transaction};

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

/// The namespace of the bundled schema's types and actions.
pub const NAMESPACE: &str = "Acme";

/// The resource type an action of the bundled schema takes (its `appliesTo` resource),
/// without the namespace.
pub fn resource_type(action: &str) -> &'static str {
    match action {
        "pay_invoice" => "Invoice",
        "read_calendar" => "Calendar",
        "list_files" => "Folder",
        "send_email" => "Mailbox",
        _ => "File",
    }
}

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
/// [`request`] (nor to [`model_transaction`]), so it is allowed only after every
/// applicable policy is looked at.
pub fn policy_text(n: usize) -> String {
    let ns = NAMESPACE;
    let mut out = String::new();
    for a in ACTIONS {
        let scope = if a == "pay_invoice" {
            "payments:write"
        } else {
            "files:read"
        };
        let _ = writeln!(
            out,
            "@id(\"permit-{a}\")\npermit (principal, action == {ns}::Action::\"{a}\", resource)\nwhen {{ context.scopes.contains(\"{scope}\") }};\n"
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
        let r = resource_type(a);
        let _ = match i % 3 {
            0 => writeln!(
                out,
                "@id(\"s{i}\")\nforbid (principal == {ns}::Agent::\"agent-s{i}\", action == {ns}::Action::\"{a}\", resource);\n"
            ),
            1 => writeln!(
                out,
                "@id(\"s{i}\")\npermit (principal == {ns}::Agent::\"agent-s{i}\", action == {ns}::Action::\"{a}\", resource)\nwhen {{ context.scopes.contains(\"extra:{i}\") }};\n"
            ),
            _ if a == "pay_invoice" || a == "send_email" => writeln!(
                out,
                "@id(\"s{i}\")\n@reason(\"recipient r{i} is blocked\")\nforbid (principal, action == {ns}::Action::\"{a}\", resource)\nwhen {{ context.recipient == \"r{i}@example.com\" }};\n"
            ),
            _ => writeln!(
                out,
                "@id(\"s{i}\")\nforbid (principal, action == {ns}::Action::\"{a}\", resource == {ns}::{r}::\"res-{i}\");\n"
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

/// The model of the entity-data benchmarks: the bundled schema, with teams that nest
/// (`entity Team in [Team]`) so that a person can be in a team in a parent team.
pub fn model_schema_text() -> String {
    let text = schema_text();
    if !text.contains("entity Team;") {
        unreachable_fixture(&"the bundled schema no longer declares `entity Team;`")
    }
    text.replacen("entity Team;", "entity Team in [Team];", 1)
}

/// Policies that read the model through its hierarchy: the agent's fleet, the person's
/// teams, the folders a file is in, the file's owner and sensitivity. Each is evaluated
/// for every `read_file` request (the index keys none of them). With or without
/// [`model_entities`], [`model_transaction`] is allowed.
pub const MODEL_POLICIES: [&str; 5] = [
    r#"@id("model-quarantine")
forbid (principal in Acme::Fleet::"quarantine", action, resource);"#,
    r#"@id("model-company-files")
permit (principal, action in [Acme::Action::"read_file", Acme::Action::"list_files"], resource in Acme::Folder::"/")
when { principal.person in Acme::Team::"company" && principal.verified };"#,
    r#"@id("model-sensitive")
forbid (principal, action == Acme::Action::"read_file", resource)
when { resource has sensitivity && resource.sensitivity == "high" && !(principal.person in Acme::Team::"finance") };"#,
    r#"@id("model-owner-deletes")
forbid (principal, action == Acme::Action::"delete_file", resource)
when { !(resource has owner && resource.owner == principal.person) };"#,
    r#"@id("model-assistants-read")
permit (principal in Acme::Fleet::"assistants", action == Acme::Action::"read_file", resource)
when { context.scopes.contains("files:read") };"#,
];

/// `n` policies on the model (`n >= 13`): [`policy_text`] of `n - 5` and the
/// [`MODEL_POLICIES`].
pub fn model_policy_text(n: usize) -> String {
    let mut out = policy_text(n.saturating_sub(MODEL_POLICIES.len()));
    for p in MODEL_POLICIES {
        out.push_str(p);
        out.push_str("\n\n");
    }
    out
}

/// A loaded policy store of [`model_policy_text`]`(n)` over [`model_schema_text`].
pub fn model_store(n: usize) -> PolicyStore {
    let dir = fixture(tempfile::tempdir());
    fixture(std::fs::write(
        dir.path().join("schema.cedarschema"),
        model_schema_text(),
    ));
    fixture(std::fs::write(
        dir.path().join("synthetic.cedar"),
        model_policy_text(n),
    ));
    fixture(PolicyStore::load(dir.path()))
}

/// The file [`model_transaction`] reads.
pub const MODEL_FILE: &str = "/finance/reports/q3.xlsx";

/// The entity data of the model, as the resource server would hold it. For
/// [`model_transaction`] a lookup gathers ten entities: the two delegates in the
/// `assistants` fleet and the fleet; alice (the subject) in `finance` in `company`, and
/// both teams; [`MODEL_FILE`] (owned by alice, of high sensitivity) in `/finance/reports`
/// in `/finance` in `/`, and the three folders. The others (bob, his team, a quarantined
/// agent, other files) are held but not gathered.
pub fn model_entities_json() -> serde_json::Value {
    let uid =
        |ty: &str, id: &str| serde_json::json!({"type": format!("{NAMESPACE}::{ty}"), "id": id});
    let entity = |ty: &str, id: &str, attrs: serde_json::Value, parents: &[(&str, &str)]| {
        serde_json::json!({
            "uid": uid(ty, id),
            "attrs": attrs,
            "parents": parents.iter().map(|(t, i)| uid(t, i)).collect::<Vec<_>>(),
        })
    };
    let none = || serde_json::json!({});
    let alice = serde_json::json!({"__entity": uid("Person", "alice@example.com")});
    serde_json::Value::Array(vec![
        entity("Fleet", "assistants", none(), &[]),
        entity("Agent", "agent-1", none(), &[("Fleet", "assistants")]),
        entity("Agent", "agent-2", none(), &[("Fleet", "assistants")]),
        entity("Team", "company", none(), &[]),
        entity("Team", "finance", none(), &[("Team", "company")]),
        entity(
            "Person",
            "alice@example.com",
            serde_json::json!({"email": "alice@example.com"}),
            &[("Team", "finance")],
        ),
        entity("Folder", "/", none(), &[]),
        entity(
            "Folder",
            "/finance",
            serde_json::json!({"owner": alice.clone()}),
            &[("Folder", "/")],
        ),
        entity(
            "Folder",
            "/finance/reports",
            none(),
            &[("Folder", "/finance")],
        ),
        entity(
            "File",
            MODEL_FILE,
            serde_json::json!({"owner": alice, "sensitivity": "high"}),
            &[("Folder", "/finance/reports")],
        ),
        // Held, not gathered for the request.
        entity("Fleet", "quarantine", none(), &[]),
        entity("Agent", "rogue-bot", none(), &[("Fleet", "quarantine")]),
        entity("Team", "support", none(), &[("Team", "company")]),
        entity("Person", "bob@example.com", none(), &[("Team", "support")]),
        entity("Folder", "/shared", none(), &[("Folder", "/")]),
        entity(
            "File",
            "/shared/menu.pdf",
            serde_json::json!({"sensitivity": "low"}),
            &[("Folder", "/shared")],
        ),
    ])
}

/// [`model_entities_json`], validated against `store`'s schema.
pub fn model_entities(store: &PolicyStore) -> EntityData {
    fixture(EntityData::from_json_value(model_entities_json(), store))
}

/// What [`model_transaction`] borrows: a token of three blocks (the client, then
/// delegates `agent-1` and `agent-2`), its scopes, and the details naming [`MODEL_FILE`].
pub struct ModelRequest {
    chain: Vec<String>,
    scopes: Vec<String>,
    details: TransactionDetails,
}

impl Default for ModelRequest {
    fn default() -> Self {
        Self::new()
    }
}

impl ModelRequest {
    /// The request's parts.
    pub fn new() -> Self {
        ModelRequest {
            chain: vec!["agent-1".to_owned(), "agent-2".to_owned()],
            scopes: vec!["files:read".to_owned(), "payments:write".to_owned()],
            details: TransactionDetails::new("file").with("identifier", MODEL_FILE),
        }
    }

    /// The token as it stood after its first two blocks, as the `valet` Authorizer fills
    /// [`Transaction::earlier`]: the request is judged for the client, `agent-1` and
    /// `agent-2`.
    pub fn earlier(&self) -> [Step<'_>; 2] {
        [0, 1].map(|block| Step {
            block,
            delegates: block,
            scopes: &self.scopes,
            verified: true,
        })
    }
}

/// `agent-2`, the last of a chain of two delegates, reads [`MODEL_FILE`] for alice.
pub fn model_transaction<'a>(parts: &'a ModelRequest, earlier: &'a [Step<'a>]) -> Transaction<'a> {
    Transaction {
        agent: "agent-2",
        subject: "alice@example.com",
        client: "https://orchestrator.example/client",
        chain: &parts.chain,
        action: "read_file",
        audience: "https://files.example.com",
        scopes: &parts.scopes,
        details: Some(&parts.details),
        earlier,
        verified: true,
    }
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
