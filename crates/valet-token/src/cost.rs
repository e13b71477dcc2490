//! The work a check costs, counted before any Datalog runs: what an expression costs per
//! combination, the sizes a request adds, and the units of work a query could cost (see
//! the crate docs, "Limits").

use biscuit_auth::datalog::{self as dl, SymbolTable};

/// What an expression costs per combination, as counts the evaluation turns into units
/// once it knows the longest string and the size of the symbol table.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ExprCost {
    /// Units that depend on nothing else: one per operation, plus the size of each
    /// constant pushed (it is cloned per evaluation).
    fixed: u64,
    /// Variables pushed: each is a clone of a fact's term, and may be any of them.
    variables: u64,
    /// The content of the constants pushed (string bytes / 16, collection items).
    constant_content: u64,
    /// Operations whose cost is the size of their operands (comparisons and searches of
    /// strings and collections, unions, intersections, concatenations).
    content_ops: u64,
    /// Operations that also look a string up in the symbol table (concatenation and
    /// `.type()`, which intern their result).
    symbol_ops: u64,
}

impl ExprCost {
    pub(crate) fn add(&mut self, other: &ExprCost) {
        self.fixed = self.fixed.saturating_add(other.fixed);
        self.variables = self.variables.saturating_add(other.variables);
        self.constant_content = self.constant_content.saturating_add(other.constant_content);
        self.content_ops = self.content_ops.saturating_add(other.content_ops);
        self.symbol_ops = self.symbol_ops.saturating_add(other.symbol_ops);
    }
}

/// The sizes a request adds to the token's, which bound what one operation can cost.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Sizes {
    /// The longest string, in units of 16 bytes (plus one).
    pub(crate) longest: u64,
    /// The largest collection held by any fact, in items (0 when none does).
    pub(crate) fact_collection: u64,
    /// Strings in the symbol table.
    pub(crate) symbols: u64,
    /// Bytes of all the strings in the symbol table, in units of 16.
    pub(crate) symbol_bytes: u64,
    /// Facts any check may scan.
    pub(crate) facts: u64,
}

/// Units of work of one expression evaluated once, with the sizes of this evaluation.
fn expr_units(e: &ExprCost, sizes: &Sizes) -> u64 {
    let value = sizes.longest.max(sizes.fact_collection);
    // Nothing is duplicated on the stack, so no operand is larger than all that was pushed.
    let content = e
        .constant_content
        .saturating_add(e.variables.saturating_mul(value));
    let lookup = sizes
        .symbols
        .saturating_add(sizes.symbol_bytes)
        .saturating_add(content);
    e.fixed
        .saturating_add(e.variables.saturating_mul(1 + sizes.fact_collection))
        .saturating_add(e.content_ops.saturating_mul(1 + content))
        .saturating_add(e.symbol_ops.saturating_mul(lookup))
}

/// A term's size in units: one per scalar, strings count one (they are symbol ids),
/// collections one plus their items, bytes one per 16.
fn term_size(t: &dl::Term) -> u64 {
    match t {
        dl::Term::Set(s) => s.iter().fold(1, |acc, t| acc.saturating_add(term_size(t))),
        dl::Term::Array(a) => a.iter().fold(1, |acc, t| acc.saturating_add(term_size(t))),
        dl::Term::Map(m) => m.values().fold(1, |acc, t| {
            acc.saturating_add(1).saturating_add(term_size(t))
        }),
        dl::Term::Bytes(b) => 1 + u64::try_from(b.len() / 16).unwrap_or(u64::MAX),
        _ => 1,
    }
}

/// The content of a term an operation may scan: a string's bytes / 16, a collection's
/// items.
fn term_content(t: &dl::Term, symbols: &SymbolTable) -> u64 {
    match t {
        dl::Term::Str(id) => symbols.get_symbol(*id).map_or(1, string_units),
        other => term_size(other),
    }
}

