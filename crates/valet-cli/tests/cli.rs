#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Tests of the `valet` binary, run as a user runs it.

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use predicates::prelude::*;
use tempfile::TempDir;

const POLICIES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies");
const README: &str = include_str!("../README.md");

const SMALL: &str = r#"{"audience": "https://pay.example.com", "action": "pay_invoice",
 "authorization_details": {"type": "payment", "amount": "42.00",
                           "currency": "USD", "recipient": "alice@example.com"}}"#;
const LARGE: &str = r#"{"audience": "https://pay.example.com", "action": "pay_invoice",
 "authorization_details": {"type": "payment", "amount": "700.00",
                           "currency": "USD", "recipient": "alice@example.com"}}"#;
const DETAILS: &str = r#"[{"type": "payment", "actions": ["pay_invoice"],
  "limits": {"amount": {"max": "1000.00"}, "currency": {"one_of": ["USD"]}}}]"#;

fn valet() -> Command {
    Command::cargo_bin("valet").unwrap()
}

/// A scratch directory with a key pair, a minted token and requests.
struct Fixture {
    dir: TempDir,
}

impl Fixture {
    fn new() -> Self {
        let f = Fixture {
            dir: TempDir::new().unwrap(),
        };
        f.write("details.json", DETAILS);
        f.write("small.json", SMALL);
        f.write("large.json", LARGE);
        f.run(&[
            "keypair",
            "--private-key-file",
            "root.key",
            "--public-key-file",
            "root.pub",
            "--key-id",
            "1",
        ])
        .success();
        f.mint("token", "root.key", &[]);
        f
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.path(name), text).unwrap();
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap()
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = valet();
        c.current_dir(self.dir.path()).args(args);
        c
    }

    fn run(&self, args: &[&str]) -> assert_cmd::assert::Assert {
        self.cmd(args).assert()
    }

    /// Runs a command that prints a token and saves it as `name`.
    fn save(&self, name: &str, args: &[&str]) {
        let out = self.cmd(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::write(self.path(name), &out.stdout).unwrap();
    }

    fn mint(&self, name: &str, key: &str, extra: &[&str]) {
        let mut args = vec![
            "mint",
            "--private-key-file",
            key,
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
            // Bearer tokens, for the tests of other things: `tests/holder.rs` and the
            // README walk-through bind them to an agent's key.
            "--bearer",
        ];
        args.extend_from_slice(extra);
        self.save(name, &args);
    }

    fn child(&self) {
        self.save(
            "child",
            &[
                "attenuate",
                "token",
                "--delegate",
                "invoice-agent",
                "--limit",
                "payment.amount<=50.00",
                "--allow",
                "payment.recipient=alice@example.com",
                "--add-ttl",
                "10m",
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
            "--accept-bearer-tokens",
        ];
        args.extend_from_slice(extra);
        self.run(&args)
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The commands of the README's ```sh block, each with its expected exit code.
fn readme_commands() -> Vec<(String, i32)> {
    let start = README
        .find("```sh\n")
        .expect("the README has a ```sh block")
        + 6;
    let block = &README[start..];
    let block = &block[..block.find("```").unwrap()];
    let mut lines = block.lines().peekable();
    let mut commands: Vec<(String, i32)> = Vec::new();
    while let Some(line) = lines.next() {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            continue;
        }
        if let Some(code) = trimmed.strip_prefix("# exit ") {
            let last = commands.last_mut().expect("`# exit` follows a command");
            last.1 = code.trim().parse().unwrap();
            continue;
        }
        if trimmed.starts_with('#') {
            continue;
        }
        let mut command = line.to_owned();
        while command.ends_with('\\') {
            command.push('\n');
            command.push_str(lines.next().unwrap());
        }
        if command.contains("<<'EOF'") {
            for body in lines.by_ref() {
                command.push('\n');
                command.push_str(body);
                if body == "EOF" {
                    break;
                }
            }
        }
        commands.push((command, 0));
    }
    commands
}

/// Runs the README's walk-through exactly as written, with `valet` on the PATH, in a
/// scratch directory holding a copy of the repository's policies.
#[test]
fn readme_walkthrough_runs_as_written() {
    let dir = TempDir::new().unwrap();
    copy_dir(Path::new(POLICIES), &dir.path().join("policies"));
    let bin = assert_cmd::cargo::cargo_bin("valet");
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let commands = readme_commands();
    assert!(commands.len() >= 15, "{commands:?}");
    for name in [
        "keypair",
        "mint",
        "attenuate",
        "inspect",
        "authorize",
        "validate",
        "format",
        "run-tests",
        "revoke",
    ] {
        assert!(
            commands
                .iter()
                .any(|(c, _)| c.contains(&format!("valet {name} "))),
            "the walk-through has no `valet {name}`"
        );
    }
    for (command, expected) in commands {
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(&command)
            .current_dir(dir.path())
            .env("PATH", &path)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(expected),
            "{command}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn keypair_writes_a_private_file_0600_and_never_overwrites_it() {
    let f = Fixture::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(f.path("root.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let before = f.read("root.key");
    f.run(&["keypair", "--private-key-file", "root.key"])
        .code(1)
        .stderr(
            predicate::str::contains("already exists").and(predicate::str::contains("--force")),
        );
    assert_eq!(f.read("root.key"), before);
    f.run(&[
        "keypair",
        "--from-private-key-file",
        "root.key",
        "--only-public-key",
    ])
    .success()
    .stdout(predicate::eq(f.read("root.pub")));
    f.run(&[
        "keypair",
        "--private-key-file",
        "root.key",
        "--public-key-file",
        "root.pub",
        "--key-id",
        "2",
        "--force",
    ])
    .success();
    assert_ne!(f.read("root.key"), before);
    assert!(f.read("root.pub").contains("key-id: 2"));
    assert!(!f.read("root.pub").contains("private"));
}

#[test]
fn full_flow_allow_deny_and_needs_approval() {
    let f = Fixture::new();
    f.child();
    f.run(&["inspect", "child", "--public-key-file", "root.pub"])
        .success()
        .stdout(
            predicate::str::contains("subject:    alice@example.com")
                .and(predicate::str::contains(
                    "block 1 (delegate: invoice-agent)",
                ))
                .and(predicate::str::contains("payment.amount at most 50.00"))
                .and(
                    predicate::str::contains("in 9 minutes")
                        .or(predicate::str::contains("in 10 minutes")),
                )
                .and(predicate::str::contains("revocation id: "))
                .and(predicate::str::contains("signature:  valid (key id 1)")),
        );
    // 0: allowed
    f.authorize("child", "small.json", &[])
        .code(0)
        .stdout(predicate::str::starts_with("ALLOW"));
    // 2: the child is capped at 50.00
    f.authorize("child", "large.json", &[])
        .code(2)
        .stdout(predicate::str::contains("limits payment amount to 50.00"));
    // 4: the root token allows 700.00, the policies ask for approval above 500.00
    f.authorize("token", "large.json", &[])
        .code(4)
        .stdout(predicate::str::contains("NEEDS APPROVAL"));
    let out = f
        .cmd(&[
            "authorize",
            "--token",
            "token",
            "--public-key-file",
            "root.pub",
            "-p",
            POLICIES,
            "--request-json",
            "large.json",
            "--output",
            "json",
            "--accept-bearer-tokens",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(v["decision"], "needs_approval");
    assert_eq!(v["audit"]["outcome"], "needs_approval");
    assert_eq!(v["audit"]["subject"], "alice@example.com");
    assert!(v["approval"].as_str().unwrap().contains("500.00"));
}

#[test]
fn tokens_are_read_from_standard_input() {
    let f = Fixture::new();
    let token = f.read("token");
    let out = f
        .cmd(&["attenuate", "-", "--delegate", "helper"])
        .write_stdin(token)
        .output()
        .unwrap();
    assert!(out.status.success());
    f.cmd(&["inspect", "-", "--output", "json"])
        .write_stdin(out.stdout)
        .assert()
        .success()
        .stdout(predicate::str::contains("\"delegate\": \"helper\""));
}

#[test]
fn a_widening_is_refused() {
    let f = Fixture::new();
    f.child();
    f.run(&["attenuate", "child", "--limit", "payment.amount<=60.00"])
        .code(1)
        .stdout(predicate::str::is_empty())
        .stderr(
            predicate::str::contains("attenuation refused").and(predicate::str::contains("50.00")),
        );
    f.run(&[
        "attenuate",
        "child",
        "--audience",
        "https://other.example.com",
    ])
    .code(1)
    .stderr(predicate::str::contains("attenuation refused"));
    f.run(&["attenuate", "child", "--scope", "admin"])
        .code(1)
        .stderr(predicate::str::contains("scope `admin`"));
    f.run(&["attenuate", "child", "--add-ttl", "45m"])
        .code(1)
        .stderr(predicate::str::contains("later than the parent"));
    f.run(&["attenuate", "child", "--limit", "amount<=5"])
        .code(1)
        .stderr(predicate::str::contains("payment.amount<=50.00"));
}

#[test]
fn a_truncated_token_is_an_error() {
    let f = Fixture::new();
    let token = f.read("token");
    f.write("truncated", &token[..token.len() / 2]);
    f.run(&["inspect", "truncated"])
        .code(1)
        .stderr(predicate::str::contains("does not hold a readable token"));
    f.authorize("truncated", "small.json", &[])
        .code(1)
        .stderr(predicate::str::contains(
            "check that the whole token was copied",
        ));
}

#[test]
fn a_token_signed_by_another_key_is_refused() {
    let f = Fixture::new();
    f.run(&[
        "keypair",
        "--private-key-file",
        "other.key",
        "--public-key-file",
        "other.pub",
        "--key-id",
        "1",
    ])
    .success();
    f.mint("forged", "other.key", &[]);
    f.run(&["inspect", "forged", "--public-key-file", "root.pub"])
        .code(1)
        .stdout(predicate::str::contains("INVALID"))
        .stderr(predicate::str::contains("signed by another key"));
    f.authorize("forged", "small.json", &[])
        .code(2)
        .stdout(predicate::str::contains("signature"));
}

#[test]
fn an_unknown_key_id_is_refused() {
    let f = Fixture::new();
    f.run(&[
        "keypair",
        "--private-key-file",
        "k9.key",
        "--public-key-file",
        "k9.pub",
        "--key-id",
        "9",
    ])
    .success();
    f.mint("nine", "k9.key", &[]);
    f.authorize("nine", "small.json", &[])
        .code(2)
        .stdout(predicate::str::contains("key id 9"));
    f.run(&["inspect", "nine", "--public-key-file", "root.pub"])
        .code(1)
        .stderr(predicate::str::contains("key id 9"));
}

#[test]
fn missing_files_are_errors_that_name_them() {
    let f = Fixture::new();
    f.run(&["inspect", "no-such-token"]).code(1).stderr(
        predicate::str::contains("`no-such-token`").and(predicate::str::contains("no such file")),
    );
    f.authorize("token", "no-such-request.json", &[])
        .code(1)
        .stderr(predicate::str::contains("no-such-request.json"));
    f.run(&[
        "authorize",
        "--token",
        "token",
        "--public-key-file",
        "missing.pub",
        "-p",
        POLICIES,
        "--request-json",
        "small.json",
    ])
    .code(1)
    .stderr(predicate::str::contains("missing.pub").and(predicate::str::contains("valet keypair")));
    f.run(&[
        "mint",
        "--private-key-file",
        "missing.key",
        "--subject",
        "a",
        "--client",
        "b",
        "--audience",
        "https://pay.example.com",
        "--add-ttl",
        "5m",
    ])
    .code(1)
    .stderr(predicate::str::contains("missing.key"));
}

#[test]
fn a_missing_policy_directory_is_an_error() {
    let f = Fixture::new();
    f.run(&["validate", "-p", "no-such-dir"])
        .code(1)
        .stderr(predicate::str::contains("no-such-dir"));
    f.run(&[
        "authorize",
        "--token",
        "token",
        "--public-key-file",
        "root.pub",
        "-p",
        "no-such-dir",
        "--request-json",
        "small.json",
    ])
    .code(1)
    .stderr(predicate::str::contains("no-such-dir"));
}

#[test]
fn a_policy_syntax_error_is_a_validation_failure_at_its_line() {
    let f = Fixture::new();
    let policies = f.path("policies");
    copy_dir(Path::new(POLICIES), &policies);
    std::fs::write(
        policies.join("broken.cedar"),
        "// a broken policy\n@id(\"broken\")\npermit (principal, action, resource)\nwhen { context.amount > };\n",
    )
    .unwrap();
    f.run(&["validate", "-p", "policies"])
        .code(3)
        .stderr(predicate::str::is_match(r"broken\.cedar:[34]:\d+: error: ").unwrap());
    f.authorize_with_policies("token", "small.json", "policies")
        .code(3)
        .stderr(predicate::str::contains("broken.cedar:"));
    f.run(&["--error-format", "json", "validate", "-p", "policies"])
        .code(3)
        .stderr(
            predicate::str::contains("\"exit_code\":3")
                .and(predicate::str::contains("\"diagnostics\"")),
        );
}

impl Fixture {
    fn authorize_with_policies(
        &self,
        token: &str,
        request: &str,
        policies: &str,
    ) -> assert_cmd::assert::Assert {
        self.run(&[
            "authorize",
            "--token",
            token,
            "--public-key-file",
            "root.pub",
            "-p",
            policies,
            "--request-json",
            request,
            "--accept-bearer-tokens",
        ])
    }
}

#[test]
fn validate_takes_a_schema_from_another_file() {
    let f = Fixture::new();
    let policies = f.path("policies");
    std::fs::create_dir_all(&policies).unwrap();
    for entry in std::fs::read_dir(POLICIES).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "cedar") {
            std::fs::copy(&path, policies.join(path.file_name().unwrap())).unwrap();
        }
    }
    // Without a schema beside the policies, loading fails and says so.
    f.run(&["validate", "-p", "policies"])
        .code(1)
        .stderr(predicate::str::contains("schema.cedarschema"));
    let schema = format!("{POLICIES}/schema.cedarschema");
    f.run(&["validate", "-p", "policies", "-s", &schema])
        .success()
        .stdout(predicate::str::contains("validate"));
    f.write("thin.cedarschema", "entity Agent;\n");
    f.run(&["validate", "-p", "policies", "-s", "thin.cedarschema"])
        .code(3)
        .stderr(predicate::str::contains("thin.cedarschema:1:"));
}

#[test]
fn a_request_with_a_number_amount_is_an_error() {
    let f = Fixture::new();
    f.write(
        "float.json",
        r#"{"audience": "https://pay.example.com", "action": "pay_invoice",
            "authorization_details": {"type": "payment", "amount": 12.5,
                                      "currency": "USD", "recipient": "alice@example.com"}}"#,
    );
    f.authorize("token", "float.json", &[])
        .code(1)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains("`amount`").and(predicate::str::contains("float.json")));
    f.write("not-json.json", "{\"audience\": ");
    f.authorize("token", "not-json.json", &[])
        .code(1)
        .stderr(predicate::str::contains("not a valid request"));
}

#[test]
fn an_expired_token_says_when_and_what_to_do() {
    let f = Fixture::new();
    f.authorize("token", "small.json", &["--now", "2099-01-01T00:00:00Z"])
        .code(2)
        .stdout(
            predicate::str::contains("expired at").and(predicate::str::contains(
                "ago: mint or attenuate a fresh one",
            )),
        );
    f.run(&["inspect", "token", "--now", "2099-01-01T00:00:00Z"])
        .success()
        .stdout(predicate::str::contains("EXPIRED"));
}

#[test]
fn a_revoked_token_is_refused() {
    let f = Fixture::new();
    f.child();
    let out = f
        .cmd(&["inspect", "token", "--revocation-ids"])
        .output()
        .unwrap();
    let root_id = stdout(&out).lines().next().unwrap().to_owned();
    f.authorize("child", "small.json", &["--revocation-list", "revoked.txt"])
        .code(0);
    f.run(&["revoke", &root_id, "--list", "revoked.txt"])
        .success();
    assert!(f.read("revoked.txt").contains(&root_id));
    f.authorize("child", "small.json", &["--revocation-list", "revoked.txt"])
        .code(2)
        .stdout(predicate::str::contains("revoked"));
    f.run(&["revoke", "not-hex", "--list", "revoked.txt"])
        .code(1)
        .stderr(predicate::str::contains("not a revocation id"));
}

#[test]
fn run_tests_counts_passes_and_failures() {
    let f = Fixture::new();
    f.run(&["run-tests", "-p", POLICIES])
        .code(0)
        .stdout(predicate::str::is_match(r"(?m)^\d+ passed, 0 failed$").unwrap());
    let policies = f.path("policies");
    copy_dir(Path::new(POLICIES), &policies);
    let tests = policies.join("tests");
    let mut failing = String::new();
    for entry in std::fs::read_dir(&tests).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        if text.contains("\"decision\": \"allow\"") {
            failing = text.replacen("\"decision\": \"allow\"", "\"decision\": \"deny\"", 1);
            std::fs::write(&path, &failing).unwrap();
            break;
        }
    }
    assert!(
        !failing.is_empty(),
        "no allow case to flip in the bundled tests"
    );
    f.run(&["run-tests", "-p", "policies", "--tests", "policies/tests"])
        .code(3)
        .stdout(predicate::str::is_match(r"(?m)^\d+ passed, 1 failed$").unwrap());
}

#[test]
fn format_check_and_write() {
    let f = Fixture::new();
    let policies = f.path("policies");
    std::fs::create_dir_all(&policies).unwrap();
    std::fs::write(
        policies.join("p.cedar"),
        "permit(principal,action,resource) when {   true };\n",
    )
    .unwrap();
    f.run(&["format", "-p", "policies", "--check"])
        .code(3)
        .stderr(predicate::str::contains("--write"));
    f.run(&["format", "-p", "policies", "--write"]).success();
    f.run(&["format", "-p", "policies", "--check"]).success();
    std::fs::write(policies.join("bad.cedar"), "permit(principal,\n").unwrap();
    f.run(&["format", "-p", "policies", "--check"])
        .code(3)
        .stderr(predicate::str::contains("bad.cedar:"));
}

#[test]
fn help_documents_exit_codes_and_usage_errors_exit_1() {
    valet().arg("--help").assert().success().stdout(
        predicate::str::contains("Exit codes:").and(predicate::str::contains("4  needs approval")),
    );
    for cmd in [
        "keypair",
        "mint",
        "attenuate",
        "inspect",
        "authorize",
        "validate",
        "format",
        "run-tests",
        "revoke",
    ] {
        valet().args([cmd, "--help"]).assert().success().stdout(
            predicate::str::contains("Example").and(predicate::str::contains("Exit codes")),
        );
    }
    valet().arg("no-such-command").assert().code(1);
    valet()
        .args(["mint", "--add-ttl", "soon"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("15m"));
}

#[test]
fn mint_refuses_a_lifetime_over_the_cap() {
    let f = Fixture::new();
    let out = f
        .cmd(&[
            "mint",
            "--private-key-file",
            "root.key",
            "--subject",
            "a",
            "--client",
            "b",
            "--audience",
            "https://pay.example.com",
            "--add-ttl",
            "2h",
            "--bearer",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--max-lifetime"));
}

/// What a token says reaches the terminal escaped: a delegate name once cleared the screen
/// (`ESC [2J`) and printed a line of its own that read like the signature check.
#[test]
fn inspect_escapes_control_characters_in_delegate_names() {
    let f = Fixture::new();
    let name = "x\u{1b}[2J\nSIGNATURE OK";
    f.save(
        "evil",
        &[
            "attenuate",
            "token",
            "--delegate",
            name,
            "--limit",
            "payment.amount<=50.00",
        ],
    );
    let printed = |out: &[u8]| {
        let text = String::from_utf8(out.to_vec()).unwrap();
        assert!(
            !text.contains('\u{1b}'),
            "an ESC byte was printed: {text:?}"
        );
        assert!(
            !text
                .lines()
                .any(|l| l.trim_start().starts_with("SIGNATURE OK")),
            "the name printed a line of its own: {text:?}"
        );
        text
    };
    let out = f
        .cmd(&["inspect", "evil", "--public-key-file", "root.pub"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = printed(&out.stdout);
    assert!(
        text.contains(r"block 1 (delegate: x\u{1b}[2J\nSIGNATURE OK)"),
        "{text}"
    );
    // The agent line and the authorize reasons name the delegate too.
    assert!(
        text.contains(r"agent:      x\u{1b}[2J\nSIGNATURE OK"),
        "{text}"
    );
    let out = f
        .cmd(&[
            "authorize",
            "--token",
            "evil",
            "--public-key-file",
            "root.pub",
            "-p",
            POLICIES,
            "--request-json",
            "large.json",
            "--accept-bearer-tokens",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    printed(&out.stdout);
    printed(&out.stderr);
}

/// Error messages that quote what they were given are escaped as well.
#[test]
fn errors_escape_control_characters() {
    let f = Fixture::new();
    let out = f
        .cmd(&[
            "attenuate",
            "token",
            "--check",
            "check if \u{1b}[2J\nSIGNATURE OK",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(!err.contains('\u{1b}'), "{err:?}");
    assert!(
        !err.lines().any(|l| l.starts_with("SIGNATURE OK")),
        "{err:?}"
    );
    assert!(err.contains(r"\u{1b}[2J\nSIGNATURE OK"), "{err}");
}

#[test]
fn attenuate_takes_a_lower_bound() {
    let f = Fixture::new();
    f.write("five.json", &SMALL.replace("42.00", "5.00"));
    f.write("negative.json", &SMALL.replace("42.00", "-42.00"));
    f.save(
        "ten",
        &[
            "attenuate",
            "token",
            "--limit",
            "payment.amount>=10.00",
            "--limit",
            "payment.amount<=50.00",
        ],
    );
    f.run(&["inspect", "ten"])
        .success()
        .stdout(predicate::str::contains(
            "payment.amount at least 10.00 and at most 50.00",
        ));
    f.authorize("ten", "small.json", &[]).code(0);
    f.authorize("ten", "five.json", &[])
        .code(2)
        .stdout(predicate::str::contains(
            "limits payment amount to at least 10.00, requested `5.00`",
        ));
    // The root's max alone refuses negative amounts at the token layer.
    f.authorize("token", "negative.json", &[])
        .code(2)
        .stdout(predicate::str::contains(
            "the token limits payment amount to at least 0.00, requested `-42.00`",
        ));
    f.run(&["attenuate", "token", "--limit", "payment.amount>=-1.00"])
        .code(1)
        .stderr(predicate::str::contains(
            "lower than the parent token's minimum of 0.00",
        ));
    f.run(&["attenuate", "token", "--limit", "payment.amount=10.00"])
        .code(1)
        .stderr(predicate::str::contains("`>=`"));
}
