//! `valet`: the command line of the Valet authorization kernel for AI agents.
//!
//! See the crate README (`valet --help`) for every command and the exit codes.

#![forbid(unsafe_code)]

mod args;
mod authorize;
mod entities;
mod error;
mod holder;
mod input;
mod keys;
mod policy;
mod proxy;
mod revoke;
mod text;
mod times;
mod tokens;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::args::{
    ApproveArgs, AttenuateArgs, AuthorizeArgs, ErrorFormat, FormatArgs, InspectArgs, KeypairArgs,
    MintArgs, Output, ProveArgs, ProxyArgs, RevokeArgs, RunTestsArgs, ValidateArgs,
};
use crate::error::{exit, CliResult};

const EXIT_CODES: &str = "\
Exit codes:
  0  allowed, or the command succeeded
  1  error: bad input, a bad key, a missing or unreadable file, a refused attenuation
  2  denied
  3  validation failure: the policies, their tests or the entity data checked by
     `valet validate --entities` have errors, or a `valet proxy` config has problems
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

With --entities, the policies also read the resource server's entity data: a Cedar entities
JSON file (people and their teams, files and their folders and owners, agents' fleets),
checked against the schema. The resource is the details' `identifier` (written
`Type::\"id\"` when the action takes several resource types), else the audience:
  valet authorize --token token --public-key-file root.pub -p policies \\
    --entities policies/entities.json --request-json read.json --proof proof.json
read.json:
  {\"audience\": \"https://files.example.com\", \"action\": \"read_file\",
   \"authorization_details\": {\"type\": \"file\", \"identifier\": \"/finance/reports/q3.xlsx\"}}

With --output json, one JSON object on one line:
  {\"decision\": \"allow\" | \"deny\" | \"needs_approval\",
   \"reasons\": [{\"layer\": \"token\" | \"policy\" | ..., \"kind\"?, \"block\"?, \"policy\"?, \"message\"}],
   \"approval\": string | null,
   \"determining_policies\": [{\"id\", \"effect\", \"annotations\"}],
   \"token_verified\": bool,
   \"audit\": {the audit record: time, outcome, reasons, subject, client, agent, chain,
             audience, action, authorization_details, revocation_ids, ...}}

Exit codes: 0 allow, 1 error (an entities file that cannot be read or does not fit the
schema too), 2 deny, 3 the policies do not validate, 4 needs approval")]
    Authorize(AuthorizeArgs),
    /// Validate a policy directory against its schema, and entity data with --entities
    #[command(after_help = "\
Examples:
  valet validate -p policies --deny-warnings
  valet validate -p policies --entities policies/entities.json

Problems are printed as `file:line:column: error: message`. With --entities, an entities
file that is not a JSON array of entities of the schema's types and attributes is a
validation failure that says where it does not fit.

Exit codes: 0 valid, 1 error (e.g. no such directory or file), 3 validation failure")]
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

Each case's `entities` is an array of Cedar entities, or the name of an entities file in the
test file's directory; every `*.json` file of the test directory is read as tests, except
entity data named `entities.json` or `*.entities.json` (`\"entities\": \"acme.entities.json\"`).
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
    /// Serve a reverse proxy that judges every request before an upstream HTTP or MCP server
    #[command(after_help = "\
Examples:
  valet proxy --check proxy.toml    # the config and every file it names are valid
  valet proxy proxy.toml            # serve until SIGTERM or Ctrl-C

The config file says the resource URI, the upstream URL, the trusted root and approver
keys, the policies and entity data, how tool calls map to actions, the timeouts and the
audit output; relative paths are read from its directory. Start from
crates/valet-proxy/proxy.example.toml; its README has every key. Problems are printed as
`file:line:column: error: message`. The proxy prints one status line on standard error
when it listens; on SIGTERM or Ctrl-C it stops accepting, lets the requests in flight
finish (up to `timeouts.shutdown`) and exits.

Exit codes: 0 valid (--check), or stopped on a signal; 1 error (the config file cannot be
read, the address cannot be bound); 3 the config has problems")]
    Proxy(ProxyArgs),
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
        Command::Proxy(a) => proxy::proxy(&a, output),
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