/// A string's size in units: one, plus one per 16 bytes.
pub(crate) fn string_units(s: &str) -> u64 {
    1 + u64::try_from(s.len() / 16).unwrap_or(u64::MAX)
}

/// Why an operation is refused in any block, or `None` when its cost is bounded.
pub(crate) fn refused_op(op: &dl::Op) -> Option<&'static str> {
    match op {
        dl::Op::Binary(dl::Binary::Regex) => Some(
            "has a check with a regular expression (`.matches`): valet blocks do not use regular expressions, whose cost depends on the pattern; compare with `==`, `.starts_with`, `.ends_with` or `.contains` instead",
        ),
        _ => None,
    }
}

/// The cost counts of one expression.
pub(crate) fn expr_cost(e: &dl::Expression, symbols: &SymbolTable) -> ExprCost {
    let mut c = ExprCost::default();
    for op in &e.ops {
        c.fixed = c.fixed.saturating_add(1);
        match op {
            dl::Op::Value(dl::Term::Variable(_)) => c.variables = c.variables.saturating_add(1),
            dl::Op::Value(t) => {
                c.fixed = c.fixed.saturating_add(term_size(t));
                c.constant_content = c.constant_content.saturating_add(term_content(t, symbols));
            }
            dl::Op::Unary(dl::Unary::TypeOf) => c.symbol_ops = c.symbol_ops.saturating_add(1),
            dl::Op::Unary(_) => {}
            dl::Op::Binary(b) => match b {
                dl::Binary::Add => c.symbol_ops = c.symbol_ops.saturating_add(1),
                dl::Binary::Equal
                | dl::Binary::NotEqual
                | dl::Binary::HeterogeneousEqual
                | dl::Binary::HeterogeneousNotEqual
                | dl::Binary::Contains
                | dl::Binary::Prefix
                | dl::Binary::Suffix
                | dl::Binary::Regex
                | dl::Binary::Intersection
                | dl::Binary::Union
                | dl::Binary::Get => c.content_ops = c.content_ops.saturating_add(1),
                _ => {}
            },
            // Refused when the chain is prepared; counted as content if ever let through.
            dl::Op::Closure(_, ops) => {
                let inner = expr_cost(&dl::Expression { ops: ops.clone() }, symbols);
                c.add(&inner);
                c.content_ops = c.content_ops.saturating_add(1);
            }
        }
    }
    c
}

/// The largest collection any of `facts` holds, in units (0 when none holds one).
pub(crate) fn largest_collection<'a>(facts: impl Iterator<Item = &'a dl::Fact>) -> u64 {
    facts
        .flat_map(|f| &f.predicate.terms)
        .filter(|t| matches!(t, dl::Term::Set(_) | dl::Term::Array(_) | dl::Term::Map(_)))
        .map(term_size)
        .max()
        .unwrap_or(0)
}

/// Units of work a query could cost, `cost` being its expressions' counts and `variables`
/// the variables of its body, `matches` being how many facts each predicate of its
/// body matches. The predicates are joined in order: the facts are scanned once for the
/// first, then once for every partial combination, each fact that fits binding the
/// variables again (a map per partial combination); each full combination then runs the
/// expressions.
pub(crate) fn query_units(
    cost: &ExprCost,
    variables: usize,
    matches: &[u64],
    sizes: &Sizes,
) -> u64 {
    // Binding a combination allocates maps and an origin: some 300 ns in release, as
    // much as scanning a hundred facts.
    let bind =
        64u64.saturating_add(8u64.saturating_mul(u64::try_from(variables).unwrap_or(u64::MAX)));
    let mut partial = 1u64;
    let mut units = 0u64;
    for n in matches {
        units = units
            .saturating_add(partial.saturating_mul(sizes.facts))
            .saturating_add(partial.saturating_mul(*n).saturating_mul(bind));
        partial = partial.saturating_mul(*n);
    }
    let per_combination = bind.saturating_add(expr_units(cost, sizes));
    units.saturating_add(partial.saturating_mul(per_combination))
}
