#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The entity data of `valet authorize --entities`, `valet validate --entities` and the
//! `entities` of `valet run-tests` cases, with the bundled Acme model: people in teams,
//! files with owners and sensitivity, agents in fleets.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::{json, Value};
use tempfile::TempDir;

const POLICIES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies");
const SENSITIVE: &str = "/finance/reports/q3.xlsx";
const FILES: &str = "https://files.example.com";
const MAIL: &str = "https://mail.example.com";

fn entities_json() -> String {
    format!("{POLICIES}/entities.json")
}

/// A scratch directory with a root key pair; the tokens are bearer tokens, honoured with
/// `--accept-bearer-tokens`, for the tests of entity data (`tests/holder.rs` binds tokens
/// to agents' keys).
struct Fixture {
    dir: TempDir,
}

impl Fixture {
    fn new() -> Self {
        let f = Fixture {
            dir: TempDir::new().unwrap(),
        };
        f.run(&[
            "keypair",
            "--private-key-file",
            "root.key",
            "--public-key-file",
            "root.pub",
        ])
        .success();
        f
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.path(name), text).unwrap();
    }

    fn run(&self, args: &[&str]) -> assert_cmd::assert::Assert {
        Command::cargo_bin("valet")
            .unwrap()
            .current_dir(self.dir.path())
            .args(args)
            .assert()
    }

    /// Mints `name`: a token for `agent` acting for `person` at `audience` with `scope`.
    fn mint(&self, name: &str, person: &str, agent: &str, audience: &str, scope: &str) {
        let out = Command::cargo_bin("valet")
            .unwrap()
            .current_dir(self.dir.path())
            .args([
                "mint",
                "--private-key-file",
                "root.key",
                "--subject",
                person,
                "--client",
                agent,
                "--audience",
                audience,
                "--scope",
                scope,
                "--add-ttl",
                "15m",
                "--bearer",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::write(self.path(name), &out.stdout).unwrap();
    }

    /// Writes the request `name`.
    fn request(&self, name: &str, audience: &str, action: &str, details: Value) {
        let request = json!({
            "audience": audience,
            "action": action,
            "authorization_details": details,
        });
        self.write(name, &request.to_string());
    }

    fn authorize(&self, token: &str, request: &str, extra: &[&str]) -> assert_cmd::assert::Assert {
        let mut args = vec![
            "authorize",
            "--token",
            token,
            "--public-key-file",
            "root.pub",
            "-p",
            POLICIES,
            "--request-json",
            request,
            "--accept-bearer-tokens",
        ];
        args.extend_from_slice(extra);
        self.run(&args)
    }

    /// The request to read the finance team's sensitive file.
    fn read_sensitive(&self) {
        self.request(
            "read.json",
            FILES,
            "read_file",
            json!({"type": "file", "identifier": SENSITIVE}),
        );
    }
}

fn stdout_json(assert: &assert_cmd::assert::Assert) -> Value {
    let out = &assert.get_output().stdout;
    serde_json::from_slice(out).unwrap()
}

#[test]
fn the_sensitive_file_is_open_to_alices_agent_and_closed_to_bobs() {
    let f = Fixture::new();
    f.read_sensitive();
    f.mint("alice-token", "alice", "report-bot", FILES, "tools:read");
    f.mint("bob-token", "bob", "report-bot", FILES, "tools:read");
    let entities = entities_json();
    // alice is in the finance team.
    f.authorize("alice-token", "read.json", &["--entities", &entities])
        .code(0)
        .stdout(
            predicate::str::starts_with("ALLOW")
                .and(predicate::str::contains("permitted by `tools-read`")),
        );
    // bob is in support: `tools-sensitive-files` forbids it, quoting its reason.
    f.authorize("bob-token", "read.json", &["--entities", &entities])
        .code(2)
        .stdout(
            predicate::str::starts_with("DENY")
                .and(predicate::str::contains(
                    "forbidden by `tools-sensitive-files`",
                ))
                .and(predicate::str::contains(
                    "highly sensitive files are open only to agents acting for the finance team",
                )),
        );
    let denied = f.authorize(
        "bob-token",
        "read.json",
        &["--entities", &entities, "--output", "json"],
    );
    let v = stdout_json(&denied.code(2));
    assert_eq!(v["decision"], "deny");
    assert_eq!(v["determining_policies"][0]["id"], "tools-sensitive-files");
    // Without the entity data nothing says the file is sensitive, nor who bob is.
    f.authorize("bob-token", "read.json", &[]).code(0);
}

#[test]
fn an_agent_in_the_quarantine_fleet_is_denied_everything() {
    let f = Fixture::new();
    f.mint("rogue-token", "alice", "rogue-bot", FILES, "tools:read");
    f.request(
        "menu.json",
        FILES,
        "read_file",
        json!({"type": "file", "identifier": "/shared/menu.pdf"}),
    );
    let entities = entities_json();
    f.authorize("rogue-token", "menu.json", &["--entities", &entities])
        .code(2)
        .stdout(
            predicate::str::contains("forbidden by `agents-quarantine`").and(
                predicate::str::contains("agents in the quarantine fleet may do nothing"),
            ),
        );
    // The same agent for the same person, without the fleet data: only the token speaks.
    f.authorize("rogue-token", "menu.json", &[]).code(0);
}

#[test]
fn an_email_scheduled_at_night_needs_approval() {
    let f = Fixture::new();
    f.mint("mail-token", "alice", "report-bot", MAIL, "email:send");
    let email =
        |at: &str| json!({"type": "email", "recipient": "carol@example.com", "send_at": at});
    f.request(
        "night.json",
        MAIL,
        "send_email",
        email("2027-01-15T23:30:00Z"),
    );
    f.request(
        "day.json",
        MAIL,
        "send_email",
        email("2027-01-15T09:30:00Z"),
    );
    f.request(
        "early.json",
        MAIL,
        "send_email",
        email("2027-01-15T06:59:59Z"),
    );
    let entities = entities_json();
    f.authorize("mail-token", "night.json", &["--entities", &entities])
        .code(4)
        .stdout(predicate::str::starts_with(
            "NEEDS APPROVAL: email scheduled outside 07:00-20:00 UTC needs the sender's approval",
        ));
    f.authorize("mail-token", "early.json", &["--entities", &entities])
        .code(4);
    f.authorize("mail-token", "day.json", &["--entities", &entities])
        .code(0)
        .stdout(predicate::str::contains("permitted by `email-send`"));
    // `send_at` is a Cedar datetime: text that is not one is refused, naming the field.
    f.request("not-a-time.json", MAIL, "send_email", email("tonight"));
    f.authorize("mail-token", "not-a-time.json", &["--entities", &entities])
        .code(2)
        .stdout(predicate::str::contains("send_at"));
}

#[test]
fn a_malformed_entities_file_is_an_error_that_names_it() {
    let f = Fixture::new();
    f.read_sensitive();
    f.mint("alice-token", "alice", "report-bot", FILES, "tools:read");
    f.write("broken.json", "[{\"uid\": {\"type\": \"Acme::Person\", ");
    f.authorize("alice-token", "read.json", &["--entities", "broken.json"])
        .code(1)
        .stdout(predicate::str::is_empty())
        .stderr(
            predicate::str::contains("the entities file `broken.json`")
                .and(predicate::str::contains("is not JSON"))
                .and(predicate::str::contains(
                    "give a JSON array of Cedar entities",
                )),
        );
    f.write(
        "object.json",
        "{\"uid\": {\"type\": \"Acme::Person\", \"id\": \"alice\"}}",
    );
    f.authorize("alice-token", "read.json", &["--entities", "object.json"])
        .code(1)
        .stderr(
            predicate::str::contains("`object.json`")
                .and(predicate::str::contains("must be a JSON array")),
        );
    f.authorize("alice-token", "read.json", &["--entities", "missing.json"])
        .code(1)
        .stderr(predicate::str::contains(
            "cannot read the entities file `missing.json`: no such file or directory",
        ));
    f.run(&[
        "--error-format",
        "json",
        "authorize",
        "--token",
        "alice-token",
        "--public-key-file",
        "root.pub",
        "-p",
        POLICIES,
        "--request-json",
        "read.json",
        "--entities",
        "broken.json",
    ])
    .code(1)
    .stderr(
        predicate::str::contains("\"exit_code\":1").and(predicate::str::contains("broken.json")),
    );
}

#[test]
fn an_entities_file_that_does_not_fit_the_schema_is_refused() {
    let f = Fixture::new();
    f.read_sensitive();
    f.mint("alice-token", "alice", "report-bot", FILES, "tools:read");
    // An attribute of the wrong type.
    f.write(
        "wrong-type.json",
        r#"[{"uid": {"type": "Acme::Person", "id": "alice"}, "attrs": {"email": 42},
             "parents": []}]"#,
    );
    // A type the schema does not declare: the bundled names are namespaced `Acme::`.
    f.write(
        "no-namespace.json",
        r#"[{"uid": {"type": "Person", "id": "alice"}, "attrs": {}, "parents": []}]"#,
    );
    // A team made a parent of a file.
    f.write(
        "wrong-parent.json",
        r#"[{"uid": {"type": "Acme::File", "id": "/finance/reports/q3.xlsx"}, "attrs": {},
             "parents": [{"type": "Acme::Team", "id": "finance"}]}]"#,
    );
    for (file, says) in [
        ("wrong-type.json", "`email`"),
        ("no-namespace.json", "`Person`"),
        ("wrong-parent.json", "Acme::Team"),
    ] {
        f.authorize("alice-token", "read.json", &["--entities", file])
            .code(1)
            .stdout(predicate::str::is_empty())
            .stderr(
                predicate::str::contains(format!("the entities file `{file}`"))
                    .and(predicate::str::contains("does not fit the schema"))
                    .and(predicate::str::contains(says)),
            );
        f.run(&["validate", "-p", POLICIES, "--entities", file])
            .code(3)
            .stdout(predicate::str::is_empty())
            .stderr(
                predicate::str::contains(format!("the entities file `{file}`"))
                    .and(predicate::str::contains(says)),
            );
    }
}

