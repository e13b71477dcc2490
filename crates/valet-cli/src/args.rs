//! The arguments of each command, as clap reads them.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::times::{self, Ttl};

/// Result format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Text for people.
    Text,
    /// One JSON object.
    Json,
}

/// Error format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ErrorFormat {
    /// `error: message` lines.
    Human,
    /// One JSON object: `{"error": {"message": ..., "exit_code": ..., "diagnostics": [...]}}`.
    Json,
}

/// Which kind of key pair `valet keypair` makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum KeyKind {
    /// A root key that signs tokens (with a key id).
    Root,
    /// An agent's key: tokens are bound to it, it signs proofs and delegations.
    Agent,
    /// A person's key that signs approvals.
    Approver,
}

/// `valet prove`.
#[derive(Debug, Args)]
pub struct ProveArgs {
    /// The token file, or `-` for standard input
    #[arg(long, value_name = "TOKEN")]
    pub token: String,
    /// The holder's (agent's) private key file
    #[arg(long, value_name = "FILE")]
    pub private_key_file: PathBuf,
    /// The request the proof is for
    #[arg(long, value_name = "FILE")]
    pub request_json: PathBuf,
    /// The signing time (RFC 3339; default now)
    #[arg(long, value_name = "RFC3339", value_parser = times::parse_time)]
    pub now: Option<std::time::SystemTime>,
    /// The nonce (16 to 128 base64url characters; default random). Never reuse one.
    #[arg(long, value_name = "NONCE")]
    pub nonce: Option<String>,
}

/// `valet approve`.
#[derive(Debug, Args)]
pub struct ApproveArgs {
    /// The approver's private key file
    #[arg(long, value_name = "FILE")]
    pub private_key_file: PathBuf,
    /// The request to approve
    #[arg(long, value_name = "FILE")]
    pub request_json: PathBuf,
    /// The token the agent presents with the request (file, or `-` for standard input):
    /// only this token can use the approval
    #[arg(long, value_name = "TOKEN")]
    pub token: String,
    /// The person the agent acts for (default: the token's subject; refused if it differs)
    #[arg(long, value_name = "PERSON")]
    pub subject: Option<String>,
    /// How long the approval is valid (`5m`) or until when (RFC 3339)
    #[arg(long, value_name = "TTL", value_parser = times::parse_ttl, default_value = "5m")]
    pub add_ttl: Ttl,
    /// The signing time (RFC 3339; default now)
    #[arg(long, value_name = "RFC3339", value_parser = times::parse_time)]
    pub now: Option<std::time::SystemTime>,
}

/// `valet keypair`.
#[derive(Debug, Args)]
pub struct KeypairArgs {
    /// Where to write the new private key (mode 0600)
    #[arg(long, value_name = "FILE", conflicts_with = "from_private_key_file")]
    pub private_key_file: Option<PathBuf>,
    /// Where to write the public key (printed when not given)
    #[arg(long, value_name = "FILE")]
    pub public_key_file: Option<PathBuf>,
    /// The key id written into every token this key signs
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub key_id: u32,
    /// Overwrite existing key files
    #[arg(long)]
    pub force: bool,
    /// Read an existing private key instead of creating one
    #[arg(long, value_name = "FILE")]
    pub from_private_key_file: Option<PathBuf>,
    /// Print only the public key text
    #[arg(long, requires = "from_private_key_file")]
    pub only_public_key: bool,
    /// A root key (signs tokens), an agent's key (holds bound tokens) or an approver's key
    #[arg(long, value_enum, default_value_t = KeyKind::Root)]
    pub kind: KeyKind,
}

