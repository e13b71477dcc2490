//! A short agent task judged against the bundled `policies/`: mint tokens bound to each
//! agent's key, attenuate, authorize each request with its proof of possession, and print
//! each decision with its reasons.
//!
//! Run from the repository root: `cargo run --release -p valet --example demo`.

use std::error::Error;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use valet::danger::BearerMinting;
use valet::*;

fn payment(amount: &str, currency: &str, recipient: &str) -> TransactionDetails {
    TransactionDetails::new("payment")
        .with("amount", amount)
        .with("currency", currency)
        .with("recipient", recipient)
}

fn show(step: &str, d: &Decision) {
    println!("{step}\n  -> {}", d.outcome());
    if let Some(a) = d.approval() {
        println!("     approval needed: {a}");
    }
    for r in d.reasons() {
        println!("     - {r}");
    }
    let audit = d.audit();
    println!(
        "     audit: subject={} agent={} chain=[{}] policies=[{}]",
        audit.subject.as_deref().unwrap_or("?"),
        audit.agent.as_deref().unwrap_or("?"),
        audit
            .chain
            .iter()
            .filter_map(|l| l.delegate.as_deref())
            .collect::<Vec<_>>()
            .join(" -> "),
        audit
            .determining_policies
            .iter()
            .map(|p| p.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
}

/// What the holder of `key` sends beside `token`: a fresh proof of possession for `request`.
fn proved(
    key: &SigningKey,
    token: &Token,
    request: &Request,
    now: SystemTime,
) -> Result<Presentation, Box<dyn Error>> {
    Ok(Presentation::new().proof(HolderProof::sign(key, token, request, now)?))
}

fn main() -> Result<(), Box<dyn Error>> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "policies".to_owned());
    let policies = PolicyStore::load(&dir).map_err(|e| format!("{dir}: {e}"))?;
    println!("loaded the policies in {dir}/\n");

    let root = RootKeyPair::generate(KeyId(1));
    let pay = Audience::parse("https://pay.example.com")?;
    let tools = Audience::parse("https://tools.example.com")?;
    let now = SystemTime::now();
    let clock = Arc::new(FixedClock::new(now));
    let audit = Arc::new(MemoryAudit::new());
    let authorizer = Authorizer::builder(KeySet::new().with(root.public()), policies)
        .clock(clock.clone())
        .audit(audit.clone())
        .build();

    // Each agent holds its own key pair; its tokens are bound to the public key.
    let orchestrator = SigningKey::generate();
    let invoice_agent = SigningKey::generate();
    let travel_agent = SigningKey::generate();

    let token = Issuer::new(root.clone()).mint_at(
        TokenBuilder::new("alice@example.com", "https://orchestrator.example/client")
            .audience(pay.clone())
            .audience(tools.clone())
            .scope(Scope::parse("payments:write")?)
            .scope(Scope::parse("tools:read")?)
            .token_id("task-42")
            .expires_in(Duration::from_secs(15 * 60))
            .detail(
                AuthorizationDetail::new("payment")
                    .actions(["pay_invoice"])
                    .max("amount", "1000.00".parse()?)
                    .one_of("currency", ["USD"]),
            )
            .holder(orchestrator.public()),
        now,
    )?;
    println!(
        "minted a token for the orchestrator ({} bytes), bound to its key {}: payments up to 1000.00 USD, 15 minutes\n",
        token.to_bytes().len(),
        orchestrator.public()
    );
    let child = token.attenuate_signed(
        Attenuation::new()
            .delegate("invoice-agent")
            .max("payment", "amount", "50.00".parse()?)
            .one_of("payment", "recipient", ["alice@example.com"])
            .expires_in(Duration::from_secs(5 * 60))
            .now(now)
            .holder(invoice_agent.public()),
        &orchestrator,
    )?;
    println!(
        "attenuated it offline for invoice-agent, handed to its key and signed by the orchestrator's: 50.00 to alice@example.com, 5 minutes\n"
    );
    println!("every request below carries a proof of possession by the token's holder, unless it says otherwise\n");

    let pay_req = |d: TransactionDetails| Request::new(pay.clone(), "pay_invoice").details(d);
    let req = pay_req(payment("50.00", "USD", "alice@example.com"));
    show(
        "1. invoice-agent pays alice 50.00 USD",
        &authorizer.authorize(
            &child,
            &req,
            &proved(&invoice_agent, &child, &req, clock.now())?,
        ),
    );
    show(
        "1b. someone with a copy of invoice-agent's token, but not its key, sends the same payment",
        &authorizer.authorize(&child, &req, &Presentation::new()),
    );
    let req = pay_req(payment("50.01", "USD", "alice@example.com"));
    show(
        "2. invoice-agent pays alice 50.01 USD",
        &authorizer.authorize(
            &child,
            &req,
            &proved(&invoice_agent, &child, &req, clock.now())?,
        ),
    );
    let req = pay_req(payment("20.00", "USD", "bob@example.com"));
    show(
        "3. invoice-agent pays bob 20.00 USD",
        &authorizer.authorize(
            &child,
            &req,
            &proved(&invoice_agent, &child, &req, clock.now())?,
        ),
    );
    let req = Request::new(Audience::parse("https://evil.example")?, "pay_invoice")
        .details(payment("50.00", "USD", "alice@example.com"));
    show(
        "4. invoice-agent presents its token at another server",
        &authorizer.authorize(
            &child,
            &req,
            &proved(&invoice_agent, &child, &req, clock.now())?,
        ),
    );
    let req = pay_req(payment("700.00", "USD", "carol@example.com"));
    show(
        "5. the orchestrator pays carol 700.00 USD (above the approval threshold)",
        &authorizer.authorize(
            &token,
            &req,
            &proved(&orchestrator, &token, &req, clock.now())?,
        ),
    );
    let req = pay_req(payment("10.00", "USD", "dave@example.com"));
    show(
        "6. the orchestrator pays dave 10.00 USD (not an allowed recipient)",
        &authorizer.authorize(
            &token,
            &req,
            &proved(&orchestrator, &token, &req, clock.now())?,
        ),
    );
    let big_grant = Issuer::new(root.clone()).mint_at(
        TokenBuilder::new("alice@example.com", "https://orchestrator.example/client")
            .audience(pay.clone())
            .scope(Scope::parse("payments:write")?)
            .expires_in(Duration::from_secs(15 * 60))
            .detail(AuthorizationDetail::new("payment").max("amount", "5000.00".parse()?))
            .holder(orchestrator.public()),
        now,
    )?;
    let req = pay_req(payment("2500.00", "USD", "alice@example.com"));
    show(
        "6b. with a 5000.00 token, the orchestrator pays alice 2500.00 USD (above the policy ceiling)",
        &authorizer.authorize(&big_grant, &req, &proved(&orchestrator, &big_grant, &req, clock.now())?),
    );
    let other_client = Issuer::new(root.clone()).mint_at(
        TokenBuilder::new("alice@example.com", "https://travel-agent.example/client")
            .audience(pay.clone())
            .scope(Scope::parse("payments:write")?)
            .expires_in(Duration::from_secs(15 * 60))
            .holder(travel_agent.public()),
        now,
    )?;
    let req = pay_req(payment("30.00", "EUR", "bob@example.com"));
    show(
        "6c. another agent of alice's, with its own token, pays bob 30.00 EUR",
        &authorizer.authorize(
            &other_client,
            &req,
            &proved(&travel_agent, &other_client, &req, clock.now())?,
        ),
    );
    let req = Request::new(tools.clone(), "read_calendar");
    show(
        "7. the orchestrator reads the calendar",
        &authorizer.authorize(
            &token,
            &req,
            &proved(&orchestrator, &token, &req, clock.now())?,
        ),
    );
    let req = pay_req(payment("12.5x", "USD", "alice@example.com"));
    show(
        "8. a malformed transaction: amount `12.5x`",
        &authorizer.authorize(
            &token,
            &req,
            &proved(&orchestrator, &token, &req, clock.now())?,
        ),
    );
    clock.advance(Duration::from_secs(6 * 60));
    let req = pay_req(payment("10.00", "USD", "alice@example.com"));
    show(
        "9. six minutes later, invoice-agent pays alice 10.00 USD",
        &authorizer.authorize(
            &child,
            &req,
            &proved(&invoice_agent, &child, &req, clock.now())?,
        ),
    );
    if let Some(id) = token.revocation_ids().first() {
        authorizer.revocations().revoke(id.clone())?;
    }
    let req = Request::new(tools.clone(), "read_calendar");
    show(
        "10. the person revokes the orchestrator's token; it reads the calendar again",
        &authorizer.authorize(
            &token,
            &req,
            &proved(&orchestrator, &token, &req, clock.now())?,
        ),
    );
    // A bearer token, bound to no key, is minted only through `valet::danger`, and this
    // authorizer, built with the defaults, refuses it.
    let bearer = Issuer::new(root.clone()).mint_at(
        TokenBuilder::new("alice@example.com", "https://orchestrator.example/client")
            .audience(tools.clone())
            .scope(Scope::parse("tools:read")?)
            .expires_in(Duration::from_secs(5 * 60))
            .bearer(),
        clock.now(),
    )?;
    show(
        "11. a bearer token (minted through valet::danger, usable by whoever holds a copy) reads the calendar",
        &authorizer.authorize(&bearer, &Request::new(tools, "read_calendar"), &Presentation::new()),
    );

    println!("\naudit log ({} records), last one:", audit.records().len());
    if let Some(last) = audit.records().last() {
        println!("{}", last.to_json_line());
    }
    Ok(())
}
