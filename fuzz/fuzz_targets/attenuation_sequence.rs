#![no_main]
//! A sequence of attenuations -> token -> authorize, checking monotonicity: whatever a
//! child allows, its parent allows too.
#[path = "common.rs"]
mod common;

use arbitrary::Arbitrary;
use std::time::Duration;
use valet_token::*;

#[derive(Arbitrary, Debug)]
enum Op {
    Delegate(u8),
    Audience(bool),
    Scopes(bool, bool),
    ExpiresIn(u16),
    MaxAmount(u32),
    Recipients(u8),
    Currencies(bool),
    Actions(bool),
    MaxDepth(u8),
}

#[derive(Arbitrary, Debug)]
struct Input {
    ops: Vec<Vec<Op>>,
    amount_cents: u32,
    recipient: u8,
    at_tools: bool,
    later_secs: u16,
    action_read: bool,
}

const PEOPLE: [&str; 3] = ["alice@example.com", "bob@example.com", "carol@example.com"];

fn attenuation(ops: &[Op]) -> Attenuation {
    let mut a = Attenuation::new().now(common::now());
    for op in ops {
        a = match op {
            Op::Delegate(n) => a.delegate(format!("agent-{n}")),
            Op::Audience(tools) => a.audiences([Audience::parse(if *tools {
                "https://tools.example.com"
            } else {
                "https://pay.example.com"
            })
            .expect("audience")]),
            Op::Scopes(p, t) => a.scopes(
                [(*p, "payments:write"), (*t, "tools:read")]
                    .into_iter()
                    .filter(|(keep, _)| *keep)
                    .map(|(_, s)| Scope::parse(s).expect("scope")),
            ),
            Op::ExpiresIn(s) => a.expires_in(Duration::from_secs(u64::from(*s))),
            Op::MaxAmount(c) => a.max(
                "payment",
                "amount",
                Decimal::from_scaled(i64::from(*c) * 100),
            ),
            Op::Recipients(mask) => a.one_of(
                "payment",
                "recipient",
                PEOPLE
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| mask & (1 << i) != 0)
                    .map(|(_, p)| *p),
            ),
            Op::Currencies(usd) => {
                a.one_of("payment", "currency", [if *usd { "USD" } else { "EUR" }])
            }
            Op::Actions(pay) => a.actions("payment", [if *pay { "pay_invoice" } else { "refund" }]),
            Op::MaxDepth(d) => a.max_depth(u32::from(*d % 4)),
        };
    }
    a
}

libfuzzer_sys::fuzz_target!(|input: Input| {
    let mut chain = vec![common::root_token().clone()];
    for ops in input.ops.iter().take(5) {
        let Some(last) = chain.last() else { return };
        if let Ok(next) = last.attenuate(attenuation(ops)) {
            chain.push(next);
        }
    }
    let audience = Audience::parse(if input.at_tools {
        "https://tools.example.com"
    } else {
        "https://pay.example.com"
    })
    .expect("audience");
    let action = if input.action_read {
        "read_calendar"
    } else {
        "pay_invoice"
    };
    let request = Request::new(audience, action)
        .scope(Scope::parse("payments:write").expect("scope"))
        .details(
            TransactionDetails::new("payment")
                .with(
                    "amount",
                    Decimal::from_scaled(i64::from(input.amount_cents) * 100).to_string(),
                )
                .with("currency", "USD")
                .with(
                    "recipient",
                    PEOPLE[usize::from(input.recipient) % PEOPLE.len()],
                ),
        );
    let at = common::now() + Duration::from_secs(u64::from(input.later_secs));
    let verdicts: Vec<Verdict> = chain
        .iter()
        .map(|t| common::verifier().verify(t, &request, at, &NoRevocations))
        .collect();
    for pair in verdicts.windows(2) {
        if let [parent, child] = pair {
            // A parent refused only because the machine was too slow (the Datalog time
            // limit) says nothing about what it grants: the invariant is about grants.
            let timed_out = parent
                .reasons()
                .iter()
                .any(|r| r.kind == ReasonKind::RunLimit);
            assert!(
                !child.is_allowed() || parent.is_allowed() || timed_out,
                "a child allowed what its parent refused: {:?}",
                parent.reasons()
            );
        }
    }
});
