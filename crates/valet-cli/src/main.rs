//! `valet`: the command line of the Valet authorization kernel for AI agents.
//!
//! See the crate README (`valet --help`) for every command and the exit codes.

#![forbid(unsafe_code)]

mod authorize;
mod error;
mod holder;
mod input;
mod keys;
mod policy;
mod revoke;
mod text;
mod times;
mod tokens;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::error::{exit, CliResult};
use crate::times::Ttl;

const EXIT_CODES: &str = "\
Exit codes:
  0  allowed, or the command succeeded
  1  error: bad input, a bad key, a missing or unreadable file, a refused attenuation
  2  denied
  3  validation failure: the policies (or their tests) have errors
  4  needs approval: only an @approval policy stands in the way; ask a human";

/// Valet: valet keys for AI agents, judged with the owner's Cedar policies.
///
/// Tokens are read from a file named on the command line, or from standard input with `-`.
/// Keys are read only from files.
#[derive(Debug, Parser)]
#[command(name = "valet", version, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    /// How results are printed.
    #[arg(long, global = true, value_enum, default_value_t = Output::Text)]
    output: Output,
    /// How errors are printed (on standard error).
    #[arg(long, global = true, value_enum, default_value_t = ErrorFormat::Human)]
    error_format: ErrorFormat,
}

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

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a root key pair (the private key file is written with mode 0600)
    #[command(after_help = "\
Examples:
  valet keypair --private-key-file root.key --public-key-file root.pub --key-id 1
  valet keypair --from-private-key-file root.key --only-public-key

Exit codes: 0 ok, 1 error")]
    Keypair(KeypairArgs),
    /// Mint a root token bound to an agent's key; prints the token (base64url)
    #[command(after_help = "\
Example:
  valet keypair --kind agent --private-key-file agent.key --public-key-file agent.pub
  valet mint --private-key-file root.key \\
    --subject alice@example.com --client https://agent.example/client \\
    --audience https://pay.example.com --scope payments:write \\
    --authorization-details details.json --add-ttl 15m \\
    --holder-key-file agent.pub > token

Every request with the token then needs a proof of possession by the agent's key
(`valet prove`). `--bearer` instead mints a token bound to no key, which anyone holding a
copy of it can use; verifiers refuse it unless they accept bearer tokens.

