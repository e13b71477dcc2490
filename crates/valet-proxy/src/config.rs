//! The checked config: every value of the file read, typed and validated, each file it
//! names kept with the place that names it. No file but the config itself is read here;
//! [`Proxy::new`](crate::Proxy::new) reads the others.

use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;
use valet::Scope;
use valet_http::{McpTools, ProtectedResource, DEFAULT_MAX_BODY_BYTES, TOKEN_ONLY_METHODS};

use crate::duration;
use crate::error::{ConfigError, Location, Problem};
use crate::raw::{
    RawAudit, RawConfig, RawMetadata, RawRedis, RawScopes, RawTimeouts, RawTool, Source,
};
use crate::upstream::Upstream;

/// The address the proxy listens on when the config names none.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// The largest `max_body_bytes` accepted (64 MiB): the layer holds a whole request body
/// in memory to judge it.
pub const MAX_BODY_BYTES_LIMIT: usize = 64 * 1024 * 1024;

/// The largest config file read (1 MiB).
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// The key prefix of the Redis stores when the config names none.
pub const DEFAULT_REDIS_KEY_PREFIX: &str = "valet";

/// The time limit of one Redis call when the config names none.
pub const DEFAULT_REDIS_TIMEOUT: Duration = Duration::from_millis(50);

/// The proxy's time limits (`[timeouts]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// Opening a connection to the upstream (default 5 s); past it the answer is `504`.
    pub connect: Duration,
    /// From sending a request upstream to its response headers (default 30 s); past it
    /// the answer is `504`.
    pub response_headers: Duration,
    /// The whole exchange, from the request's headers to the response body's end
    /// (default 5 min): before the response starts, the answer is `504` (or `408` while
    /// the client is still sending its body); after, the response is cut off.
    pub request: Duration,
    /// How long a shutdown waits for requests in flight (default 10 s).
    pub shutdown: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(5),
            response_headers: Duration::from_secs(30),
            request: Duration::from_secs(300),
            shutdown: Duration::from_secs(10),
        }
    }
}

/// Where audit records go (`[audit] output`): one JSON line per decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuditOutput {
    /// Standard output.
    Stdout,
    /// Standard error (the default).
    Stderr,
    /// A file, appended to (created if missing).
    File(PathBuf),
}

/// `[redis]`: where the stores shared by replicas would live.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisSettings {
    url: String,
    key_prefix: String,
    timeout: Duration,
    replica: Option<String>,
    at: Option<Location>,
}

impl RedisSettings {
    /// The server's URL (`redis://` or `rediss://`); it may hold a password, so it is
    /// never printed.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The start of every key the stores write, before a `:` (default
    /// [`DEFAULT_REDIS_KEY_PREFIX`]).
    pub fn key_prefix(&self) -> &str {
        &self.key_prefix
    }

    /// The longest one Redis call may take (default [`DEFAULT_REDIS_TIMEOUT`]).
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The name this proxy gives itself in audit records, when the config gives one
    /// (else its host name and process id).
    pub fn replica(&self) -> Option<&str> {
        self.replica.as_deref()
    }

    /// Where the config sets it.
    pub fn location(&self) -> Option<&Location> {
        self.at.as_ref()
    }
}

impl std::fmt::Debug for RedisSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSettings")
            .field("key_prefix", &self.key_prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// A file the config names, with the place that names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Named {
    pub path: PathBuf,
    pub at: Option<Location>,
}

/// A tool or method the config maps, with the place that names it.
#[derive(Clone, Debug)]
pub(crate) struct Mapped {
    pub name: String,
    pub at: Option<Location>,
}

/// A config file, read and checked. Make one with [`Config::read`] or [`Config::parse`];
/// [`Proxy::new`](crate::Proxy::new) reads the files it names.
#[derive(Clone, Debug)]
pub struct Config {
    pub(crate) file: PathBuf,
    pub(crate) resource: ProtectedResource,
    pub(crate) upstream: Upstream,
    pub(crate) listen: SocketAddr,
    pub(crate) max_body_bytes: usize,
    pub(crate) root_keys: Vec<Named>,
    pub(crate) approver_keys: Vec<Named>,
    pub(crate) revocation_list: Option<Named>,
    pub(crate) policies: Named,
    pub(crate) entities: Option<Named>,
    pub(crate) tools: McpTools,
    pub(crate) mapped: Vec<Mapped>,
    pub(crate) timeouts: Timeouts,
    pub(crate) audit: AuditOutput,
    pub(crate) audit_at: Option<Location>,
    pub(crate) redis: Option<RedisSettings>,
    pub(crate) warnings: Vec<Problem>,
}

