//! The Datalog of a verified chain, prepared once and evaluated per request.
//!
//! Biscuit's `AuthorizerBuilder::build` decodes every block again and translates its
//! symbols on each call. Here that work is done once per verified chain (and kept with it
//! in the verifier's cache): the blocks' facts are loaded into a fact set under their
//! origins, every check is translated into one symbol table with the origins it trusts,
//! and each check's worst-case join size over the token's own facts is counted. A request
//! then costs a copy of that fact set, its own facts, and the checks.
//!
//! The evaluation is the one of `biscuit_auth::Authorizer::authorize` for an authorizer
//! that holds only facts and the policy `allow if true`: block 0's checks, then every
//! other block's, each query matched against the facts its scopes trust, `check if`,
//! `check all` and `reject if` with Biscuit's meanings, the time limit looked at after
//! each query. Blocks that carry rules are refused when the chain is prepared (valet
//! blocks carry only facts and checks), so no fact is ever derived, and so are checks
//! with closures, whose cost no join count bounds. Every block is translated into the
//! evaluation's symbol table through its strings, as Biscuit's authorizer does, so a
//! symbol id no table defines refuses the chain and a string listed twice is one symbol.
//! Tests compare the verdicts with Biscuit's own authorizer on the same tokens and
//! requests, including blocks built by hand at the protobuf level.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use biscuit_auth::builder::{self as bb, CheckKind as DatalogCheckKind, Convert};
use biscuit_auth::datalog::{self as dl, FactSet, Origin, SymbolTable, TrustedOrigins};
use biscuit_auth::format::convert::proto_block_to_token_block;
use biscuit_auth::PublicKey;

use crate::token::Token;

/// Why a prepared chain refused a request, before or while its checks ran.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// These checks failed: (block, check index in the block, the check's text).
    Failed(Vec<FailedCheck>),
    /// More facts than the limit.
    TooManyFacts,
    /// A check could try more fact combinations than the limit.
    TooManyCombinations { block: usize, combinations: u64 },
    /// The time limit passed.
    Timeout,
    /// An expression could not be evaluated.
    Execution(String),
}

/// A failed check: its block, its index in the block, and its Datalog text.
#[derive(Debug)]
pub(crate) struct FailedCheck {
    pub block: usize,
    pub index: usize,
    pub text: String,
}

/// Why a verified chain cannot be prepared.
#[derive(Debug)]
pub(crate) enum PrepareError {
    /// The block carries Datalog rules.
    Rules(usize),
    /// A check of the block uses a closure (`.all`, `.any`), whose cost cannot be bounded
    /// before it runs (Biscuit looks at the clock only between queries).
    Closures(usize),
    /// The block cannot be read (it verified, so this is a version or symbol problem).
    Unreadable(usize, String),
}

/// The limits of one evaluation.
pub(crate) struct EvalLimits {
    pub max_facts: u64,
    pub max_combinations: u64,
    pub max_time: Duration,
}

struct PreparedQuery {
    rule: dl::Rule,
    origins: TrustedOrigins,
    /// For each predicate of the body, how many of the token's facts it matches.
    token_matches: Vec<u64>,
}

struct PreparedCheck {
    block: usize,
    index: usize,
    kind: DatalogCheckKind,
    queries: Vec<PreparedQuery>,
    check: dl::Check,
}

/// A verified chain's Datalog, ready to be evaluated against requests.
pub(crate) struct Prepared {
    symbols: SymbolTable,
    facts: FactSet,
    fact_count: usize,
    checks: Vec<PreparedCheck>,
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared")
            .field("facts", &self.fact_count)
            .field("checks", &self.checks.len())
            .finish_non_exhaustive()
    }
}

