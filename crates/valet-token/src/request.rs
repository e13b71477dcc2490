//! The request a token is presented with: audience, action, scopes and transaction
//! details, built in code or read from JSON within the verifier's limits.

use serde::Serialize;

use crate::audience::Audience;
use crate::details::TransactionDetails;
use crate::error::RequestError;
use crate::limits::Limits;
use crate::scope::Scope;

/// What is being attempted: where, which operation, with which transaction details.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Request {
    /// The resource server where the token is presented (this server's own URI).
    pub audience: Audience,
    /// The tool or operation name.
    pub action: String,
    /// The transaction, as one RFC 9396 object.
    #[serde(
        rename = "authorization_details",
        skip_serializing_if = "Option::is_none"
    )]
    pub details: Option<TransactionDetails>,
    /// Scopes the operation needs; every one must be granted by every block.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<Scope>,
}

impl Request {
    /// A request for `action` at `audience`, with no details and no required scope.
    pub fn new(audience: Audience, action: impl Into<String>) -> Self {
        Request {
            audience,
            action: action.into(),
            details: None,
            scopes: Vec::new(),
        }
    }

    /// Adds the transaction details.
    #[must_use]
    pub fn details(mut self, details: TransactionDetails) -> Self {
        self.details = Some(details);
        self
    }

    /// Adds a scope the operation needs.
    #[must_use]
    pub fn scope(mut self, scope: Scope) -> Self {
        self.scopes.push(scope);
        self
    }

    /// Reads `{"audience": URI, "action": NAME, "authorization_details": {...}, "scopes": [...]}`
    /// (details and scopes optional), within the size, depth, field and value limits.
    pub fn from_json(text: &str, limits: &Limits) -> Result<Self, RequestError> {
        if text.len() > limits.max_request_bytes {
            return Err(RequestError::TooLarge {
                size: text.len(),
                max: limits.max_request_bytes,
            });
        }
        if json_depth(text) > limits.max_request_depth {
            return Err(RequestError::TooDeep {
                max: limits.max_request_depth,
            });
        }
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| RequestError::Json(e.to_string()))?;
        Self::from_json_value(&v, limits)
    }

    /// Reads a request from an already parsed JSON value, within the field and value
    /// limits; each transaction field nests at most
    /// [`MAX_DETAIL_DEPTH`](crate::details::MAX_DETAIL_DEPTH) arrays and objects
    /// (`max_request_depth` applies to text).
    pub fn from_json_value(v: &serde_json::Value, limits: &Limits) -> Result<Self, RequestError> {
        let obj = v
            .as_object()
            .ok_or_else(|| RequestError::Invalid("the request must be a JSON object".into()))?;
        for key in obj.keys() {
            if !matches!(
                key.as_str(),
                "audience" | "action" | "authorization_details" | "scopes"
            ) {
                return Err(RequestError::Invalid(format!(
                    "unknown request member `{key}`: expected `audience`, `action`, `authorization_details` or `scopes`"
                )));
            }
        }
        let text = |name: &str| -> Result<String, RequestError> {
            match obj.get(name) {
                Some(serde_json::Value::String(s)) => Ok(s.clone()),
                Some(other) => Err(RequestError::Invalid(format!(
                    "request member `{name}` must be a string, found {}",
                    crate::details::json_kind(other)
                ))),
                None => Err(RequestError::Invalid(format!(
                    "the request has no `{name}`"
                ))),
            }
        };
        let audience =
            Audience::parse(text("audience")?).map_err(|e| RequestError::Invalid(e.to_string()))?;
        let action = text("action")?;
        if action.is_empty() {
            return Err(RequestError::Invalid(
                "the request's `action` is empty".into(),
            ));
        }
        let details = match obj.get("authorization_details") {
            None | Some(serde_json::Value::Null) => None,
            Some(d) => Some(TransactionDetails::from_json_value_within(
                d,
                limits.max_detail_fields,
                limits.max_detail_values,
            )?),
        };
        let scopes = match obj.get("scopes") {
            None => Vec::new(),
            Some(serde_json::Value::Array(items)) => items
                .iter()
                .map(|s| {
                    s.as_str()
                        .ok_or_else(|| RequestError::Invalid("`scopes` must hold strings".into()))
                        .and_then(|s| {
                            Scope::parse(s).map_err(|e| RequestError::Invalid(e.to_string()))
                        })
                })
                .collect::<Result<_, _>>()?,
            Some(_) => {
                return Err(RequestError::Invalid(
                    "`scopes` must be an array of strings".into(),
                ))
            }
        };
        Ok(Request {
            audience,
            action,
            details,
            scopes,
        })
    }
}

/// Maximum nesting depth of JSON text, counted without parsing it.
fn json_depth(text: &str) -> usize {
    let (mut depth, mut max, mut in_str, mut escaped) = (0usize, 0usize, false, false);
    for b in text.bytes() {
        if in_str {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'{' | b'[' => {
                depth += 1;
                max = max.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}