impl Config {
    /// Reads and checks the config file at `path`. Relative paths in it are read from the
    /// file's directory.
    pub fn read(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        let read = |source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        };
        let mut text = String::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(MAX_CONFIG_BYTES + 1).read_to_string(&mut text))
            .map_err(read)?;
        if text.len() as u64 > MAX_CONFIG_BYTES {
            return Err(ConfigError::invalid(
                path.to_path_buf(),
                vec![Problem::error(
                    None,
                    format!("`{}` is larger than {MAX_CONFIG_BYTES} bytes: a config file is a few kilobytes; check the path", path.display()),
                )],
            ));
        }
        Config::parse(&text, path)
    }

    /// Checks config `text`, as if read from `path` (named in every problem; relative
    /// paths in the text are read from its directory).
    pub fn parse(text: &str, path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let source = Source::new(path.as_ref().to_path_buf(), text.to_owned());
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let at = e.span().map(|s| source.locate(&s));
            ConfigError::invalid(
                source.file().to_path_buf(),
                vec![Problem::error(at, syntax_message(e.message()))],
            )
        })?;
        let mut check = Check {
            source: &source,
            problems: Vec::new(),
        };
        let config = check.config(raw);
        let has_errors = check
            .problems
            .iter()
            .any(|p| p.severity == crate::error::Severity::Error);
        match config {
            Some(mut config) if !has_errors => {
                config.warnings = check.problems;
                Ok(config)
            }
            _ => Err(ConfigError::invalid(
                source.file().to_path_buf(),
                check.problems,
            )),
        }
    }

    /// The config file.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// The resource this proxy protects, as its metadata describes it.
    pub fn resource(&self) -> &ProtectedResource {
        &self.resource
    }

    /// The upstream URL, as written in the config.
    pub fn upstream(&self) -> &str {
        self.upstream.as_str()
    }

    /// The address to listen on.
    pub fn listen(&self) -> SocketAddr {
        self.listen
    }

    /// Listens on `addr` instead (a test's `127.0.0.1:0`, a port from the command line).
    #[must_use]
    pub fn with_listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// The largest request body read.
    pub fn max_body_bytes(&self) -> usize {
        self.max_body_bytes
    }

    /// How MCP messages are read as actions: the extractor the layer judges with. A client
    /// runs it on the request it is about to send to know what its proof of possession
    /// signs.
    pub fn tools(&self) -> &McpTools {
        &self.tools
    }

    /// The time limits.
    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// Where audit records go.
    pub fn audit(&self) -> &AuditOutput {
        &self.audit
    }

    /// The `[redis]` section, when there is one.
    pub fn redis(&self) -> Option<&RedisSettings> {
        self.redis.as_ref()
    }

    /// What the file says that is probably not what was meant.
    pub fn warnings(&self) -> &[Problem] {
        &self.warnings
    }
}

/// toml's message, with what to do.
fn syntax_message(message: &str) -> String {
    let message = message.trim_end().trim_end_matches('.');
    let first = message.lines().next().unwrap_or(message);
    if first.starts_with("unknown field") {
        format!(
            "{first}: remove it, or check its spelling and its table against the config reference"
        )
    } else if first.starts_with("missing field") {
        format!("{first}: add it (see the config reference)")
    } else if first.starts_with("invalid type") {
        format!("{first}: write the value in the type the config reference gives")
    } else {
        format!("{first}: the file is not valid TOML here")
    }
}

/// The checks of one file: each adds the problems it finds and returns what it could read.
struct Check<'a> {
    source: &'a Source,
    problems: Vec<Problem>,
}

