#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Config files: the example as the README has it copied, and bad ones, each problem named
//! by its file and line.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use common::*;
use serde_json::json;
use valet::*;
use valet_http::{proof_header_value, Extractor};
use valet_proxy::{Config, ConfigError, Proxy, Severity};

const EXAMPLE: &str = include_str!("../proxy.example.toml");

/// The example copied as its header says: `proxy/proxy.toml` beside `policies/`, with the
/// keys it names made there.
struct Copied {
    dir: tempfile::TempDir,
    root: RootKeyPair,
}

impl Copied {
    fn new(text: &str) -> Copied {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(
            Path::new(REPO).join("policies"),
            dir.path().join("policies"),
        )
        .unwrap();
        let proxy = dir.path().join("proxy");
        std::fs::create_dir(&proxy).unwrap();
        let root = RootKeyPair::generate(KeyId(1));
        root.public()
            .write_file(proxy.join("root.pub"), false)
            .unwrap();
        SigningKey::generate()
            .public()
            .write_file(proxy.join("owner.pub"), false)
            .unwrap();
        std::fs::write(proxy.join("proxy.toml"), text).unwrap();
        Copied { dir, root }
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("proxy/proxy.toml")
    }
}

/// The problems of a config that does not load, as `file:line:column: error: message`.
fn problems_of(path: &Path) -> Vec<String> {
    let result = Config::read(path).and_then(|c| Proxy::check(&c));
    match result {
        Err(ConfigError::Invalid { problems, .. }) => {
            problems.iter().map(ToString::to_string).collect()
        }
        other => panic!("expected problems, got {other:?}"),
    }
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

#[test]
fn the_example_config_passes_the_check_without_warnings() {
    let copied = Copied::new(EXAMPLE);
    let config = Config::read(copied.config()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.upstream(), "http://127.0.0.1:9000/mcp");
    assert_eq!(config.listen().to_string(), "127.0.0.1:8080");
    let warnings = Proxy::check(&config).unwrap_or_else(|e| panic!("{e}"));
    assert!(warnings.is_empty(), "{warnings:?}");
}

#[tokio::test]
async fn the_example_config_judges_file_tools_with_the_entity_data() {
    let upstream = PythonUpstream::start();
    let text = EXAMPLE
        .replace("http://127.0.0.1:9000/mcp", &upstream.url())
        .replace("listen = \"127.0.0.1:8080\"", "listen = \"127.0.0.1:0\"")
        .replace("output = \"stderr\"", "output = \"audit.jsonl\"");
    let copied = Copied::new(&text);
    let config = Config::read(copied.config()).unwrap();
    let resource = "http://127.0.0.1:8080/mcp";
    let listening = Proxy::new(config.clone()).unwrap().bind().await.unwrap();
    let addr = listening.local_addr();
    tokio::spawn(listening.serve(std::future::pending()));
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<Bytes>>();
    let report_bot = SigningKey::generate();
    let read = call("read_file", json!({"path": "/finance/reports/q3.xlsx"}));
    let mut statuses = Vec::new();
    for person in ["alice", "bob"] {
        let token = Issuer::new(copied.root.clone())
            .mint(
                TokenBuilder::new(person, "report-bot")
                    .audience(Audience::parse(resource).unwrap())
                    .scope(Scope::parse("tools:read").unwrap())
                    .expires_in(Duration::from_secs(600))
                    .holder(report_bot.public()),
            )
            .unwrap();
        let (parts, ()) = http::Request::post(resource).body(()).unwrap().into_parts();
        let request = config
            .tools()
            .operation(&parts, &Bytes::from(read.to_string()))
            .unwrap()
            .request(&Audience::parse(resource).unwrap());
        let proof = HolderProof::sign(&report_bot, &token, &request, SystemTime::now()).unwrap();
        let request = http::Request::post(format!("http://{addr}/mcp"))
            .header("authorization", format!("Bearer {}", token.to_base64()))
            .header("valet-proof", proof_header_value(&proof).unwrap())
            .header("content-type", "application/json")
            .body(http_body_util::Full::new(Bytes::from(read.to_string())))
            .unwrap();
        let r = Reply::read(client.request(request).await.unwrap()).await;
        statuses.push((r.status.as_u16(), r.body["error"].clone()));
    }
    // alice is in the finance team; bob is not, and the file is highly sensitive.
    assert_eq!(statuses[0], (200, serde_json::Value::Null));
    assert_eq!(statuses[1], (403, json!("insufficient_scope")));
    assert_eq!(upstream.calls().await, ["read_file"]);
}

#[test]
fn a_missing_key_file_is_named_at_its_line() {
    let text = EXAMPLE.replace("root_keys = [\"root.pub\"]", "root_keys = [\"gone.pub\"]");
    let copied = Copied::new(&text);
    let problems = problems_of(&copied.config());
    let line = line_of(&text, "gone.pub");
    let expected = format!(
        "{}:{line}:14: error: cannot read the root public key file `{}`: no such file or directory",
        copied.config().display(),
        copied.dir.path().join("proxy/gone.pub").display()
    );
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].starts_with(&expected), "{}", problems[0]);
}

