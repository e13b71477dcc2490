#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! `valet keypair --kind`, `valet prove`, `valet approve`, and `valet authorize` with
//! proofs and approvals, run as a user runs them.

use std::path::PathBuf;

use assert_cmd::Command;
use predicates::prelude::*;
use tempfile::TempDir;

const POLICIES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies");

const SMALL: &str = r#"{"audience": "https://pay.example.com", "action": "pay_invoice",
 "authorization_details": {"type": "payment", "amount": "42.00",
                           "currency": "USD", "recipient": "alice@example.com"}}"#;
const APPROVED: &str = r#"{"audience": "https://pay.example.com", "action": "pay_invoice",
 "authorization_details": {"type": "payment", "amount": "900.00",
                           "currency": "USD", "recipient": "bob@example.com"}}"#;
const MORE: &str = r#"{"audience": "https://pay.example.com", "action": "pay_invoice",
 "authorization_details": {"type": "payment", "amount": "901.00",
                           "currency": "USD", "recipient": "bob@example.com"}}"#;
const DETAILS: &str = r#"[{"type": "payment", "actions": ["pay_invoice"],
  "limits": {"amount": {"max": "1000.00"}, "currency": {"one_of": ["USD"]}}}]"#;

struct Fixture {
    dir: TempDir,
}

impl Fixture {
    fn new() -> Self {
        let f = Fixture {
            dir: TempDir::new().unwrap(),
        };
        for (name, text) in [
            ("details.json", DETAILS),
            ("small.json", SMALL),
            ("approved.json", APPROVED),
            ("more.json", MORE),
        ] {
            std::fs::write(f.path(name), text).unwrap();
        }
        f.ok(&[
            "keypair",
            "--private-key-file",
            "root.key",
            "--public-key-file",
            "root.pub",
        ]);
        for (kind, name) in [
            ("agent", "agent"),
            ("agent", "sub"),
            ("approver", "owner"),
            ("approver", "stranger"),
        ] {
            f.ok(&[
                "keypair",
                "--kind",
                kind,
                "--private-key-file",
                &format!("{name}.key"),
                "--public-key-file",
                &format!("{name}.pub"),
            ]);
        }
        f
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::cargo_bin("valet").unwrap();
        c.current_dir(self.dir.path()).args(args);
        c
    }

    /// Runs a command that must succeed; returns its standard output.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs a command that must succeed and saves its output as `name`.
    fn save(&self, name: &str, args: &[&str]) {
        let out = self.ok(args);
        std::fs::write(self.path(name), out).unwrap();
    }

    fn mint_bound(&self) {
        self.save(
            "token",
            &[
                "mint",
                "--private-key-file",
                "root.key",
                "--subject",
                "alice@example.com",
                "--client",
                "https://agent.example/client",
                "--audience",
                "https://pay.example.com",
                "--scope",
                "payments:write",
                "--authorization-details",
                "details.json",
                "--add-ttl",
                "15m",
                "--holder-key-file",
                "agent.pub",
            ],
        );
    }

    fn prove(&self, name: &str, token: &str, key: &str, request: &str) {
        self.save(
            name,
            &[
                "prove",
                "--token",
                token,
                "--private-key-file",
                key,
                "--request-json",
                request,
            ],
        );
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
        ];
        args.extend_from_slice(extra);
        self.cmd(&args).assert()
    }
}

