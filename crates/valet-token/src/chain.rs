//! A signature chain that verified against a trusted key, with its blocks' Datalog
//! prepared once, and the evaluation of its checks against one request.

use std::sync::Arc;
use std::time::SystemTime;

use biscuit_auth::builder::Fact;
use biscuit_auth::datalog::SymbolTable;
use biscuit_auth::error::{FailedCheck, Logic, RunLimit, Token as BiscuitError};
use biscuit_auth::{AuthorizerBuilder, AuthorizerLimits};

use crate::agent_keys::VerifyingKey;
use crate::engine::{EvalLimits, PrepareError, Prepared, Refusal};
use crate::facts::{datalog_facts, request_facts};
use crate::limits::Limits;
use crate::messages::explain;
use crate::request::Request;
use crate::signature::verify_chain;
use crate::token::Token;
use crate::verdict::{Reason, ReasonKind};

/// A signature chain that verified against a trusted key, with its Datalog prepared:
/// everything here is a pure function of the token bytes and that key.
pub(crate) struct VerifiedChain {
    /// The key that signed each block as a third party (authority first, always `None`),
    /// as the verified signatures state it.
    pub(crate) signers: Vec<Option<VerifyingKey>>,
    prepared: Result<Prepared, Vec<Reason>>,
    /// The root key the signatures verified under.
    pub(crate) root_key: biscuit_auth::PublicKey,
    /// The token as read (its decoded blocks included), shared with later readers of the
    /// same bytes.
    pub(crate) token: Arc<Token>,
}

impl VerifiedChain {
    /// Checks the signature chain of `token` against the root `key` and prepares its
    /// Datalog. `None` when a signature does not verify.
    pub(crate) fn verify(
        token: &Token,
        key: &biscuit_auth::PublicKey,
        decoded: Option<&ed25519_dalek::VerifyingKey>,
    ) -> Option<Self> {
        let signers = verify_chain(&token.envelope, token.raw_bytes(), key, decoded)?;
        let prepared = prepare(token);
        Some(VerifiedChain {
            signers,
            prepared,
            root_key: *key,
            token: Arc::new(token.clone()),
        })
    }

    /// Runs every block's checks against one request, with the facts of the request and
    /// of the holder keys it proves: the prepared Datalog within `limits`, or Biscuit's
    /// own authorizer (built on this call) when `reference` is set.
    pub(crate) fn check(
        &self,
        token: &Token,
        request: &Request,
        now: SystemTime,
        holders: &[VerifyingKey],
        limits: &Limits,
        reference: bool,
    ) -> Result<(), Vec<Reason>> {
        if reference {
            let facts = request_facts(request, now, token.block_count(), holders);
            return self.run_biscuit_authorizer(token, request, now, facts, limits);
        }
        let prepared = self.prepared.as_ref().map_err(Clone::clone)?;
        let eval_limits = EvalLimits {
            max_facts: limits.max_facts,
            max_combinations: limits.max_check_combinations,
            max_cost: limits.max_datalog_cost,
            max_time: limits.max_datalog_time,
        };
        let facts = |symbols: &mut SymbolTable| {
            datalog_facts(symbols, request, now, token.block_count(), holders)
        };
        match prepared.evaluate(facts, &eval_limits) {
            Ok(()) => Ok(()),
            Err(Refusal::Failed(failed)) => Err(failed
                .iter()
                .map(|f| explain(f.block, f.index, &f.text, &token.specs, request, now))
                .collect()),
            Err(Refusal::TooManyFacts) => Err(vec![too_many_facts(limits)]),
            Err(Refusal::TooManyCombinations {
                block,
                combinations,
            }) => {
                let mut r = Reason::new(
                    ReasonKind::RunLimit,
                    format!(
                        "block {block} has a check that could try {combinations} fact combinations, more than the limit of {}",
                        limits.max_check_combinations
                    ),
                );
                r.block = Some(block);
                Err(vec![r])
            }
            Err(Refusal::TooCostly { block, cost }) => {
                let mut r = Reason::new(
                    ReasonKind::RunLimit,
                    format!(
                        "the token's checks could cost {cost} units of work for this request (block {block} the most), more than the limit of {}: use fewer or smaller raw checks, or send a smaller request",
                        limits.max_datalog_cost
                    ),
                );
                r.block = Some(block);
                Err(vec![r])
            }
            Err(Refusal::Timeout) => Err(vec![timeout(limits)]),
            Err(Refusal::Execution(e)) => Err(vec![Reason::new(
                ReasonKind::Internal,
                format!("the token could not be evaluated: {e}"),
            )]),
        }
    }

