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

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use biscuit_auth::builder::{CheckKind as DatalogCheckKind, Convert};
use biscuit_auth::datalog::{
    self as dl, CombineIt, FactSet, MatchedVariables, Origin, SymbolTable, TemporarySymbolTable,
    TrustedOrigins,
};
use biscuit_auth::error::Execution;
use biscuit_auth::PublicKey;

use crate::cost::{
    expr_cost, largest_collection, query_units, refused_op, string_units, ExprCost, Sizes,
};
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
    /// The checks could do more work than the limit: `cost` is what all of them could
    /// cost, `block` the block whose checks could cost the most.
    TooCostly { block: usize, cost: u64 },
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
    /// A check of the block uses an operation valet refuses, or is larger than a check may
    /// be; the text says which, and what to write instead.
    Refused(usize, String),
    /// The block cannot be read (it verified, so this is a version or symbol problem).
    Unreadable(usize, String),
}

/// Most operations in the expressions of one query (one alternative of a check). Valet's
/// own checks use three or four per condition.
pub(crate) const MAX_QUERY_OPS: usize = 256;

/// The limits of one evaluation.
pub(crate) struct EvalLimits {
    pub max_facts: u64,
    pub max_combinations: u64,
    /// Most units of work (see [`Prepared::evaluate`]) all the checks may cost.
    pub max_cost: u64,
    pub max_time: Duration,
}

