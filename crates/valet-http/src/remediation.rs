//! Remediation hints: with a `403` that another token would turn into an allow, the
//! authorization the request needs, so that a client can ask its authorization server for
//! exactly that.
//!
//! The shape follows the MCP draft proposal SEP-2643 (Structured Authorization Denials),
//! its `remediationHints` entry of type `oauth_authorization_details`, which may change:
//! `{"type":"oauth_authorization_details","authorization_details":[<RFC 9396 object>],
//! "scope":"<scopes>"}`.

use serde_json::{json, Map, Value};
use valet::token::ReasonKind;
use valet::{Decision, Layer, Outcome, Reason};

use crate::extract::Operation;

/// The hint type of an OAuth authorization request to make (SEP-2643).
const OAUTH_AUTHORIZATION_DETAILS: &str = "oauth_authorization_details";

/// Whether a reason refuses what the token grants, so that a token granting more would
/// allow the request: a scope the token does not grant, a transaction outside its grant
/// or a block's limit, an action its grant does not name.
fn fixable_by_a_token(reason: &Reason) -> bool {
    reason.layer == Layer::Token
        && matches!(
            reason.kind,
            Some(ReasonKind::Scope | ReasonKind::Limit | ReasonKind::Action)
        )
}

/// The `remediationHints` of a denial, when every reason is one that another token would
/// lift ([`fixable_by_a_token`]) and the request names a transaction or scopes to ask
/// for. A policy denial, an approval to ask for, or a token refused as a token gets none:
/// no token asked of the authorization server would change the answer.
///
/// The hint's `authorization_details` is the transaction judged, with the `actions` (the
/// action) and `locations` (this resource) an RFC 9396 grant names, unless the
/// transaction names them itself; its `scope` is every scope the request needs.
pub(crate) fn hints(decision: &Decision, operation: &Operation) -> Option<Value> {
    let reasons = decision.reasons();
    if decision.outcome() != Outcome::Deny
        || reasons.is_empty()
        || !reasons.iter().all(fixable_by_a_token)
    {
        return None;
    }
    let audit = decision.audit();
    let mut hint = Map::new();
    hint.insert("type".to_owned(), json!(OAUTH_AUTHORIZATION_DETAILS));
    let details = audit
        .authorization_details
        .as_ref()
        .filter(|d| !d.kind().is_empty())
        .and_then(|d| serde_json::to_value(d).ok());
    if let Some(Value::Object(mut details)) = details {
        details
            .entry("actions")
            .or_insert_with(|| json!([audit.action]));
        details
            .entry("locations")
            .or_insert_with(|| json!([audit.audience]));
        hint.insert(
            "authorization_details".to_owned(),
            Value::Array(vec![Value::Object(details)]),
        );
    }
    if !operation.scopes.is_empty() {
        let scope = operation
            .scopes
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        hint.insert("scope".to_owned(), Value::String(scope));
    }
    // Only the type: nothing to ask for.
    if hint.len() == 1 {
        return None;
    }
    Some(Value::Array(vec![Value::Object(hint)]))
}
