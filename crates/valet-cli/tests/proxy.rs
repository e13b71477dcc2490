#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! `valet proxy`, run as a user runs it: `--check` on good and bad configs, and the proxy
//! serving in front of the Python MCP server of `crates/valet-proxy/tests/upstream`, stopped
//! with SIGTERM while a request is in flight.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, Stdio};
use std::time::{Duration, Instant, SystemTime};

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::{json, Value};
use tempfile::TempDir;
use valet::*;
use valet_http::{proof_header_value, Extractor};

const REPO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
const EXAMPLE: &str = include_str!("../../valet-proxy/proxy.example.toml");
const UPSTREAM: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../valet-proxy/tests/upstream/mcp_server.py"
);

/// The example config copied as its header says: `proxy/proxy.toml` beside `policies/`,
/// with the keys it names.
struct Copied {
    dir: TempDir,
    root: RootKeyPair,
}

impl Copied {
    fn new(text: &str) -> Copied {
        let dir = TempDir::new().unwrap();
        std::os::unix::fs::symlink(
            Path::new(REPO).join("policies"),
            dir.path().join("policies"),
        )
        .unwrap();
        std::fs::create_dir(dir.path().join("proxy")).unwrap();
        let root = RootKeyPair::generate(KeyId(1));
        root.public()
            .write_file(dir.path().join("proxy/root.pub"), false)
            .unwrap();
        SigningKey::generate()
            .public()
            .write_file(dir.path().join("proxy/owner.pub"), false)
            .unwrap();
        let copied = Copied { dir, root };
        copied.write(text);
        copied
    }

    fn write(&self, text: &str) {
        std::fs::write(self.config(), text).unwrap();
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("proxy/proxy.toml")
    }

    fn check(&self) -> assert_cmd::assert::Assert {
        Command::cargo_bin("valet")
            .unwrap()
            .arg("proxy")
            .arg("--check")
            .arg(self.config())
            .assert()
    }
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

#[test]
fn check_accepts_the_example_config() {
    let copied = Copied::new(EXAMPLE);
    copied
        .check()
        .code(0)
        .stdout(predicate::str::contains(
            "is valid: listening on 127.0.0.1:8080, forwarding to http://127.0.0.1:9000/mcp, for resource http://127.0.0.1:8080/mcp",
        ))
        .stderr("");
    let out = Command::cargo_bin("valet")
        .unwrap()
        .args(["--output", "json", "proxy", "--check"])
        .arg(copied.config())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["valid"], true);
    assert_eq!(v["upstream"], "http://127.0.0.1:9000/mcp");
    assert_eq!(v["warnings"], json!([]));
}

#[test]
fn check_names_a_missing_key_file_at_its_line() {
    let text = EXAMPLE.replace(
        "approver_keys = [\"owner.pub\"]",
        "approver_keys = [\"gone.pub\"]",
    );
    let copied = Copied::new(&text);
    let at = format!(
        "{}:{}:18: error: cannot read the approver public key file",
        copied.config().display(),
        line_of(&text, "gone.pub")
    );
    copied
        .check()
        .code(3)
        .stdout("")
        .stderr(predicate::str::contains(at))
        .stderr(predicate::str::contains("no such file or directory"))
        .stderr(predicate::str::contains(
            "has 1 error: fix it and run `valet proxy --check",
        ));
}

#[test]
fn check_names_an_unknown_field_and_a_wrong_type_at_their_lines() {
    let text = EXAMPLE.replace("[timeouts]\n", "[timeouts]\nidle = \"1m\"\n");
    let copied = Copied::new(&text);
    copied
        .check()
        .code(3)
        .stderr(predicate::str::contains(format!(
            "{}:{}:1: error: unknown field `idle`",
            copied.config().display(),
            line_of(&text, "idle = ")
        )));
    let text = EXAMPLE.replace("root_keys = [\"root.pub\"]", "root_keys = \"root.pub\"");
    copied.write(&text);
    copied
        .check()
        .code(3)
        .stderr(predicate::str::contains(format!(
            "{}:{}:13: error: invalid type: string \"root.pub\", expected a sequence",
            copied.config().display(),
            line_of(&text, "root_keys = ")
        )));
    // As JSON on standard error.
    let out = Command::cargo_bin("valet")
        .unwrap()
        .args(["--error-format", "json", "proxy", "--check"])
        .arg(copied.config())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let v: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(v["error"]["exit_code"], 3);
    assert!(v["error"]["diagnostics"][0]
        .as_str()
        .unwrap()
        .contains("expected a sequence"));
}