impl Prepared {
    /// Prepares the chain of `token`, whose signatures `biscuit` verified (over the same
    /// bytes the token's blocks were decoded from).
    pub(crate) fn new(
        token: &Token,
        biscuit: &biscuit_auth::Biscuit,
    ) -> Result<Self, PrepareError> {
        let unreadable =
            |i: usize, e: &dyn std::fmt::Display| PrepareError::Unreadable(i, e.to_string());
        let decoded = token.blocks.as_slice();

        // The token's symbol table, as Biscuit builds it: the authority's symbols and
        // public keys, then those of every block that is not a third-party block.
        let mut strings = Vec::new();
        let mut token_keys: Vec<PublicKey> = Vec::new();
        for (i, d) in decoded.iter().enumerate() {
            if i == 0 || !d.third_party {
                strings.extend(d.block.symbols.iter().cloned());
                for pk in &d.block.public_keys {
                    token_keys.push(PublicKey::from_proto(pk).map_err(|e| unreadable(i, &e))?);
                }
            }
        }
        let token_symbols = SymbolTable::from_symbols_and_public_keys(strings, token_keys)
            .map_err(|e| unreadable(0, &e))?;

        // The evaluation's own table, as Biscuit's authorizer builds it: it starts with the
        // third-party signers' keys, each mapped to the blocks it signed (scopes may trust
        // them by key), and every block is translated into it through its strings. The
        // translation resolves every symbol id: an id no table defines refuses the chain,
        // and a string listed twice is one symbol, as Biscuit reads them.
        let mut external = Vec::with_capacity(decoded.len());
        let mut signer_keys: Vec<PublicKey> = Vec::new();
        let mut key_blocks: HashMap<usize, Vec<usize>> = HashMap::new();
        for i in 0..decoded.len() {
            let key = biscuit
                .block_external_key(i)
                .map_err(|e| unreadable(i, &e))?;
            if let (Some(k), true) = (key, i > 0) {
                let id = match signer_keys.iter().position(|x| *x == k) {
                    Some(id) => id,
                    None => {
                        signer_keys.push(k);
                        signer_keys.len() - 1
                    }
                };
                key_blocks.entry(id).or_default().push(i);
            }
            external.push(key);
        }
        let mut symbols = SymbolTable::from_symbols_and_public_keys(Vec::new(), signer_keys)
            .map_err(|e| unreadable(0, &e))?;

        let mut facts = FactSet::default();
        let mut fact_count = 0usize;
        let mut checks = Vec::new();
        for (i, d) in decoded.iter().enumerate() {
            let key = external.get(i).copied().flatten();
            let block = proto_block_to_token_block(&d.block, key).map_err(|e| unreadable(i, &e))?;
            if !block.rules.is_empty() {
                return Err(PrepareError::Rules(i));
            }
            // A third-party block speaks in its own symbols, every other in the token's.
            let from = if i > 0 && block.external_key.is_some() {
                &block.symbols
            } else {
                &token_symbols
            };
            let mut scopes = Vec::with_capacity(block.scopes.len());
            for scope in &block.scopes {
                scopes.push(
                    bb::Scope::convert_from(scope, from)
                        .map_err(|e| unreadable(i, &e))?
                        .convert(&mut symbols),
                );
            }
            let block_origins =
                TrustedOrigins::from_scopes(&scopes, &TrustedOrigins::default(), i, &key_blocks);
            let mut origin = Origin::default();
            origin.insert(i);
            for fact in &block.facts {
                let fact = bb::Fact::convert_from(fact, from)
                    .map_err(|e| unreadable(i, &e))?
                    .convert(&mut symbols);
                facts.insert(&origin, fact);
                fact_count = fact_count.saturating_add(1);
            }
            for (j, check) in block.checks.iter().enumerate() {
                let check = bb::Check::convert_from(check, from)
                    .map_err(|e| unreadable(i, &e))?
                    .convert(&mut symbols);
                let closure = check.queries.iter().any(|q| {
                    q.expressions
                        .iter()
                        .any(|e| e.ops.iter().any(|op| matches!(op, dl::Op::Closure(..))))
                });
                if closure {
                    return Err(PrepareError::Closures(i));
                }
                let queries = check
                    .queries
                    .iter()
                    .map(|rule| PreparedQuery {
                        origins: TrustedOrigins::from_scopes(
                            &rule.scopes,
                            &block_origins,
                            i,
                            &key_blocks,
                        ),
                        token_matches: Vec::new(),
                        rule: rule.clone(),
                    })
                    .collect();
                checks.push(PreparedCheck {
                    block: i,
                    index: j,
                    kind: check.kind.clone(),
                    queries,
                    check,
                });
            }
        }
        // Every fact any check could see, as the budget counts them: all of the token's.
        for check in &mut checks {
            for query in &mut check.queries {
                query.token_matches = query
                    .rule
                    .body
                    .iter()
                    .map(|pattern| {
                        let n = facts
                            .iter_all()
                            .filter(|(_, f)| dl::match_preds(pattern, &f.predicate))
                            .count();
                        u64::try_from(n).unwrap_or(u64::MAX)
                    })
                    .collect();
            }
        }
        Ok(Prepared {
            symbols,
            facts,
            fact_count,
            checks,
        })
    }