/// `valet mint`.
#[derive(Debug, Args)]
pub struct MintArgs {
    /// The root private key file
    #[arg(long, value_name = "FILE")]
    pub private_key_file: PathBuf,
    /// The person the agent acts for
    #[arg(long)]
    pub subject: String,
    /// The agent the token is for (e.g. its client-id URL)
    #[arg(long)]
    pub client: String,
    /// A resource server URI where the token may be used (repeatable)
    #[arg(long = "audience", value_name = "URI", required = true)]
    pub audiences: Vec<String>,
    /// A scope granted (repeatable)
    #[arg(long = "scope", value_name = "SCOPE")]
    pub scopes: Vec<String>,
    /// Lifetime (`90s`, `15m`, `1h`, `2h30m`) or expiry time (RFC 3339)
    #[arg(long, value_name = "TTL", value_parser = times::parse_ttl)]
    pub add_ttl: Ttl,
    /// An RFC 9396 authorization details JSON array file
    #[arg(long, value_name = "FILE")]
    pub authorization_details: Option<PathBuf>,
    /// A token id, recorded in audit
    #[arg(long, value_name = "ID")]
    pub token_id: Option<String>,
    /// How many attenuation blocks may follow
    #[arg(long, value_name = "N")]
    pub max_depth: Option<u32>,
    /// The longest lifetime this command grants
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = times::parse_duration)]
    pub max_lifetime: std::time::Duration,
    /// Bind the token to this agent's public key file: requests then need its proof
    /// (required, unless --bearer)
    #[arg(long, value_name = "FILE")]
    pub holder_key_file: Option<PathBuf>,
    /// Risky: mint a bearer token, bound to no holder key, instead. Anyone holding a copy
    /// of it can use it until it expires, and verifiers refuse it unless they accept
    /// bearer tokens (`valet authorize --accept-bearer-tokens`)
    #[arg(long, conflicts_with = "holder_key_file")]
    pub bearer: bool,
}

/// `valet attenuate`.
#[derive(Debug, Args)]
pub struct AttenuateArgs {
    /// The token file, or `-` for standard input
    #[arg(value_name = "TOKEN")]
    pub token: String,
    /// Restrict the audiences to these (repeatable)
    #[arg(long = "audience", value_name = "URI")]
    pub audiences: Vec<String>,
    /// Restrict the scopes to these (repeatable)
    #[arg(long = "scope", value_name = "SCOPE")]
    pub scopes: Vec<String>,
    /// An earlier expiry: lifetime from now (`5m`) or RFC 3339 time
    #[arg(long, value_name = "TTL", value_parser = times::parse_ttl)]
    pub add_ttl: Option<Ttl>,
    /// Bound a decimal field: `TYPE.FIELD<=VALUE` (at most; a cap alone also refuses values
    /// under zero) or `TYPE.FIELD>=VALUE` (at least), e.g. `payment.amount<=50.00` (repeatable)
    #[arg(long = "limit", value_name = "TYPE.FIELD<=VALUE")]
    pub limits: Vec<String>,
    /// Allow only these values of a field: `TYPE.FIELD=V1,V2` (repeatable)
    #[arg(long = "allow", value_name = "TYPE.FIELD=V1,V2")]
    pub allows: Vec<String>,
    /// Allow only these actions for a detail type: `TYPE=A1,A2` (repeatable)
    #[arg(long = "actions", value_name = "TYPE=A1,A2")]
    pub actions: Vec<String>,
    /// The sub-agent this copy is for (recorded in the chain of custody)
    #[arg(long, value_name = "ID")]
    pub delegate: Option<String>,
    /// How many more attenuation blocks may follow this one
    #[arg(long, value_name = "N")]
    pub max_depth: Option<u32>,
    /// A raw Biscuit Datalog check (`check if ...`); can only refuse more (repeatable)
    #[arg(long = "check", value_name = "DATALOG")]
    pub checks: Vec<String>,
    /// Bind the new copy to this sub-agent's public key file
    #[arg(long, value_name = "FILE")]
    pub holder_key_file: Option<PathBuf>,
    /// Sign the new block with the current holder's private key (a verified delegation)
    #[arg(long, value_name = "FILE")]
    pub private_key_file: Option<PathBuf>,
}

/// `valet inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The token file, or `-` for standard input
    #[arg(value_name = "TOKEN")]
    pub token: String,
    /// A public key file to check the signature with (repeatable; each carries its key id)
    #[arg(long = "public-key-file", value_name = "FILE")]
    pub public_key_files: Vec<PathBuf>,
    /// Print only the revocation ids, one per line, authority block first
    #[arg(long)]
    pub revocation_ids: bool,
    /// The time to compare the expiry with (RFC 3339; default now)
    #[arg(long, value_name = "RFC3339", value_parser = times::parse_time)]
    pub now: Option<std::time::SystemTime>,
}