#[test]
fn agent_keys_are_written_0600_and_read_back() {
    let f = Fixture::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(f.path("agent.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let public = std::fs::read_to_string(f.path("agent.pub")).unwrap();
    assert!(public.contains("public-key: ed25519/"), "{public}");
    let again = f.ok(&[
        "keypair",
        "--kind",
        "agent",
        "--from-private-key-file",
        "agent.key",
        "--only-public-key",
    ]);
    assert_eq!(again, public);
}

#[test]
fn a_bound_token_is_allowed_with_a_proof_and_refused_without() {
    let f = Fixture::new();
    f.mint_bound();
    f.authorize("token", "small.json", &[])
        .code(2)
        .stdout(predicate::str::contains("bound to holder key ed25519/"))
        .stdout(predicate::str::contains("no valid proof of possession"));
    f.prove("proof.json", "token", "agent.key", "small.json");
    let proof = std::fs::read_to_string(f.path("proof.json")).unwrap();
    assert!(proof.contains("\"nonce\""), "{proof}");
    f.authorize("token", "small.json", &["--proof", "proof.json"])
        .code(0)
        .stdout(predicate::str::starts_with("ALLOW"));
    // A proof by another key is refused.
    f.prove("thief.json", "token", "sub.key", "small.json");
    f.authorize("token", "small.json", &["--proof", "thief.json"])
        .code(2)
        .stdout(predicate::str::contains("a key this token is not bound to"));
    // A proof for another request is refused.
    f.prove("other.json", "token", "agent.key", "approved.json");
    f.authorize("token", "small.json", &["--proof", "other.json"])
        .code(2)
        .stdout(predicate::str::contains("does not verify"));
    // A stale proof is refused.
    f.save(
        "stale.json",
        &[
            "prove",
            "--token",
            "token",
            "--private-key-file",
            "agent.key",
            "--request-json",
            "small.json",
            "--now",
            "2020-01-01T00:00:00Z",
        ],
    );
    f.authorize("token", "small.json", &["--proof", "stale.json"])
        .code(2)
        .stdout(predicate::str::contains("sign a fresh proof"));
}

#[test]
fn a_signed_delegation_shows_verified_links_in_the_audit() {
    let f = Fixture::new();
    f.mint_bound();
    f.save(
        "child",
        &[
            "attenuate",
            "token",
            "--delegate",
            "invoice-agent",
            "--holder-key-file",
            "sub.pub",
            "--private-key-file",
            "agent.key",
            "--limit",
            "payment.amount<=50.00",
        ],
    );
    f.prove("proof.json", "child", "sub.key", "small.json");
    let out = f
        .authorize(
            "child",
            "small.json",
            &["--proof", "proof.json", "--output", "json"],
        )
        .code(0)
        .get_output()
        .stdout
        .clone();
    let doc: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let link = &doc["audit"]["chain"][0];
    assert_eq!(link["verified"], true, "{doc}");
    let agent_pub = std::fs::read_to_string(f.path("agent.pub")).unwrap();
    let signer = link["signed_by"].as_str().unwrap();
    assert!(agent_pub.contains(signer), "{signer} not in {agent_pub}");
    // Signing with a key that is not the holder's is refused before anything is written.
    f.cmd(&[
        "attenuate",
        "token",
        "--holder-key-file",
        "sub.pub",
        "--private-key-file",
        "sub.key",
    ])
    .assert()
    .code(1)
    .stderr(predicate::str::contains(
        "sign the delegation with that key",
    ));
}

impl Fixture {
    /// `valet mint` with the common grant and `extra` flags.
    fn mint_with(&self, extra: &[&str]) -> std::process::Output {
        let mut args = vec![
            "mint",
            "--private-key-file",
            "root.key",
            "--subject",
            "alice@example.com",
            "--client",
            "https://agent.example/client",
            "--audience",
            "https://pay.example.com",
            "--scope",
            "payments:write",
            "--authorization-details",
            "details.json",
            "--add-ttl",
            "15m",
        ];
        args.extend_from_slice(extra);
        self.cmd(&args).output().unwrap()
    }
}

#[test]
fn mint_without_a_holder_key_is_an_error_that_says_what_to_do() {
    let f = Fixture::new();
    let out = f.mint_with(&[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "a token was printed");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("a token must be bound to the agent's key: give its public key with `--holder-key-file agent.pub` (make one with `valet keypair --kind agent`), or mint a bearer token, which anyone holding a copy can use, with `--bearer`"),
        "{err}"
    );
    // Both at once is a usage error.
    let out = f.mint_with(&["--holder-key-file", "agent.pub", "--bearer"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    // The help says what --bearer risks.
    f.cmd(&["mint", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Anyone holding a copy"));
    f.cmd(&["authorize", "--help"]).assert().success().stdout(
        predicate::str::contains("--accept-bearer-tokens").and(predicate::str::contains(
            "anyone holding a copy of one can use it",
        )),
    );
}

#[test]
fn bearer_tokens_are_refused_unless_authorize_accepts_them() {
    let f = Fixture::new();
    let out = f.mint_with(&["--bearer"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(f.path("bearer"), out.stdout).unwrap();
    f.authorize("bearer", "small.json", &[])
        .code(2)
        .stdout(predicate::str::contains(
            "this token is a bearer token, which anyone holding a copy of it can use: mint the token with the agent's public key and sign a proof of possession for each request",
        ));
    f.authorize("bearer", "small.json", &["--accept-bearer-tokens"])
        .code(0);
    // A bound token needs its proof, with the opt-in or without.
    f.mint_bound();
    f.authorize("token", "small.json", &["--accept-bearer-tokens"])
        .code(2)
        .stdout(predicate::str::contains("no valid proof of possession"));
}

#[test]
fn an_approval_allows_exactly_the_approved_payment() {
    let f = Fixture::new();
    f.mint_bound();
    let approve = |name: &str, key: &str, request: &str, ttl: &str| {
        f.save(
            name,
            &[
                "approve",
                "--private-key-file",
                key,
                "--request-json",
                request,
                "--token",
                "token",
                "--add-ttl",
                ttl,
            ],
        );
    };
    approve("approval.json", "owner.key", "approved.json", "5m");
    let approval = std::fs::read_to_string(f.path("approval.json")).unwrap();
    assert!(
        approval.contains("\"subject\":\"alice@example.com\""),
        "{approval}"
    );
    // Without an approval: needs approval (exit 4).
    f.prove("p1.json", "token", "agent.key", "approved.json");
    f.authorize("token", "approved.json", &["--proof", "p1.json"])
        .code(4);
    // With it, from a trusted approver: allowed, and audited.
    f.prove("p2.json", "token", "agent.key", "approved.json");
    f.authorize(
        "token",
        "approved.json",
        &[
            "--proof",
            "p2.json",
            "--approval",
            "approval.json",
            "--approver-key-file",
            "owner.pub",
            "--output",
            "json",
        ],
    )
    .code(0)
    .stdout(predicate::str::contains("\"accepted\":true"));
    // 901.00 is not what was approved.
    f.prove("p3.json", "token", "agent.key", "more.json");
    f.authorize(
        "token",
        "more.json",
        &[
            "--proof",
            "p3.json",
            "--approval",
            "approval.json",
            "--approver-key-file",
            "owner.pub",
        ],
    )
    .code(4)
    .stdout(predicate::str::contains("another transaction"));
    // An approval by a key the verifier does not trust.
    approve("stranger.json", "stranger.key", "approved.json", "5m");
    f.prove("p4.json", "token", "agent.key", "approved.json");
    f.authorize(
        "token",
        "approved.json",
        &[
            "--proof",
            "p4.json",
            "--approval",
            "stranger.json",
            "--approver-key-file",
            "owner.pub",
        ],
    )
    .code(4)
    .stdout(predicate::str::contains("not a trusted approver"));
    // An expired approval.
    f.save(
        "old.json",
        &[
            "approve",
            "--private-key-file",
            "owner.key",
            "--request-json",
            "approved.json",
            "--token",
            "token",
            "--subject",
            "alice@example.com",
            "--now",
            "2020-01-01T00:00:00Z",
        ],
    );
    f.prove("p5.json", "token", "agent.key", "approved.json");
    f.authorize(
        "token",
        "approved.json",
        &[
            "--proof",
            "p5.json",
            "--approval",
            "old.json",
            "--approver-key-file",
            "owner.pub",
        ],
    )
    .code(4)
    .stdout(predicate::str::contains("expired"));
}

#[test]
fn an_approval_cannot_be_spent_by_another_token_of_the_same_person() {
    let f = Fixture::new();
    f.mint_bound();
    // Another token of alice's: handed on to a sub-agent.
    f.save(
        "child",
        &[
            "attenuate",
            "token",
            "--delegate",
            "invoice-agent",
            "--holder-key-file",
            "sub.pub",
            "--private-key-file",
            "agent.key",
        ],
    );
    let approve = |name: &str, token: &str| {
        f.save(
            name,
            &[
                "approve",
                "--private-key-file",
                "owner.key",
                "--request-json",
                "approved.json",
                "--token",
                token,
            ],
        );
    };
    approve("for-token.json", "token");
    let approval = std::fs::read_to_string(f.path("for-token.json")).unwrap();
    assert!(approval.contains("\"token_digest\":\""), "{approval}");
    let trusted = |proof: &'static str, approval: &'static str| {
        [
            "--proof",
            proof,
            "--approval",
            approval,
            "--approver-key-file",
            "owner.pub",
        ]
    };
    f.prove("p1.json", "child", "sub.key", "approved.json");
    f.authorize(
        "child",
        "approved.json",
        &trusted("p1.json", "for-token.json"),
    )
    .code(4)
    .stdout(predicate::str::contains(
        "this approval is for another token",
    ));
    approve("for-child.json", "child");
    f.prove("p2.json", "child", "sub.key", "approved.json");
    f.authorize(
        "child",
        "approved.json",
        &trusted("p2.json", "for-child.json"),
    )
    .code(0);
    // `valet approve` needs the token, and refuses a subject the token does not act for.
    f.cmd(&[
        "approve",
        "--private-key-file",
        "owner.key",
        "--request-json",
        "approved.json",
        "--subject",
        "alice@example.com",
    ])
    .assert()
    .failure()
    .stderr(predicate::str::contains("--token"));
    f.cmd(&[
        "approve",
        "--private-key-file",
        "owner.key",
        "--request-json",
        "approved.json",
        "--token",
        "token",
        "--subject",
        "bob@example.com",
    ])
    .assert()
    .code(1)
    .stderr(predicate::str::contains(
        "the token acts for `alice@example.com`, not `bob@example.com`",
    ));
    // An approval of the first version, which named no token, is refused.
    let mut v1: serde_json::Value = serde_json::from_str(&approval).unwrap();
    v1.as_object_mut().unwrap().remove("token_digest");
    std::fs::write(f.path("v1.json"), v1.to_string()).unwrap();
    f.prove("p3.json", "token", "agent.key", "approved.json");
    f.authorize("token", "approved.json", &trusted("p3.json", "v1.json"))
        .code(1)
        .stderr(predicate::str::contains("sign a new approval"));
}