#[test]
fn an_unreadable_config_file_exits_with_1() {
    Command::cargo_bin("valet")
        .unwrap()
        .args(["proxy", "--check", "/no/such/proxy.toml"])
        .assert()
        .code(1)
        .stderr("error: cannot read the config file `/no/such/proxy.toml`: no such file or directory: check the path\n");
}

/// A child process killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The first line of `child`'s stream, and the rest of it kept readable.
fn first_line<R: Read>(stream: R) -> (String, BufReader<R>) {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    (line.trim().to_owned(), reader)
}

/// One HTTP/1.1 request on its own connection; the whole answer's status and body.
fn post(addr: SocketAddr, headers: &[(&str, String)], body: &str) -> (u16, Value) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut request = format!(
        "POST /mcp HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or("");
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// The body of a GET on its own connection.
fn get(addr: SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer.split("\r\n\r\n").nth(1).unwrap_or("").to_owned()
}

#[test]
fn sigterm_lets_the_request_in_flight_finish_then_exits_with_0() {
    let upstream = Running(
        Process::new("python3")
            .arg(UPSTREAM)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs the upstream server"),
    );
    let mut upstream = upstream;
    let (line, _) = first_line(upstream.0.stdout.take().unwrap());
    let upstream_addr = line.strip_prefix("listening on ").unwrap().to_owned();
    let text = EXAMPLE
        .replace("127.0.0.1:9000", &upstream_addr)
        .replace("listen = \"127.0.0.1:8080\"", "listen = \"127.0.0.1:0\"")
        .replace("output = \"stderr\"", "output = \"audit.jsonl\"");
    let copied = Copied::new(&text);
    let mut proxy = Running(
        Process::new(assert_cmd::cargo::cargo_bin("valet"))
            .arg("proxy")
            .arg(copied.config())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let (status, mut stderr) = first_line(proxy.0.stderr.take().unwrap());
    assert!(
        status.starts_with("valet proxy listening on http://127.0.0.1:"),
        "{status}"
    );
    assert!(status.contains(&format!("forwarding to http://{upstream_addr}/mcp")));
    assert!(
        status.ends_with("for resource http://127.0.0.1:8080/mcp"),
        "{status}"
    );
    let addr: SocketAddr = status
        .strip_prefix("valet proxy listening on http://")
        .and_then(|s| s.split(',').next())
        .unwrap()
        .parse()
        .unwrap();

    // A call that the upstream answers after 1.2 s.
    let resource = "http://127.0.0.1:8080/mcp";
    let agent = SigningKey::generate();
    let token = Issuer::new(copied.root.clone())
        .mint(
            TokenBuilder::new("alice@example.com", "https://agent.example/client")
                .audience(Audience::parse(resource).unwrap())
                .scope(Scope::parse("calendar:read").unwrap())
                .expires_in(Duration::from_secs(600))
                .holder(agent.public()),
        )
        .unwrap();
    let message = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "read_calendar", "arguments": {"delay": 1.2}}})
    .to_string();
    let config = valet_proxy::Config::read(copied.config()).unwrap();
    let (parts, ()) = http::Request::post(resource).body(()).unwrap().into_parts();
    let request = config
        .tools()
        .operation(&parts, &bytes::Bytes::from(message.clone()))
        .unwrap()
        .request(&Audience::parse(resource).unwrap());
    let proof = HolderProof::sign(&agent, &token, &request, SystemTime::now()).unwrap();
    let headers = vec![
        ("authorization", format!("Bearer {}", token.to_base64())),
        (
            "valet-proof",
            proof_header_value(&proof)
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned(),
        ),
    ];
    let in_flight = std::thread::spawn(move || post(addr, &headers, &message));
    // SIGTERM once the upstream has the request, while it is still answering.
    let upstream_addr: SocketAddr = upstream_addr.parse().unwrap();
    let waiting = Instant::now();
    while !get(upstream_addr, "/log").contains("read_calendar") {
        assert!(
            waiting.elapsed() < Duration::from_secs(10),
            "the call never reached the upstream"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = proxy.0.id().to_string();
    let sent = Instant::now();
    assert!(Process::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let (code, body) = in_flight.join().unwrap();
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        body["result"]["headers"]["valet-subject"],
        "alice@example.com"
    );
    let exit = proxy.0.wait().unwrap();
    assert_eq!(exit.code(), Some(0));
    assert!(sent.elapsed() < Duration::from_secs(5));
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "", "nothing else on standard error");
    assert!(
        TcpStream::connect(addr).is_err(),
        "still accepting after exit"
    );
    let audit = std::fs::read_to_string(copied.dir.path().join("proxy/audit.jsonl")).unwrap();
    assert_eq!(audit.lines().count(), 1, "{audit}");
}