    /// Runs every check with the request's facts added (facts of the verifier, trusted
    /// by every check). `Ok` when every check passes.
    pub(crate) fn evaluate(
        &self,
        request_facts: impl FnOnce(&mut SymbolTable) -> Vec<dl::Fact>,
        limits: &EvalLimits,
    ) -> Result<(), Refusal> {
        let mut symbols = self.symbols.clone();
        let request = request_facts(&mut symbols);
        let total = self.fact_count.saturating_add(request.len());
        if u64::try_from(total).unwrap_or(u64::MAX) > limits.max_facts {
            return Err(Refusal::TooManyFacts);
        }

        // Refuse, before anything runs, a check whose joins could try too many combinations
        // (Biscuit looks at the clock only between queries).
        for check in &self.checks {
            for query in &check.queries {
                let combinations = query.rule.body.iter().zip(&query.token_matches).fold(
                    1u64,
                    |acc, (pattern, token)| {
                        let from_request = request
                            .iter()
                            .filter(|f| dl::match_preds(pattern, &f.predicate))
                            .count();
                        let n = token
                            .saturating_add(u64::try_from(from_request).unwrap_or(u64::MAX))
                            .max(1);
                        acc.saturating_mul(n)
                    },
                );
                if combinations > limits.max_combinations {
                    return Err(Refusal::TooManyCombinations {
                        block: check.block,
                        combinations,
                    });
                }
            }
        }

        let mut facts = self.facts.clone();
        let mut verifier = Origin::default();
        verifier.insert(usize::MAX);
        for fact in request {
            facts.insert(&verifier, fact);
        }

        let deadline = Instant::now() + limits.max_time;
        let no_functions = HashMap::new();
        let mut failed = Vec::new();
        for check in &self.checks {
            let mut passed = false;
            for query in &check.queries {
                let matched = match check.kind {
                    DatalogCheckKind::One => query.rule.find_match(
                        &facts,
                        check.block,
                        &query.origins,
                        &symbols,
                        &no_functions,
                    ),
                    DatalogCheckKind::All => {
                        query
                            .rule
                            .check_match_all(&facts, &query.origins, &symbols, &no_functions)
                    }
                    DatalogCheckKind::Reject => query
                        .rule
                        .find_match(&facts, check.block, &query.origins, &symbols, &no_functions)
                        .map(|found| !found),
                }
                .map_err(|e| Refusal::Execution(e.to_string()))?;
                if Instant::now() >= deadline {
                    return Err(Refusal::Timeout);
                }
                if matched {
                    passed = true;
                    break;
                }
            }
            if !passed {
                failed.push(FailedCheck {
                    block: check.block,
                    index: check.index,
                    text: symbols.print_check(&check.check),
                });
            }
        }
        if failed.is_empty() {
            Ok(())
        } else {
            Err(Refusal::Failed(failed))
        }
    }
}