struct PreparedQuery {
    rule: dl::Rule,
    origins: TrustedOrigins,
    /// For each predicate of the body, how many of the token's facts it matches.
    token_matches: Vec<u64>,
    /// The variables of the body, which every combination binds.
    variables: HashSet<u32>,
    /// Whether the head names only variables of the body. Biscuit's `find_match` never
    /// matches a rule whose head names another (it cannot build the head).
    head_bound: bool,
    /// The cost of the query's expressions per combination.
    cost: ExprCost,
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
    /// The sizes of the token's own strings and facts.
    sizes: Sizes,
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
    pub(crate) fn new(token: &Token) -> Result<Self, PrepareError> {
        let decoded = token.blocks.as_slice();

        // The evaluation's own table, as Biscuit's authorizer builds it: it starts with the
        // third-party signers' keys, each mapped to the blocks it signed (scopes may trust
        // them by key), and every block (decoded into strings when the token was read) is
        // translated into it, so a string listed twice is one symbol, as Biscuit reads them.
        let mut signer_keys: Vec<PublicKey> = Vec::new();
        let mut key_blocks: HashMap<usize, Vec<usize>> = HashMap::new();
        for (i, block) in decoded.iter().enumerate() {
            if let (Some(k), true) = (block.external_key, i > 0) {
                let id = match signer_keys.iter().position(|x| *x == k) {
                    Some(id) => id,
                    None => {
                        signer_keys.push(k);
                        signer_keys.len() - 1
                    }
                };
                key_blocks.entry(id).or_default().push(i);
            }
        }
        let mut symbols = SymbolTable::from_symbols_and_public_keys(Vec::new(), signer_keys)
            .map_err(|e| PrepareError::Unreadable(0, e.to_string()))?;

        let mut facts = FactSet::default();
        let mut fact_count = 0usize;
        let mut checks = Vec::new();
        for (i, block) in decoded.iter().enumerate() {
            if block.rules > 0 {
                return Err(PrepareError::Rules(i));
            }
            let scopes: Vec<_> = block
                .scopes
                .iter()
                .map(|scope| scope.convert(&mut symbols))
                .collect();
            let block_origins =
                TrustedOrigins::from_scopes(&scopes, &TrustedOrigins::default(), i, &key_blocks);
            let mut origin = Origin::default();
            origin.insert(i);
            for fact in &block.facts {
                facts.insert(&origin, fact.convert(&mut symbols));
                fact_count = fact_count.saturating_add(1);
            }
            for (j, check) in block.checks.iter().enumerate() {
                let check = check.convert(&mut symbols);
                let closure = check.queries.iter().any(|q| {
                    q.expressions
                        .iter()
                        .any(|e| e.ops.iter().any(|op| matches!(op, dl::Op::Closure(..))))
                });
                if closure {
                    return Err(PrepareError::Closures(i));
                }
                for q in &check.queries {
                    let ops = q.expressions.iter().map(|e| e.ops.len()).sum::<usize>();
                    if ops > MAX_QUERY_OPS {
                        return Err(PrepareError::Refused(
                            i,
                            format!(
                                "has a check whose expressions take {ops} operations, more than the limit of {MAX_QUERY_OPS}: split it into several checks, or compare against a set"
                            ),
                        ));
                    }
                    if let Some(why) = q
                        .expressions
                        .iter()
                        .flat_map(|e| &e.ops)
                        .find_map(refused_op)
                    {
                        return Err(PrepareError::Refused(i, why.to_owned()));
                    }
                }
                let queries = check
                    .queries
                    .iter()
                    .map(|rule| {
                        let variables: HashSet<u32> = rule
                            .body
                            .iter()
                            .flat_map(|p| &p.terms)
                            .filter_map(|t| match t {
                                dl::Term::Variable(v) => Some(*v),
                                _ => None,
                            })
                            .collect();
                        let head_bound = rule.head.terms.iter().all(|t| match t {
                            dl::Term::Variable(v) => variables.contains(v),
                            _ => true,
                        });
                        let mut cost = ExprCost::default();
                        for e in &rule.expressions {
                            cost.add(&expr_cost(e, &symbols));
                        }
                        PreparedQuery {
                            origins: TrustedOrigins::from_scopes(
                                &rule.scopes,
                                &block_origins,
                                i,
                                &key_blocks,
                            ),
                            token_matches: Vec::new(),
                            variables,
                            head_bound,
                            cost,
                            rule: rule.clone(),
                        }
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
        let strings = symbols.strings();
        let sizes = Sizes {
            longest: strings.iter().map(|s| string_units(s)).max().unwrap_or(1),
            fact_collection: largest_collection(facts.iter_all().map(|(_, f)| f)),
            symbols: u64::try_from(strings.len()).unwrap_or(u64::MAX),
            symbol_bytes: strings
                .iter()
                .fold(0u64, |acc, s| acc.saturating_add(string_units(s))),
            facts: u64::try_from(fact_count).unwrap_or(u64::MAX),
        };
        Ok(Prepared {
            symbols,
            facts,
            fact_count,
            checks,
            sizes,
        })
    }

    /// Runs every check with the request's facts added (facts of the verifier, trusted
    /// by every check). `Ok` when every check passes.
    ///
    /// Before anything runs, the work every check could do is counted in units (about a
    /// few nanoseconds each in a release build), from the facts each predicate of a query
    /// can match: every fact scanned for each partial combination of the predicates before
    /// it, every partial combination bound, and for every full combination each operation
    /// of the expressions, an operation on strings or collections counting the size of
    /// its operands (at most all that the expression pushed: the longest string or the
    /// largest collection for a variable), one that interns a string (`+`, `.type()`) the
    /// size of the symbol table as well. Over the budget, the request is refused before any
    /// check runs. While checks run, the clock is looked at for every combination.
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
        let sizes = self.sizes_with(&request, &symbols);

        // Refuse, before anything runs, a check whose joins could try too many combinations,
        // and a request for which all the checks could do more work than the budget.
        let mut cost = 0u64;
        let mut by_block: Vec<u64> = Vec::new();
        for check in &self.checks {
            for query in &check.queries {
                let matches: Vec<u64> = query
                    .rule
                    .body
                    .iter()
                    .zip(&query.token_matches)
                    .map(|(pattern, token)| {
                        let from_request = request
                            .iter()
                            .filter(|f| dl::match_preds(pattern, &f.predicate))
                            .count();
                        token.saturating_add(u64::try_from(from_request).unwrap_or(u64::MAX))
                    })
                    .collect();
                let combinations = matches
                    .iter()
                    .fold(1u64, |acc, n| acc.saturating_mul((*n).max(1)));
                if combinations > limits.max_combinations {
                    return Err(Refusal::TooManyCombinations {
                        block: check.block,
                        combinations,
                    });
                }
                let units = query_units(&query.cost, query.variables.len(), &matches, &sizes);
                cost = cost.saturating_add(units);
                if by_block.len() <= check.block {
                    by_block.resize(check.block + 1, 0);
                }
                if let Some(b) = by_block.get_mut(check.block) {
                    *b = b.saturating_add(units);
                }
            }
        }
        if cost > limits.max_cost {
            let block = by_block
                .iter()
                .enumerate()
                .max_by_key(|(_, units)| **units)
                .map_or(0, |(block, _)| block);
            return Err(Refusal::TooCostly { block, cost });
        }

        let mut facts = self.facts.clone();
        let mut verifier = Origin::default();
        verifier.insert(usize::MAX);
        for fact in request {
            facts.insert(&verifier, fact);
        }

        let deadline = Instant::now() + limits.max_time;
        let mut failed = Vec::new();
        for check in &self.checks {
            let mut passed = false;
            for query in &check.queries {
                let matched = run_query(query, &check.kind, &facts, &symbols, deadline)?;
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

    /// The token's sizes with the request's facts added.
    fn sizes_with(&self, request: &[dl::Fact], symbols: &SymbolTable) -> Sizes {
        let mut sizes = self.sizes;
        for fact in request {
            for term in &fact.predicate.terms {
                if let dl::Term::Str(id) = term {
                    let units = symbols.get_symbol(*id).map_or(1, string_units);
                    sizes.longest = sizes.longest.max(units);
                    sizes.symbol_bytes = sizes.symbol_bytes.saturating_add(units);
                }
            }
        }
        sizes.fact_collection = sizes
            .fact_collection
            .max(largest_collection(request.iter()));
        sizes.symbols = sizes
            .symbols
            .max(u64::try_from(symbols.current_offset()).unwrap_or(u64::MAX));
        sizes.facts = sizes
            .facts
            .saturating_add(u64::try_from(request.len()).unwrap_or(u64::MAX));
        sizes
    }
}

/// Biscuit's `Rule::find_match` (for `check if` and `reject if`) or `check_match_all`
/// (for `check all`), with the same results and errors, and the clock looked at for
/// every combination.
fn run_query(
    query: &PreparedQuery,
    kind: &DatalogCheckKind,
    facts: &FactSet,
    symbols: &SymbolTable,
    deadline: Instant,
) -> Result<bool, Refusal> {
    let no_functions = HashMap::new();
    let combinations = CombineIt::new(
        MatchedVariables::new(query.variables.clone()),
        &query.rule.body,
        facts.iterator(&query.origins),
        symbols,
    );
    let all = matches!(kind, DatalogCheckKind::All);
    let mut found = false;
    for (_, values) in combinations {
        if Instant::now() >= deadline {
            return Err(Refusal::Timeout);
        }
        found = true;
        let mut temporary = TemporarySymbolTable::new(symbols);
        let mut holds = true;
        for e in &query.rule.expressions {
            match e.evaluate(&values, &mut temporary, &no_functions) {
                Ok(dl::Term::Bool(true)) => {}
                Ok(dl::Term::Bool(false)) => {
                    holds = false;
                    break;
                }
                Ok(_) => return Err(execution(biscuit_auth::error::Expression::InvalidType)),
                Err(e) => return Err(execution(e)),
            }
        }
        if all && !holds {
            return Ok(false);
        }
        if !all && holds && query.head_bound {
            return Ok(!matches!(kind, DatalogCheckKind::Reject));
        }
    }
    if all {
        Ok(found)
    } else {
        Ok(matches!(kind, DatalogCheckKind::Reject))
    }
}

fn execution(e: biscuit_auth::error::Expression) -> Refusal {
    Refusal::Execution(Execution::Expression(e).to_string())
}
