//! From a decision to an HTTP answer: status, `WWW-Authenticate` challenge and JSON body.

use bytes::Bytes;
use http::{header, HeaderValue, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

use valet::token::{details_digest, token_digest, ReasonKind};
use valet::{Decision, Layer, Outcome, Reason, Token};

/// Longest `error_description` sent in a challenge, in characters.
const MAX_DESCRIPTION: usize = 200;

/// Whether a token-layer refusal means the token itself is unusable here, answered with
/// `401` and `error="invalid_token"`: it does not parse (`Format`), is too large
/// (`TooLarge`), names an unknown key (`UnknownKey`), fails its signatures (`Signature`),
/// is revoked (`Revoked`), has expired (`Expired`) or is not valid yet (`NotYetValid`),
/// was minted for another resource (`Audience`, as the MCP authorization specification
/// requires), or is bound to a holder whose proof of possession is missing or wrong
/// (`Holder`, `Proof`). Every other kind (`Scope`, `Limit`, `Action`, `Depth`, `Check`, `RunLimit`)
/// is about what this request asks of a good token: `403` with
/// `error="insufficient_scope"`.
pub fn is_invalid_token(kind: ReasonKind) -> bool {
    matches!(
        kind,
        ReasonKind::Format
            | ReasonKind::TooLarge
            | ReasonKind::UnknownKey
            | ReasonKind::Signature
            | ReasonKind::Revoked
            | ReasonKind::Expired
            | ReasonKind::NotYetValid
            | ReasonKind::Audience
            | ReasonKind::Holder
            | ReasonKind::Proof
    )
}

/// The class of an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    Allow,
    InvalidToken,
    Forbidden,
    Approval,
    ServerError,
}

pub(crate) fn classify(decision: &Decision) -> Answer {
    match decision.outcome() {
        Outcome::Allow => return Answer::Allow,
        Outcome::NeedsApproval => return Answer::Approval,
        Outcome::Deny => {}
    }
    let token_kind = |r: &Reason| {
        if r.layer == Layer::Token {
            r.kind
        } else {
            None
        }
    };
    if decision
        .reasons()
        .iter()
        .filter_map(token_kind)
        .any(is_invalid_token)
    {
        Answer::InvalidToken
    } else if decision.reasons().iter().any(|r| {
        matches!(r.layer, Layer::Audit | Layer::Request)
            || token_kind(r) == Some(ReasonKind::Internal)
    }) {
        Answer::ServerError
    } else {
        Answer::Forbidden
    }
}

/// Makes a text safe as an RFC 6750 quoted parameter value: printable ASCII without `"`
/// or `\` (replaced by `'` and `/`; other characters by `?`), at most
/// [`MAX_DESCRIPTION`] characters.
pub(crate) fn header_safe(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(MAX_DESCRIPTION)
        .map(|c| match c {
            '"' => '\'',
            '\\' => '/',
            ' '..='~' => c,
            _ => '?',
        })
        .collect();
    if text.chars().nth(MAX_DESCRIPTION).is_some() {
        out.truncate(MAX_DESCRIPTION - 3);
        out.push_str("...");
    }
    out
}

/// A `Bearer` challenge with these parameters (empty values are left out).
pub(crate) fn challenge(params: &[(&str, &str)]) -> HeaderValue {
    let mut text = String::from("Bearer");
    let mut first = true;
    for (name, value) in params {
        if value.is_empty() {
            continue;
        }
        text.push_str(if first { " " } else { ", " });
        first = false;
        text.push_str(name);
        text.push_str("=\"");
        text.push_str(&header_safe(value));
        text.push('"');
    }
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("Bearer"))
}

/// A JSON answer.
pub(crate) fn json_response<B: From<Bytes>>(
    status: StatusCode,
    challenge: Option<HeaderValue>,
    body: &Value,
) -> http::Response<B> {
    // A `Value` is written through its `Display`, which cannot fail: it writes to memory
    // and every key of a JSON object is a string.
    let bytes = body.to_string().into_bytes();
    let mut response = http::Response::new(B::from(Bytes::from(bytes)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(c) = challenge {
        headers.insert(header::WWW_AUTHENTICATE, c);
    }
    response
}

/// What a client is told about why its token is refused. A token that cannot be read is
/// never quoted: the description is fixed.
pub(crate) fn token_description(decision: &Decision) -> String {
    let reason = decision
        .reasons()
        .iter()
        .find(|r| r.layer == Layer::Token && r.kind.is_some_and(is_invalid_token));
    let bound = decision
        .claims()
        .is_some_and(|c| c.holder.is_some() || c.chain.iter().any(|l| l.holder.is_some()));
    match reason {
        Some(r) if matches!(r.kind, Some(ReasonKind::Format | ReasonKind::TooLarge)) => {
            "the bearer token is not a readable valet token".to_owned()
        }
        // A proof that was sent and refused, or a bound token without its holder's proof.
        Some(r)
            if r.kind == Some(ReasonKind::Proof)
                || (r.kind == Some(ReasonKind::Holder) && bound) =>
        {
            format!(
                "a proof of possession is required in the Valet-Proof header: {}",
                r.message
            )
        }
        Some(r) => r.message.clone(),
        None => "the bearer token is refused".to_owned(),
    }
}

/// The first reason, as the `error_description` of a refusal.
pub(crate) fn first_reason(decision: &Decision) -> String {
    decision.reasons().first().map_or_else(
        || "the request is refused".to_owned(),
        |r| r.message.clone(),
    )
}

/// What an approver signs to allow the request that needed approval: the subject, the
/// digest of the token presented (only that token can use the approval), the audience,
/// the action and the transaction exactly as judged (and their digest, as the approval
/// signs it), and the longest lifetime accepted.
pub(crate) fn approval_request(
    decision: &Decision,
    token: &Token,
    max_lifetime: Duration,
) -> Value {
    let audit = decision.audit();
    json!({
        "subject": decision.subject(),
        "token_digest": token_digest(token),
        "audience": audit.audience,
        "action": audit.action,
        "authorization_details": audit.authorization_details,
        "details_digest": details_digest(audit.authorization_details.as_ref()),
        "max_lifetime_secs": max_lifetime.as_secs(),
    })
}

/// The reasons, as the JSON body lists them.
pub(crate) fn reasons_json(decision: &Decision) -> Value {
    serde_json::to_value(decision.reasons()).unwrap_or_else(|_| json!([]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_are_quoted_safely() {
        assert_eq!(
            challenge(&[
                ("error", "insufficient_scope"),
                ("scope", ""),
                ("error_description", "a \"quoted\" \\ back\r\nslash é"),
            ]),
            "Bearer error=\"insufficient_scope\", error_description=\"a 'quoted' / back??slash ?\""
        );
        let long = "x".repeat(500);
        let safe = header_safe(&long);
        assert_eq!(safe.len(), MAX_DESCRIPTION);
        assert!(safe.ends_with("..."));
        assert_eq!(challenge(&[]), "Bearer");
    }

    #[test]
    fn every_kind_is_mapped() {
        use ReasonKind::*;
        for k in [
            Format,
            TooLarge,
            UnknownKey,
            Signature,
            Revoked,
            Expired,
            NotYetValid,
            Audience,
            Holder,
            Proof,
        ] {
            assert!(is_invalid_token(k), "{k:?}");
        }
        for k in [Scope, Limit, Action, Depth, Check, RunLimit, Internal] {
            assert!(!is_invalid_token(k), "{k:?}");
        }
    }
}