    /// The same checks run by Biscuit's own authorizer (built per call), for tests that
    /// compare it with the prepared evaluation. No budget is applied before it runs.
    fn run_biscuit_authorizer(
        &self,
        token: &Token,
        request: &Request,
        now: SystemTime,
        facts: Vec<Fact>,
        limits: &Limits,
    ) -> Result<(), Vec<Reason>> {
        let internal = |e: BiscuitError| {
            vec![Reason::new(
                ReasonKind::Internal,
                format!("the token could not be evaluated: {e}"),
            )]
        };
        let mut builder = AuthorizerBuilder::new().set_limits(AuthorizerLimits {
            max_facts: limits.max_facts,
            max_iterations: limits.max_iterations,
            max_time: limits.max_datalog_time,
        });
        for fact in facts {
            builder = builder.fact(fact).map_err(internal)?;
        }
        let biscuit =
            biscuit_auth::Biscuit::from(token.raw_bytes(), self.root_key).map_err(internal)?;
        let mut authorizer = builder
            .policy("allow if true")
            .and_then(|b| b.build(&biscuit))
            .map_err(internal)?;
        match authorizer.authorize() {
            Ok(_) => Ok(()),
            Err(BiscuitError::FailedLogic(
                Logic::Unauthorized { checks, .. } | Logic::NoMatchingPolicy { checks },
            )) if !checks.is_empty() => Err(checks
                .iter()
                .map(|c| match c {
                    FailedCheck::Block(b) => explain(
                        b.block_id as usize,
                        b.check_id as usize,
                        &b.rule,
                        &token.specs,
                        request,
                        now,
                    ),
                    FailedCheck::Authorizer(a) => Reason::new(
                        ReasonKind::Internal,
                        format!("verifier check failed: {}", a.rule),
                    ),
                })
                .collect()),
            Err(BiscuitError::RunLimit(RunLimit::TooManyFacts)) => {
                Err(vec![too_many_facts(limits)])
            }
            Err(BiscuitError::RunLimit(RunLimit::Timeout)) => Err(vec![timeout(limits)]),
            Err(BiscuitError::RunLimit(limit)) => {
                Err(vec![Reason::new(ReasonKind::RunLimit, limit.to_string())])
            }
            Err(e) => Err(internal(e)),
        }
    }
}

/// The refusal of a chain whose Datalog produced more facts than the limits allow.
fn too_many_facts(limits: &Limits) -> Reason {
    Reason::new(
        ReasonKind::RunLimit,
        format!(
            "the token's Datalog produced more than {} facts",
            limits.max_facts
        ),
    )
}

/// The refusal of a chain whose Datalog ran longer than the limits allow.
fn timeout(limits: &Limits) -> Reason {
    Reason::new(
        ReasonKind::RunLimit,
        format!(
            "the token's Datalog ran longer than {:?}",
            limits.max_datalog_time
        ),
    )
}

/// A verified chain's Datalog prepared for evaluation, or the refusal of a block that
/// cannot be read or that carries rules (valet blocks carry only facts and checks). A
/// pure function of the chain, so it is kept with it in the cache.
fn prepare(token: &Token) -> Result<Prepared, Vec<Reason>> {
    Prepared::new(token).map_err(|e| {
        let (kind, index, message) = match e {
            PrepareError::Rules(i) => (
                ReasonKind::Format,
                i,
                format!(
                    "block {i} carries Datalog rules: valet blocks carry only facts and checks"
                ),
            ),
            PrepareError::Closures(i) => (
                ReasonKind::Format,
                i,
                format!(
                    "block {i} has a check with a closure (`.all` or `.any`): valet blocks do not use closures, whose cost cannot be bounded before they run"
                ),
            ),
            PrepareError::Refused(i, why) => (ReasonKind::Format, i, format!("block {i} {why}")),
            PrepareError::Unreadable(i, e) => (
                ReasonKind::Internal,
                i,
                format!("block {i} could not be read back as Datalog ({e})"),
            ),
        };
        let mut r = Reason::new(kind, message);
        r.block = Some(index);
        vec![r]
    })
}
