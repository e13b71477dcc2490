//! What is asked of the policies: a transaction, and the steps of its delegation chain
//! that it must be allowed at.

use valet_token::details::TransactionDetails;

/// One request to decide: who acts, for whom, doing what, where, with which token.
#[derive(Clone, Copy, Debug)]
pub struct Transaction<'a> {
    /// The acting agent: the last delegate in the chain, else the token's client.
    pub agent: &'a str,
    /// The person the agent acts for.
    pub subject: &'a str,
    /// The token's client id.
    pub client: &'a str,
    /// The delegates, in order (may be empty).
    pub chain: &'a [String],
    /// The tool or operation, e.g. `pay_invoice`.
    pub action: &'a str,
    /// The resource server URI the token was presented to.
    pub audience: &'a str,
    /// The token's effective scopes.
    pub scopes: &'a [String],
    /// The RFC 9396 transaction details sent with the request, if any.
    pub details: Option<&'a TransactionDetails>,
    /// The token as it stood after each of its earlier blocks, the authority block first
    /// (empty for a token of one block). The request must be allowed at every step as
    /// well as for the acting agent: a block appended by a delegate can never raise the
    /// outcome, through the policies as through the token. The `valet` Authorizer fills
    /// it from the verified token; a transaction built by hand with `earlier: &[]` is
    /// judged for the acting agent alone.
    pub earlier: &'a [Step<'a>],
    /// Whether every link of the chain was signed by a key the token was bound to before
    /// it (the agent attribute `verified`). `true` for a token of one block.
    pub verified: bool,
}

/// What the policies see of a token after one of its blocks: the principal of that
/// step is the last delegate named by then (else the client), with `depth` and `chain`
/// counting the delegates named by then, and the scopes the token granted then.
#[derive(Clone, Copy, Debug)]
pub struct Step<'a> {
    /// The block (0 is the authority block).
    pub block: usize,
    /// How many of the transaction's `chain` were named by then.
    pub delegates: usize,
    /// The token's effective scopes then.
    pub scopes: &'a [String],
    /// Whether every link up to this block was signed by a key bound before it.
    pub verified: bool,
}

impl<'a> Transaction<'a> {
    /// The agent of a step: the last delegate named by then, else the client.
    pub(crate) fn step_agent(&self, step: Step<'_>) -> &'a str {
        if step.block == usize::MAX {
            // The acting agent's own step.
            return self.agent;
        }
        match step
            .delegates
            .checked_sub(1)
            .and_then(|i| self.chain.get(i))
        {
            Some(name) => name,
            None => self.client,
        }
    }
}