#[test]
fn validate_checks_the_bundled_entity_data() {
    let f = Fixture::new();
    let entities = entities_json();
    f.run(&["validate", "-p", POLICIES, "--entities", &entities])
        .code(0)
        .stdout(
            predicate::str::contains("policies in")
                .and(predicate::str::contains("fits the schema")),
        );
    let ok = f.run(&[
        "validate",
        "-p",
        POLICIES,
        "--entities",
        &entities,
        "--output",
        "json",
    ]);
    let v = stdout_json(&ok.code(0));
    assert_eq!(v["valid"], true);
    assert_eq!(v["entities"], entities.as_str());
    f.run(&["validate", "-p", POLICIES, "--entities", "missing.json"])
        .code(1)
        .stderr(predicate::str::contains("missing.json"));
}

/// A copy of the bundled policies and schema, with no tests.
fn policies_copy(f: &Fixture) -> PathBuf {
    let dir = f.path("policies");
    std::fs::create_dir_all(dir.join("tests/entities")).unwrap();
    for entry in std::fs::read_dir(POLICIES).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
        }
    }
    dir
}

/// An agent acting for `person`, with the attributes a raw Cedar request needs (Valet
/// fills them from the token) and the given parents.
fn agent(id: &str, person: &str, parents: &Value) -> Value {
    json!({
        "uid": {"type": "Acme::Agent", "id": id},
        "attrs": {
            "person": {"__entity": {"type": "Acme::Person", "id": person}},
            "subject": person,
            "client": id,
            "depth": 0,
            "chain": [],
            "verified": true
        },
        "parents": parents
    })
}

