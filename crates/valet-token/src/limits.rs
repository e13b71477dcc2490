//! The verifier's limits: the caps on token size, Datalog work and request size that
//! bound what any one verification can cost.

use std::time::Duration;

use crate::details::{DEFAULT_MAX_DETAIL_FIELDS, DEFAULT_MAX_DETAIL_VALUES, MAX_DETAIL_DEPTH};

/// Limits applied to every verification. Each has a documented default.
///
/// Together they bound what any token within the size limits can cost: with the defaults,
/// the worst tokens found (see `tests/worst_case.rs` and the `slow_token` fuzz target) are
/// decided in about 4 ms in a release build on a 2-core machine. Besides these, two rules
/// hold in every block whatever the limits, since a chain is prepared once for all
/// requests: a check may not use a regular expression (`.matches`, whose compilation
/// alone costs tens of milliseconds for a short pattern) nor a closure (`.all`, `.any`),
/// and one alternative of a check (a query) takes at most 256 expression operations.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest token accepted, in bytes (default 16 KiB).
    pub max_token_bytes: usize,
    /// Most blocks in a token, authority included (default 16).
    pub max_blocks: usize,
    /// Most Datalog facts per decision (default 1000).
    pub max_facts: u64,
    /// Most Datalog iterations per decision (default 100).
    pub max_iterations: u64,
    /// Most Datalog time per decision (default 100 ms: a backstop, as the counts below
    /// already bound the work; a decision takes tens of microseconds in a release build).
    /// The clock is looked at for every combination a check tries.
    pub max_datalog_time: Duration,
    /// Most fact combinations one check may try (default 10 000), counted before it runs
    /// from how many facts each of its predicates can match.
    pub max_check_combinations: u64,
    /// Most units of work all of a token's checks may cost for one request (default
    /// 1 000 000, some 4 ms in release at the worst). Counted before any check runs:
    /// every fact scanned for each partial combination of a query's predicates, every
    /// combination bound, and each expression operation per combination, an operation on
    /// strings or collections weighted by the longest string (per 16 bytes) or largest
    /// collection it can reach, one that interns a string (`+`, `.type()`) by the size of
    /// the symbol table too. A request over the budget is refused before anything runs.
    pub max_datalog_cost: u64,
    /// Largest request JSON, in bytes (default 64 KiB).
    pub max_request_bytes: usize,
    /// Deepest request JSON nesting, counted on the text before it is parsed (default 10:
    /// the request, its details and the [`MAX_DETAIL_DEPTH`] arrays and objects a field
    /// may nest).
    pub max_request_depth: usize,
    /// Most fields in one transaction (default 32).
    pub max_detail_fields: usize,
    /// Most values in one transaction, counting every field's value and every item and
    /// member nested in it (default 1024, [`DEFAULT_MAX_DETAIL_VALUES`]). Each field
    /// nests at most [`MAX_DETAIL_DEPTH`] arrays and objects, whatever the limits.
    pub max_detail_values: usize,
    /// Longest a token may still have to live by this verifier's clock (default 24 hours):
    /// a token expiring later is refused. It bounds what a clock far behind the truth (a
    /// machine that booted in 1970) would honour, and refuses tokens minted to live longer
    /// than an agent's token should (an [`Issuer`](crate::Issuer) grants one hour at most
    /// by default).
    pub max_remaining_lifetime: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_token_bytes: 16 * 1024,
            max_blocks: 16,
            max_facts: 1000,
            max_iterations: 100,
            max_datalog_time: Duration::from_millis(100),
            max_check_combinations: 10_000,
            max_datalog_cost: 1_000_000,
            max_request_bytes: 64 * 1024,
            max_request_depth: MAX_DETAIL_DEPTH + 2,
            max_detail_fields: DEFAULT_MAX_DETAIL_FIELDS,
            max_detail_values: DEFAULT_MAX_DETAIL_VALUES,
            max_remaining_lifetime: Duration::from_secs(24 * 3600),
        }
    }
}