/// `valet authorize`.
#[derive(Debug, Args)]
pub struct AuthorizeArgs {
    /// The token file, or `-` for standard input
    #[arg(long, value_name = "TOKEN")]
    pub token: String,
    /// A trusted public key file (repeatable; each carries its key id)
    #[arg(long = "public-key-file", value_name = "FILE", required = true)]
    pub public_key_files: Vec<PathBuf>,
    /// The policy directory (`*.cedar` and `schema.cedarschema`)
    #[arg(short = 'p', long = "policies", value_name = "DIR")]
    pub policies: PathBuf,
    /// The request: `{"audience": URI, "action": NAME, "authorization_details": {...}}`
    #[arg(long, value_name = "FILE")]
    pub request_json: PathBuf,
    /// The entity data the policies read (people, teams, resources, fleets): a Cedar
    /// entities JSON file, checked against the schema
    #[arg(long, value_name = "FILE")]
    pub entities: Option<PathBuf>,
    /// Judge as of this time (RFC 3339; default now)
    #[arg(long, value_name = "RFC3339", value_parser = times::parse_time)]
    pub now: Option<std::time::SystemTime>,
    /// A revocation list file (one hex revocation id per line)
    #[arg(long, value_name = "FILE")]
    pub revocation_list: Option<PathBuf>,
    /// The holder's proof of possession (as `valet prove` prints it)
    #[arg(long, value_name = "FILE")]
    pub proof: Option<PathBuf>,
    /// A signed approval (as `valet approve` prints it; repeatable)
    #[arg(long = "approval", value_name = "FILE")]
    pub approvals: Vec<PathBuf>,
    /// A trusted approver's public key file (repeatable)
    #[arg(long = "approver-key-file", value_name = "FILE")]
    pub approver_key_files: Vec<PathBuf>,
    /// Risky: also honour bearer tokens, bound to no holder key, for whoever presents
    /// them: anyone holding a copy of one can use it. By default only tokens the issuer
    /// bound to a holder key are accepted, each request with a fresh proof (--proof)
    #[arg(long)]
    pub accept_bearer_tokens: bool,
}

/// `valet validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The policy directory
    #[arg(short = 'p', long = "policies", value_name = "DIR")]
    pub policies: PathBuf,
    /// The schema file (default: `schema.cedarschema` in the policy directory)
    #[arg(short = 's', long = "schema", value_name = "FILE")]
    pub schema: Option<PathBuf>,
    /// Also check a Cedar entities JSON file against the schema
    #[arg(long, value_name = "FILE")]
    pub entities: Option<PathBuf>,
    /// Treat warnings as failures
    #[arg(long)]
    pub deny_warnings: bool,
}

/// `valet format`.
#[derive(Debug, Args)]
pub struct FormatArgs {
    /// The policy directory
    #[arg(short = 'p', long = "policies", value_name = "DIR")]
    pub policies: PathBuf,
    /// Only check that every file is formatted (exit 3 if not)
    #[arg(long, conflicts_with = "write")]
    pub check: bool,
    /// Rewrite the files in place
    #[arg(long)]
    pub write: bool,
}

/// `valet run-tests`.
#[derive(Debug, Args)]
pub struct RunTestsArgs {
    /// The policy directory
    #[arg(short = 'p', long = "policies", value_name = "DIR")]
    pub policies: PathBuf,
    /// The test directory (default: `tests` in the policy directory)
    #[arg(long, value_name = "DIR")]
    pub tests: Option<PathBuf>,
}

/// `valet revoke`.
#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// The revocation id (hex), as `valet inspect` shows it
    #[arg(value_name = "ID")]
    pub id: String,
    /// The revocation list file (created if missing)
    #[arg(long, value_name = "FILE")]
    pub list: PathBuf,
}

/// `valet proxy`.
#[derive(Debug, Args)]
pub struct ProxyArgs {
    /// The config file (TOML; see crates/valet-proxy/proxy.example.toml)
    #[arg(value_name = "FILE")]
    pub config: PathBuf,
    /// Only check the config and every file it names, then exit (0 valid, 3 problems)
    #[arg(long)]
    pub check: bool,
}