/// The bundled entity data for a policy test: its agents (which give only their fleets)
/// get their attributes, acting for alice, and `id` is added, acting for `person`.
fn with_agent(id: &str, person: &str) -> Value {
    let text = std::fs::read_to_string(Path::new(POLICIES).join("entities.json")).unwrap();
    let mut entities: Vec<Value> = serde_json::from_str(&text).unwrap();
    for e in &mut entities {
        if e["uid"]["type"] == "Acme::Agent" {
            *e = agent(e["uid"]["id"].as_str().unwrap(), "alice", &e["parents"]);
        }
    }
    entities.push(agent(id, person, &json!([])));
    Value::Array(entities)
}

fn read_case(name: &str, agent: &str, file: &str, entities: Value, decision: &str) -> Value {
    json!({
        "name": name,
        "request": {
            "principal": format!("Acme::Agent::\"{agent}\""),
            "action": "Acme::Action::\"read_file\"",
            "resource": format!("Acme::File::\"{file}\""),
            "context": {"audience": FILES, "scopes": ["tools:read"]}
        },
        "entities": entities,
        "decision": decision,
        "reason": [],
        "num_errors": 0
    })
}

#[test]
fn run_tests_reads_entities_inline_and_from_a_file_with_the_namespaced_model() {
    let f = Fixture::new();
    let policies = policies_copy(&f);
    // The file sits in a subdirectory, so that `run-tests` does not take it for a test
    // file of the directory.
    std::fs::write(
        policies.join("tests/entities/acme.json"),
        with_agent("report-bot", "alice").to_string(),
    )
    .unwrap();
    let mut alice = read_case(
        "alice's agent reads the sensitive file",
        "report-bot",
        SENSITIVE,
        json!("entities/acme.json"),
        "allow",
    );
    alice["reason"] = json!(["tools-read"]);
    let mut bob = read_case(
        "bob's agent may not",
        "report-bot",
        SENSITIVE,
        with_agent("report-bot", "bob"),
        "deny",
    );
    bob["reason"] = json!(["tools-sensitive-files"]);
    let mut rogue = read_case(
        "a quarantined agent reads nothing",
        "rogue-bot",
        "/shared/menu.pdf",
        json!("entities/acme.json"),
        "deny",
    );
    rogue["reason"] = json!(["agents-quarantine"]);
    rogue["outcome"] = json!("deny");
    let cases = json!([alice, bob, rogue]);
    std::fs::write(policies.join("tests/files.json"), cases.to_string()).unwrap();
    f.run(&["run-tests", "-p", "policies"]).code(0).stdout(
        predicate::str::contains("alice's agent reads the sensitive file ... ok")
            .and(predicate::str::contains("bob's agent may not ... ok"))
            .and(predicate::str::contains(
                "a quarantined agent reads nothing ... ok",
            ))
            .and(predicate::str::is_match(r"(?m)^3 passed, 0 failed$").unwrap()),
    );
    // A case naming an entities file that is not there fails, and says which.
    let mut missing = read_case(
        "missing data",
        "report-bot",
        SENSITIVE,
        json!("entities/nope.json"),
        "allow",
    );
    missing["reason"] = json!(["tools-read"]);
    std::fs::write(
        policies.join("tests/missing.json"),
        json!([missing]).to_string(),
    )
    .unwrap();
    f.run(&["run-tests", "-p", "policies"]).code(3).stdout(
        predicate::str::contains("missing data ... FAILED")
            .and(predicate::str::contains("entities/nope.json"))
            .and(predicate::str::is_match(r"(?m)^3 passed, 1 failed$").unwrap()),
    );
    // One test file alone reads its entities file the same way.
    f.run(&[
        "run-tests",
        "-p",
        "policies",
        "--tests",
        "policies/tests/files.json",
    ])
    .code(0)
    .stdout(predicate::str::is_match(r"(?m)^3 passed, 0 failed$").unwrap());
}
