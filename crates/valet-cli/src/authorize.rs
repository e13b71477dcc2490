//! `valet authorize`.

use std::sync::Arc;
use std::time::SystemTime;

use serde_json::json;
use valet::danger::DangerousAuthorizerBuilder;
use valet::{Authorizer, Decision, FileRevocations, FixedClock, Outcome, PolicyStore};
use valet_token::{Limits, ReasonKind, Request, RequestError};

use crate::args::{AuthorizeArgs, Output};
use crate::error::{exit, CliError, CliResult};
use crate::input::{read_file, read_key_set, read_token};
use crate::policy::policy_error;
use crate::text::Lines;
use crate::times::{relative, unix};

/// Judges one request with a token and the policies.
pub fn authorize(args: &AuthorizeArgs, output: Output) -> CliResult {
    let token = read_token(&args.token)?;
    let keys = read_key_set(&args.public_key_files)?;
    let policies =
        Arc::new(PolicyStore::load(&args.policies).map_err(|e| policy_error(&args.policies, &e))?);
    let entities = match &args.entities {
        Some(path) => Some(crate::entities::load(
            path,
            &args.policies,
            &policies,
            CliError::new,
        )?),
        None => None,
    };
    let text = read_file(&args.request_json, "request file")?;
    let request = Request::from_json(&text, &Limits::default()).map_err(|e| {
        let hint = match e {
            RequestError::Field { .. } => "",
            _ => ": write `{\"audience\": URI, \"action\": NAME, \"authorization_details\": {...}}`, with decimals as strings like `\"amount\": \"12.50\"`",
        };
        CliError::new(format!(
            "`{}` is not a valid request: {e}{hint}",
            args.request_json.display()
        ))
    })?;
    let now = args.now.unwrap_or_else(SystemTime::now);
    let mut builder = Authorizer::builder(keys, policies).clock(Arc::new(FixedClock::new(now)));
    if let Some(entities) = entities {
        builder = builder.entities(Arc::new(entities));
    }
    if let Some(list) = &args.revocation_list {
        let store = FileRevocations::open(list).map_err(|e| {
            CliError::new(format!(
                "cannot load the revocation list `{}`: {e}: fix or remove the offending line",
                list.display()
            ))
        })?;
        builder = builder.revocations(Arc::new(store));
    }
    let mut presented = valet::Presentation::new();
    if let Some(path) = &args.proof {
        presented = presented.proof(crate::holder::read_proof(path)?);
    }
    for path in &args.approvals {
        presented = presented.approval(crate::holder::read_approval(path)?);
    }
    for path in &args.approver_key_files {
        builder = builder.approver(crate::holder::read_verifying_key(path)?);
    }
    if args.accept_bearer_tokens {
        builder = builder.accept_bearer_tokens();
    }
    let decision = builder.build().authorize(&token, &request, &presented);
    match output {
        Output::Json => {
            let doc = json!({
                "decision": decision.outcome(),
                "reasons": decision.reasons(),
                "approval": decision.approval(),
                "determining_policies": decision.determining_policies(),
                "token_verified": decision.token_verified(),
                "audit": decision.audit(),
            });
            println!("{doc}");
        }
        Output::Text => print!("{}", describe(&decision, unix(now))),
    }
    Ok(match decision.outcome() {
        Outcome::Allow => exit::OK,
        Outcome::Deny => exit::DENY,
        Outcome::NeedsApproval => exit::NEEDS_APPROVAL,
    })
}

fn describe(decision: &Decision, now: u64) -> String {
    let mut out = Lines::new();
    match decision.outcome() {
        Outcome::Allow => out.line("ALLOW"),
        Outcome::Deny => out.line("DENY"),
        Outcome::NeedsApproval => out.line(format_args!(
            "NEEDS APPROVAL: {}",
            decision.approval().unwrap_or("ask the account owner")
        )),
    }
    for r in decision.reasons() {
        let mut line = r.to_string();
        match (r.kind, decision.claims()) {
            (Some(ReasonKind::Expired), Some(c)) => {
                line = format!(
                    "{line}, {}: mint or attenuate a fresh one",
                    relative(c.expires_at, now)
                );
            }
            (Some(ReasonKind::Revoked), _) => {
                line = format!("{line}: the token was revoked; ask its issuer for a new one");
            }
            _ => {}
        }
        out.line(format_args!("  - {line}"));
    }
    if let Some(c) = decision.claims() {
        out.line(format_args!(
            "  token: subject {}, agent {}{}",
            c.subject,
            c.agent(),
            if decision.token_verified() {
                ""
            } else {
                " (unverified)"
            }
        ));
    }
    out.into_string()
}