details.json is an RFC 9396 array, with Valet's `limits` member:
  [{\"type\": \"payment\", \"actions\": [\"pay_invoice\"],
    \"limits\": {\"amount\": {\"max\": \"1000.00\"}, \"currency\": {\"one_of\": [\"USD\"]}}}]

Exit codes: 0 ok, 1 error")]
    Mint(MintArgs),
    /// Narrow a token offline, without any key; prints the new token
    #[command(after_help = "\
Example:
  valet attenuate token --delegate invoice-agent \\
    --limit payment.amount<=50.00 --allow payment.recipient=alice@example.com \\
    --add-ttl 5m > child

A widening (an audience, scope, later expiry or looser limit the parent does not have)
is refused with exit code 1.

Exit codes: 0 ok, 1 error")]
    Attenuate(AttenuateArgs),
    /// Show what a token says: claims, blocks, expiry, revocation ids, signature
    #[command(after_help = "\
Example:
  valet inspect child --public-key-file root.pub

The claims are the token's own statements: they are trusted only once the signature is
checked with --public-key-file.

Exit codes: 0 ok, 1 error (including a signature that does not verify)")]
    Inspect(InspectArgs),
    /// Authorize one request with a token and the policies
    #[command(after_help = "\
Example:
  valet prove --token child --private-key-file sub.key --request-json request.json > proof.json
  valet authorize --token child --public-key-file root.pub -p policies \\
    --request-json request.json --proof proof.json

request.json:
  {\"audience\": \"https://pay.example.com\", \"action\": \"pay_invoice\",
   \"authorization_details\": {\"type\": \"payment\", \"amount\": \"42.00\",
                             \"currency\": \"USD\", \"recipient\": \"alice@example.com\"}}
Decimals are strings (`\"42.00\"`), never JSON numbers.

With --output json, one JSON object on one line:
  {\"decision\": \"allow\" | \"deny\" | \"needs_approval\",
   \"reasons\": [{\"layer\": \"token\" | \"policy\" | ..., \"kind\"?, \"block\"?, \"policy\"?, \"message\"}],
   \"approval\": string | null,
   \"determining_policies\": [{\"id\", \"effect\", \"annotations\"}],
   \"token_verified\": bool,
   \"audit\": {the audit record: time, outcome, reasons, subject, client, agent, chain,
             audience, action, authorization_details, revocation_ids, ...}}

Exit codes: 0 allow, 1 error, 2 deny, 3 the policies do not validate, 4 needs approval")]
    Authorize(AuthorizeArgs),
    /// Validate a policy directory against its schema
    #[command(after_help = "\
Example:
  valet validate -p policies --deny-warnings

Problems are printed as `file:line:column: error: message`.

Exit codes: 0 valid, 1 error (e.g. no such directory), 3 validation failure")]
    Validate(ValidateArgs),
    /// Format the policy files of a directory
    #[command(after_help = "\
Examples:
  valet format -p policies            # print the formatted policies
  valet format -p policies --check    # exit 3 if a file is not formatted
  valet format -p policies --write    # rewrite the files

Exit codes: 0 ok, 1 error, 3 a file does not parse or (with --check) is not formatted")]
    Format(FormatArgs),
    /// Run the policy tests (Cedar's `run-tests` JSON shape)
    #[command(after_help = "\
Example:
  valet run-tests -p policies --tests policies/tests

Prints one line per case and ends with `N passed, M failed`.

Exit codes: 0 all passed, 1 error, 3 a test failed or the policies do not validate")]
    RunTests(RunTestsArgs),
    /// Add a revocation id to a revocation list file
    #[command(after_help = "\
Example:
  valet revoke 85050157240dae1f...0e --list revoked.txt
  valet authorize ... --revocation-list revoked.txt

Take the id from `valet inspect`: revoking a block refuses that token and every token
attenuated from it.

Exit codes: 0 ok, 1 error")]
    Revoke(RevokeArgs),
    /// Sign a proof of possession for one request with a holder-bound token; prints JSON
    #[command(after_help = "\
Example:
  valet keypair --kind agent --private-key-file agent.key --public-key-file agent.pub
  valet mint ... --holder-key-file agent.pub > token
  valet prove --token token --private-key-file agent.key --request-json request.json > proof.json
  valet authorize --token token --proof proof.json ...

The proof signs the audience, the action, the transaction, the token and the time, with a
single-use nonce: make a new one for every request (verifiers accept it for 60 s).

Exit codes: 0 ok, 1 error")]
    Prove(ProveArgs),
    /// Sign an approval of one exact request, as the approver; prints JSON
    #[command(after_help = "\
Example:
  valet keypair --kind approver --private-key-file me.key --public-key-file me.pub
  valet approve --private-key-file me.key --token token --request-json request.json \\
    --add-ttl 5m > approval.json
  valet authorize --token token ... --approver-key-file me.pub --approval approval.json

The approval covers this token (exactly: another agent's token, or this one attenuated,
cannot use it), its subject, and this audience, action and transaction (amount,
recipient...) only, until it expires, and allows one request.

Exit codes: 0 ok, 1 error")]
    Approve(ApproveArgs),
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

fn run(cli: Cli) -> CliResult {
    let output = cli.output;
    match cli.command {
        Command::Keypair(a) => keys::keypair(&a),
        Command::Mint(a) => tokens::mint(&a),
        Command::Attenuate(a) => tokens::attenuate(&a),
        Command::Inspect(a) => tokens::inspect(&a, output),
        Command::Authorize(a) => authorize::authorize(&a, output),
        Command::Validate(a) => policy::validate(&a, output),
        Command::Format(a) => policy::format(&a),
        Command::RunTests(a) => policy::run_tests(&a, output),
        Command::Revoke(a) => revoke::revoke(&a),
        Command::Prove(a) => holder::prove(&a),
        Command::Approve(a) => holder::approve(&a),
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Usage errors exit with 1: code 2 means "denied".
            let code = if e.use_stderr() {
                exit::ERROR
            } else {
                exit::OK
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let error_format = cli.error_format;
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            match error_format {
                ErrorFormat::Human => eprintln!("{e}"),
                ErrorFormat::Json => {
                    eprintln!("{}", serde_json::json!({ "error": e }));
                }
            }
            ExitCode::from(e.exit_code)
        }
    }
}