impl Check<'_> {
    fn error<T>(&mut self, value: &Spanned<T>, message: impl Into<String>) {
        self.problems
            .push(Problem::error(self.source.at(value), message));
    }

    fn config(&mut self, raw: RawConfig) -> Option<Config> {
        let tools = self.tools(&raw);
        let resource = self.resource(&raw, tools.as_ref());
        let upstream = self.upstream(&raw.upstream);
        let listen = self.listen(raw.listen.as_ref());
        let max_body_bytes = self.max_body_bytes(raw.max_body_bytes.as_ref());
        let trust = raw.trust;
        if trust.root_keys.get_ref().is_empty() {
            self.error(
                &trust.root_keys,
                "`root_keys` is empty: name at least one root public key file, as `valet keypair --public-key-file` writes it",
            );
        }
        let root_keys = trust
            .root_keys
            .get_ref()
            .iter()
            .filter_map(|p| self.named(p, "root public key"))
            .collect();
        let approver_keys = trust
            .approver_keys
            .iter()
            .filter_map(|p| self.named(p, "approver public key"))
            .collect();
        let revocation_list = trust
            .revocation_list
            .as_ref()
            .and_then(|p| self.named(p, "revocation list"));
        let policies = self.named(&raw.policies.dir, "policy directory");
        let entities = raw
            .policies
            .entities
            .as_ref()
            .and_then(|p| self.named(p, "entities"));
        let timeouts = self.timeouts(raw.timeouts.as_ref());
        let (audit, audit_at) = self.audit(raw.audit.as_ref());
        let redis = raw.redis.as_ref().and_then(|r| self.redis(r));
        let Mapping { tools, mapped, .. } = tools?;
        Some(Config {
            file: self.source.file().to_path_buf(),
            resource: resource?,
            upstream: upstream?,
            listen: listen?,
            max_body_bytes: max_body_bytes?,
            root_keys,
            approver_keys,
            revocation_list,
            policies: policies?,
            entities,
            tools,
            mapped,
            timeouts,
            audit,
            audit_at,
            redis,
            warnings: Vec::new(),
        })
    }

    /// A scope, or `None` with the problem recorded.
    fn scope(&mut self, written: &Spanned<String>) -> Option<Scope> {
        match Scope::parse(written.get_ref()) {
            Ok(s) => Some(s),
            Err(e) => {
                self.error(written, e.to_string());
                None
            }
        }
    }

    /// Every scope of a list; the ones that do not parse are recorded.
    fn scopes(&mut self, written: &[Spanned<String>]) -> Vec<Scope> {
        written.iter().filter_map(|s| self.scope(s)).collect()
    }

    /// The extractor: the scopes every action needs, the tools and the methods. Also
    /// every scope named, in order, for `scopes_supported`.
    fn tools(&mut self, raw: &RawConfig) -> Option<Mapping> {
        let mut tools = McpTools::new();
        let mut mapped = Vec::new();
        let mut named = Vec::new();
        let before = self.problems.len();
        if let Some(every) = &raw.every_action {
            for s in self.scopes(&every.scopes) {
                tools = tools.scope("*", s.clone());
                named.push(s);
            }
        }
        for (name, tool) in &raw.tools {
            let Some(t) = self.tool(name, tool.get_ref()) else {
                continue;
            };
            mapped.push(Mapped {
                name: name.get_ref().clone(),
                at: self.source.at(name),
            });
            for s in t.scopes {
                tools = tools.scope(name.get_ref().clone(), s.clone());
                named.push(s);
            }
            if let Some((detail_type, fields)) = t.details {
                tools = tools.details_from_arguments(name.get_ref().clone(), detail_type, fields);
            }
            if let Some(argument) = t.resource_argument {
                tools = tools.resource_argument(name.get_ref().clone(), argument);
            }
        }
        for (name, method) in &raw.methods {
            let Some(scopes) = self.method(name, method.get_ref()) else {
                continue;
            };
            mapped.push(Mapped {
                name: name.get_ref().clone(),
                at: self.source.at(name),
            });
            for s in scopes {
                tools = tools.scope(name.get_ref().clone(), s.clone());
                named.push(s);
            }
        }
        let mut seen = Vec::new();
        named.retain(|s| {
            let fresh = !seen.contains(s);
            if fresh {
                seen.push(s.clone());
            }
            fresh
        });
        (self.problems.len() == before).then_some(Mapping {
            tools,
            mapped,
            scopes: named,
        })
    }

    fn tool(&mut self, name: &Spanned<String>, tool: &RawTool) -> Option<CheckedTool> {
        let n = name.get_ref();
        if n.is_empty() {
            self.error(
                name,
                "a tool name is empty: name the tool as `tools/call` sends it in `params.name`",
            );
            return None;
        }
        if n == "*" {
            self.error(
                name,
                "`[tools.\"*\"]` is not a tool: set the scopes every action needs in `[every_action]`",
            );
            return None;
        }
        let scopes = self.scopes(&tool.scopes);
        let details = match &tool.details {
            None => None,
            Some(d) => {
                let d = d.get_ref();
                if d.detail_type.get_ref().is_empty() {
                    self.error(
                        &d.detail_type,
                        format!("tool `{n}`: the details `type` is empty: give the RFC 9396 type the policies expect, like `payment`"),
                    );
                }
                let mut fields: Vec<String> = Vec::new();
                for f in &d.fields {
                    let field = f.get_ref();
                    if field.is_empty() {
                        self.error(f, format!("tool `{n}`: a details field is empty: name an argument of the tool"));
                    } else if field == "type" {
                        self.error(f, format!("tool `{n}`: `type` cannot be a details field, or the caller would choose the details type: the type is `details.type`"));
                    } else if fields.contains(field) {
                        self.error(f, format!("tool `{n}`: the details field `{field}` is listed twice: list it once"));
                    } else {
                        fields.push(field.clone());
                    }
                }
                Some((d.detail_type.get_ref().clone(), fields))
            }
        };
        let resource_argument = match &tool.resource_argument {
            Some(a) if a.get_ref().is_empty() => {
                self.error(a, format!("tool `{n}`: `resource_argument` is empty: name the argument that holds the resource the tool acts on, like `path`"));
                None
            }
            Some(a) => Some(a.get_ref().clone()),
            None => None,
        };
        Some(CheckedTool {
            scopes,
            details,
            resource_argument,
        })
    }

    fn method(&mut self, name: &Spanned<String>, method: &RawScopes) -> Option<Vec<Scope>> {
        let n = name.get_ref().as_str();
        let problem = if n.is_empty() {
            Some("a method name is empty: name a JSON-RPC method, like `resources/read`".to_owned())
        } else if n == "*" {
            Some("`[methods.\"*\"]` is not a method: set the scopes every action needs in `[every_action]`".to_owned())
        } else if n == "tools/call" {
            Some(
                "`tools/call` is read as the tool it calls: set its scopes in `[tools.NAME]`"
                    .to_owned(),
            )
        } else if TOKEN_ONLY_METHODS.contains(&n) || n.starts_with(valet_http::NOTIFICATION_PREFIX)
        {
            Some(format!("`{n}` is a protocol message, judged by the token alone: it takes no scopes, remove `[methods.\"{n}\"]`"))
        } else {
            None
        };
        if let Some(p) = problem {
            self.error(name, p);
            return None;
        }
        Some(self.scopes(&method.scopes))
    }

    /// The resource and its metadata.
    fn resource(&mut self, raw: &RawConfig, tools: Option<&Mapping>) -> Option<ProtectedResource> {
        let mut resource = match ProtectedResource::new(raw.resource.get_ref()) {
            Ok(r) => r,
            Err(e) => {
                self.error(&raw.resource, e.to_string());
                return None;
            }
        };
        let empty = RawMetadata {
            authorization_servers: Vec::new(),
            scopes_supported: None,
            resource_name: None,
            resource_documentation: None,
        };
        let metadata = raw.metadata.as_ref().unwrap_or(&empty);
        for server in &metadata.authorization_servers {
            let s = server.get_ref();
            if !(s.starts_with("https://") || s.starts_with("http://")) || s.len() < 9 {
                self.error(
                    server,
                    format!("`{s}` is not an authorization server's issuer URL: write it like `https://auth.example.com`"),
                );
            } else {
                resource = resource.authorization_server(s.clone());
            }
        }
        if metadata.authorization_servers.is_empty() {
            self.problems.push(Problem::warning(
                self.source.at(&raw.resource),
                "the metadata names no authorization server: MCP clients look for the server that issues tokens in `authorization_servers`; name it in `[metadata]`",
            ));
        }
        let scopes = match &metadata.scopes_supported {
            Some(written) => self.scopes(written),
            None => tools.map(|m| m.scopes.clone()).unwrap_or_default(),
        };
        for s in scopes {
            resource = resource.scope(s);
        }
        if let Some(name) = &metadata.resource_name {
            resource = resource.resource_name(name.clone());
        }
        if let Some(docs) = &metadata.resource_documentation {
            resource = resource.resource_documentation(docs.clone());
        }
        Some(resource)
    }

    fn upstream(&mut self, written: &Spanned<String>) -> Option<Upstream> {
        match Upstream::parse(written.get_ref()) {
            Ok(u) => Some(u),
            Err(e) => {
                self.error(written, e);
                None
            }
        }
    }

    fn listen(&mut self, written: Option<&Spanned<String>>) -> Option<SocketAddr> {
        let Some(written) = written else {
            return DEFAULT_LISTEN.parse().ok();
        };
        match written.get_ref().parse() {
            Ok(a) => Some(a),
            Err(_) => {
                self.error(
                    written,
                    format!(
                        "`{}` is not an address to listen on: write an IP address and a port, like `127.0.0.1:8080` or `[::]:8080`",
                        written.get_ref()
                    ),
                );
                None
            }
        }
    }

    fn max_body_bytes(&mut self, written: Option<&Spanned<i64>>) -> Option<usize> {
        let Some(written) = written else {
            return Some(DEFAULT_MAX_BODY_BYTES);
        };
        match usize::try_from(*written.get_ref()) {
            Ok(n) if n > 0 && n <= MAX_BODY_BYTES_LIMIT => Some(n),
            _ => {
                self.error(
                    written,
                    format!(
                        "`max_body_bytes` is {}: give a number of bytes from 1 to {MAX_BODY_BYTES_LIMIT}",
                        written.get_ref()
                    ),
                );
                None
            }
        }
    }

    /// A file the config names, or `None` when the name is empty.
    fn named(&mut self, written: &Spanned<String>, what: &str) -> Option<Named> {
        if written.get_ref().trim().is_empty() {
            self.error(
                written,
                format!("the {what} path is empty: give a path, relative to this file's directory or absolute"),
            );
            return None;
        }
        Some(Named {
            path: self.source.path(written.get_ref()),
            at: self.source.at(written),
        })
    }

    fn timeouts(&mut self, raw: Option<&RawTimeouts>) -> Timeouts {
        let mut t = Timeouts::default();
        let Some(raw) = raw else {
            return t;
        };
        let mut read = |written: &Option<Spanned<String>>, into: &mut Duration| {
            if let Some(w) = written {
                match duration::parse(w.get_ref()) {
                    Ok(d) => *into = d,
                    Err(e) => self.error(w, e),
                }
            }
        };
        read(&raw.connect, &mut t.connect);
        read(&raw.response_headers, &mut t.response_headers);
        read(&raw.request, &mut t.request);
        read(&raw.shutdown, &mut t.shutdown);
        if let Some(w) = &raw.response_headers {
            if t.response_headers > t.request {
                self.problems.push(Problem::warning(
                    self.source.at(w),
                    "`response_headers` is longer than `request`: the whole-request limit ends the wait first; make it shorter than `request`",
                ));
            }
        }
        t
    }

    fn audit(&mut self, audit: Option<&RawAudit>) -> (AuditOutput, Option<Location>) {
        let Some(audit) = audit else {
            return (AuditOutput::Stderr, None);
        };
        let at = self.source.at(&audit.output);
        let output = match audit.output.get_ref().as_str() {
            "stdout" => AuditOutput::Stdout,
            "stderr" => AuditOutput::Stderr,
            path => match self.named(&audit.output, "audit file") {
                Some(n) if !path.trim().is_empty() => AuditOutput::File(n.path),
                _ => AuditOutput::Stderr,
            },
        };
        (output, at)
    }

    fn redis(&mut self, raw: &Spanned<RawRedis>) -> Option<RedisSettings> {
        let r = raw.get_ref();
        let url = r.url.get_ref();
        let scheme_ok = url
            .strip_prefix("redis://")
            .or_else(|| url.strip_prefix("rediss://"))
            .is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'));
        if !scheme_ok {
            // The URL may hold a password: it is not quoted.
            self.error(
                &r.url,
                "the Redis `url` is not a Redis URL: write `redis://HOST:PORT/DB` (or `rediss://` for TLS)",
            );
        }
        let key_prefix = match &r.key_prefix {
            None => DEFAULT_REDIS_KEY_PREFIX.to_owned(),
            Some(p) => {
                let text = p.get_ref();
                if text.is_empty() || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
                    self.error(p, format!("the Redis `key_prefix` `{}` is empty or holds spaces or control characters: write one like `valet` or `billing`", text.escape_debug()));
                }
                text.clone()
            }
        };
        let timeout = match &r.timeout {
            None => DEFAULT_REDIS_TIMEOUT,
            Some(t) => match duration::parse(t.get_ref()) {
                Ok(d) => d,
                Err(e) => {
                    self.error(t, e);
                    DEFAULT_REDIS_TIMEOUT
                }
            },
        };
        let replica = r.replica.as_ref().map(|p| {
            let text = p.get_ref();
            if text.is_empty() || text.chars().any(char::is_control) {
                self.error(p, "the `replica` name is empty or holds control characters: write one like `proxy-a`");
            }
            text.clone()
        });
        scheme_ok.then(|| RedisSettings {
            url: url.clone(),
            key_prefix,
            timeout,
            replica,
            at: self.source.at(raw),
        })
    }
}

/// How MCP messages map to actions, checked: the extractor, the tools and methods it
/// names, and every scope named, in order (the default `scopes_supported`).
struct Mapping {
    tools: McpTools,
    mapped: Vec<Mapped>,
    scopes: Vec<Scope>,
}

/// A tool's mapping, checked.
struct CheckedTool {
    scopes: Vec<Scope>,
    details: Option<(String, Vec<String>)>,
    resource_argument: Option<String>,
}