#[test]
fn an_unknown_field_is_named_at_its_line() {
    let text = EXAMPLE.replace("approver_keys =", "approvers =");
    let copied = Copied::new(&text);
    let problems = problems_of(&copied.config());
    let line = line_of(&text, "approvers =");
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with(&format!(
            "{}:{line}:1: error: unknown field `approvers`",
            copied.config().display()
        )),
        "{}",
        problems[0]
    );
}

#[test]
fn a_value_of_the_wrong_type_is_named_at_its_line() {
    let text = EXAMPLE.replace("max_body_bytes = 65536", "max_body_bytes = \"64KiB\"");
    let copied = Copied::new(&text);
    let problems = problems_of(&copied.config());
    let line = line_of(&text, "max_body_bytes = \"");
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with(&format!(
            "{}:{line}:18: error: invalid type: string \"64KiB\", expected i64",
            copied.config().display()
        )),
        "{}",
        problems[0]
    );
}

#[test]
fn every_problem_of_the_values_is_reported_at_once() {
    let text = EXAMPLE
        .replace("\"payments:write\"", "\"payments write\"")
        .replace("connect = \"5s\"", "connect = \"5 seconds\"")
        .replace("upstream = \"http://", "upstream = \"https://")
        .replace(
            "output = \"stderr\"",
            "output = \"no/such/dir/audit.jsonl\"",
        );
    let copied = Copied::new(&text);
    let problems = problems_of(&copied.config());
    let file = copied.config().display().to_string();
    let at = |needle: &str| format!("{file}:{}:", line_of(&text, needle));
    let expected = [
        (at("\"payments write\""), "is not a valid scope"),
        (at("connect = "), "is not a unit"),
        (at("upstream = "), "forwards over plain HTTP only"),
    ];
    for (place, words) in expected {
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with(&place) && p.contains(words)),
            "{place} {words}: {problems:?}"
        );
    }
    // The files are read only once the values are right.
    assert_eq!(problems.len(), 3, "{problems:?}");
    let text = EXAMPLE.replace(
        "output = \"stderr\"",
        "output = \"no/such/dir/audit.jsonl\"",
    );
    let copied = Copied::new(&text);
    let problems = problems_of(&copied.config());
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("cannot open the audit file"),
        "{problems:?}"
    );
}

#[test]
fn policies_that_do_not_validate_are_named_with_their_own_diagnostics() {
    let copied = Copied::new(EXAMPLE);
    let policies = copied.dir.path().join("bad-policies");
    std::fs::create_dir(&policies).unwrap();
    std::fs::copy(
        Path::new(REPO).join("policies/schema.cedarschema"),
        policies.join("schema.cedarschema"),
    )
    .unwrap();
    std::fs::write(
        policies.join("broken.cedar"),
        "permit (principal, action == Acme::Action::\"no_such_tool\", resource);\n",
    )
    .unwrap();
    let text = EXAMPLE
        .replace("dir = \"../policies\"", "dir = \"../bad-policies\"")
        .replace("entities = \"../policies/entities.json\"\n", "");
    std::fs::write(copied.config(), &text).unwrap();
    let problems = problems_of(&copied.config());
    assert_eq!(problems.len(), 1, "{problems:?}");
    let line = line_of(&text, "dir = ");
    assert!(
        problems[0].starts_with(&format!(
            "{}:{line}:7: error: the policies in",
            copied.config().display()
        )),
        "{}",
        problems[0]
    );
    assert!(problems[0].contains("broken.cedar:1:"), "{}", problems[0]);
}

#[test]
fn a_redis_section_is_checked_without_connecting() {
    // Nothing listens there: checking opens no connection.
    let with = format!(
        "{EXAMPLE}\n[redis]\nurl = \"redis://127.0.0.1:9/0\"\nkey_prefix = \"billing\"\nreplica = \"proxy-a\"\n"
    );
    let copied = Copied::new(&with);
    let config = Config::read(copied.config()).unwrap();
    let redis = config.redis().unwrap();
    assert_eq!(redis.key_prefix(), "billing");
    assert_eq!(redis.replica(), Some("proxy-a"));
    assert_eq!(redis.timeout(), Duration::from_millis(50));
    let warnings = Proxy::check(&config).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    // A bad URL is named without the URL, which may hold a password.
    let bad = format!("{EXAMPLE}\n[redis]\nurl = \"http://:hunter2@db\"\n");
    let copied = Copied::new(&bad);
    let problems = problems_of(&copied.config());
    assert!(problems[0].contains("is not a Redis URL"), "{problems:?}");
    assert!(!problems[0].contains("hunter2"), "{problems:?}");
}

#[test]
fn a_tool_the_schema_does_not_declare_is_a_warning() {
    let text = format!("{EXAMPLE}\n[tools.read_mind]\nscopes = [\"tools:read\"]\n");
    let copied = Copied::new(&text);
    let config = Config::read(copied.config()).unwrap();
    let warnings = Proxy::check(&config).unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0].severity, Severity::Warning);
    assert!(
        warnings[0]
            .to_string()
            .contains("`read_mind` is not an action of the schema"),
        "{}",
        warnings[0]
    );
}

#[test]
fn an_unreadable_config_file_says_so() {
    let e = Config::read("/no/such/proxy.toml").unwrap_err();
    assert!(matches!(e, ConfigError::Read { .. }));
    assert_eq!(
        e.to_string(),
        "cannot read the config file `/no/such/proxy.toml`: no such file or directory: check the path"
    );
}