/// A `valet proxy` process of the example config with a `[redis]` section, and its address.
fn replica(copied: &Copied, name: &str, redis: &str) -> (Running, SocketAddr) {
    let config = copied.dir.path().join(format!("proxy/{name}.toml"));
    let text = std::fs::read_to_string(copied.config()).unwrap().replace(
        "output = \"audit.jsonl\"",
        &format!("output = \"{name}.jsonl\""),
    );
    std::fs::write(
        &config,
        format!(
            "{text}\n[redis]\nurl = \"{redis}\"\nkey_prefix = \"fleet\"\nreplica = \"{name}\"\n"
        ),
    )
    .unwrap();
    let mut proxy = Running(
        Process::new(assert_cmd::cargo::cargo_bin("valet"))
            .arg("proxy")
            .arg(&config)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let (status, _) = first_line(proxy.0.stderr.take().unwrap());
    let addr: SocketAddr = status
        .strip_prefix("valet proxy listening on http://")
        .and_then(|s| s.split(',').next())
        .unwrap_or_else(|| panic!("{status}"))
        .parse()
        .unwrap();
    (proxy, addr)
}

#[test]
fn two_proxy_processes_sharing_redis_accept_a_proof_once() {
    let redis = valet_redis::testing::RedisServer::start().unwrap();
    let mut upstream = Running(
        Process::new("python3")
            .arg(UPSTREAM)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs the upstream server"),
    );
    let (line, _) = first_line(upstream.0.stdout.take().unwrap());
    let upstream_addr = line.strip_prefix("listening on ").unwrap().to_owned();
    let text = EXAMPLE
        .replace("127.0.0.1:9000", &upstream_addr)
        .replace("listen = \"127.0.0.1:8080\"", "listen = \"127.0.0.1:0\"")
        .replace("output = \"stderr\"", "output = \"audit.jsonl\"");
    let copied = Copied::new(&text);
    let (_a, a) = replica(&copied, "proxy-a", &redis.url());
    let (_b, b) = replica(&copied, "proxy-b", &redis.url());

    let resource = "http://127.0.0.1:8080/mcp";
    let agent = SigningKey::generate();
    let token = Issuer::new(copied.root.clone())
        .mint(
            TokenBuilder::new("alice@example.com", "https://agent.example/client")
                .audience(Audience::parse(resource).unwrap())
                .scope(Scope::parse("calendar:read").unwrap())
                .expires_in(Duration::from_secs(600))
                .holder(agent.public()),
        )
        .unwrap();
    let message = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "read_calendar", "arguments": {}}})
    .to_string();
    let config = valet_proxy::Config::read(copied.config()).unwrap();
    let (parts, ()) = http::Request::post(resource).body(()).unwrap().into_parts();
    let request = config
        .tools()
        .operation(&parts, &bytes::Bytes::from(message.clone()))
        .unwrap()
        .request(&Audience::parse(resource).unwrap());
    let signed = |agent: &SigningKey| {
        let proof = HolderProof::sign(agent, &token, &request, SystemTime::now()).unwrap();
        vec![
            ("authorization", format!("Bearer {}", token.to_base64())),
            (
                "valet-proof",
                proof_header_value(&proof)
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .to_owned(),
            ),
        ]
    };
    let once = signed(&agent);
    let (code, body) = post(a, &once, &message);
    assert_eq!(code, 200, "{body}");
    let (code, body) = post(b, &once, &message);
    assert_eq!(code, 401, "{body}");
    assert!(body.to_string().contains("already used"), "{body}");
    // A fresh proof passes either.
    let (code, body) = post(b, &signed(&agent), &message);
    assert_eq!(code, 200, "{body}");
    // Each names itself in its audit records.
    for name in ["proxy-a", "proxy-b"] {
        let audit =
            std::fs::read_to_string(copied.dir.path().join(format!("proxy/{name}.jsonl"))).unwrap();
        assert!(
            audit
                .lines()
                .all(|l| l.contains(&format!("\"replica\":\"{name}\""))),
            "{audit}"
        );
    }
}
