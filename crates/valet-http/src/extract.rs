//! What a request does: the Valet action, its transaction details and the scopes it needs,
//! read from the HTTP request by an [`Extractor`].

use std::collections::HashMap;

use bytes::Bytes;
use http::request::Parts;
use serde_json::{Map, Value};
use valet::{Audience, Request, Scope, TransactionDetails};

use crate::error::ExtractError;

/// Most fields one transaction may carry (the token layer's default).
const MAX_DETAIL_FIELDS: usize = 32;

/// What one request does, as the layer judges it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation {
    /// The action name (a tool name, judged against the schema's actions), or for a
    /// token-only operation the protocol message it is (recorded in the audit log).
    pub action: String,
    /// The transaction, as one RFC 9396 object.
    pub details: Option<TransactionDetails>,
    /// Scopes the operation needs; every block of the token must grant each of them.
    pub scopes: Vec<Scope>,
    /// Whether the owner's policies judge it (an action), or only the token is verified
    /// (a protocol message that acts on nothing, such as MCP `initialize` or
    /// `tools/list`).
    pub policies: bool,
}

impl Operation {
    /// An action judged by the token and the policies.
    pub fn action(name: impl Into<String>) -> Self {
        Operation {
            action: name.into(),
            details: None,
            scopes: Vec::new(),
            policies: true,
        }
    }

    /// A protocol message that acts on nothing: the token alone is verified (signature,
    /// expiry, audience, revocation and any scope named here), with no policy.
    pub fn token_only(name: impl Into<String>) -> Self {
        Operation {
            policies: false,
            ..Operation::action(name)
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
        if !self.scopes.contains(&scope) {
            self.scopes.push(scope);
        }
        self
    }

    /// The request judged at `audience` (the resource URI): what a proof of possession
    /// signs. A client runs the server's extractor on the request it is about to send and
    /// signs this, with the token, for the `Valet-Proof` header.
    pub fn request(&self, audience: &Audience) -> Request {
        let mut request = Request::new(audience.clone(), &self.action);
        if let Some(d) = &self.details {
            request = request.details(d.clone());
        }
        for s in &self.scopes {
            request = request.scope(s.clone());
        }
        request
    }
}

/// Reads the [`Operation`] of a request from its head and its whole body (at most the
/// layer's body limit). Closures `Fn(&Parts, &Bytes) -> Result<Operation, ExtractError>`
/// are extractors.
pub trait Extractor: Send + Sync + 'static {
    /// The operation, or why it cannot be read (answered with `400`).
    fn operation(&self, parts: &Parts, body: &Bytes) -> Result<Operation, ExtractError>;
}

impl<F> Extractor for F
where
    F: Fn(&Parts, &Bytes) -> Result<Operation, ExtractError> + Send + Sync + 'static,
{
    fn operation(&self, parts: &Parts, body: &Bytes) -> Result<Operation, ExtractError> {
        self(parts, body)
    }
}

/// Reads MCP JSON-RPC messages (the default extractor).
///
/// - `{"jsonrpc":"2.0","method":"tools/call","params":{"name":N,"arguments":A}}` is the
///   action `N`. Its transaction details are, for a tool given to
///   [`details_from_arguments`](Self::details_from_arguments), the listed members of `A`
///   with the `type` given there; for other tools, `A.authorization_details` when present
///   (one RFC 9396 object, or an array holding exactly one). A tool with an argument
///   mapping refuses an `authorization_details` argument, so that what is judged is what
///   the tool receives.
/// - Any other message (`initialize`, `tools/list`, `ping`, notifications, responses) and
///   a request with an empty body (an HTTP `GET` opening a stream, a `DELETE` ending a
///   session) are token-only operations named after the JSON-RPC method, or the HTTP
///   method when there is none.
/// - A JSON-RPC batch (an array) is refused: send one message per request.
#[derive(Clone, Debug, Default)]
pub struct McpTools {
    scopes: HashMap<String, Vec<Scope>>,
    mappings: HashMap<String, (String, Vec<String>)>,
}

impl McpTools {
    /// Reads `tools/call` with no scope required and details from
    /// `arguments.authorization_details`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Requires `scope` for calls of `tool` (`*` for every tool call).
    #[must_use]
    pub fn scope(mut self, tool: impl Into<String>, scope: Scope) -> Self {
        let scopes = self.scopes.entry(tool.into()).or_default();
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
        self
    }

    /// Builds the transaction of `tool` from its arguments: details of type `detail_type`
    /// whose fields are the `fields` present in the arguments (others are ignored). With
    /// `pay_invoice` mapped to `payment` and `["amount", "currency", "recipient"]`,
    /// arguments `{"amount":"50.00","currency":"USD","recipient":"a@example.com"}` are the
    /// payment judged.
    #[must_use]
    pub fn details_from_arguments<I, S>(
        mut self,
        tool: impl Into<String>,
        detail_type: impl Into<String>,
        fields: I,
    ) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.mappings.insert(
            tool.into(),
            (
                detail_type.into(),
                fields.into_iter().map(Into::into).collect(),
            ),
        );
        self
    }

    fn tool_scopes(&self, tool: &str) -> impl Iterator<Item = &Scope> {
        self.scopes
            .get(tool)
            .into_iter()
            .chain(self.scopes.get("*"))
            .flatten()
    }

    fn tool_call(&self, params: Option<&Value>) -> Result<Operation, ExtractError> {
        let params = params
            .and_then(Value::as_object)
            .ok_or_else(|| invalid("`tools/call` needs a `params` object"))?;
        let name = match params.get("name") {
            Some(Value::String(s)) if !s.is_empty() => s.as_str(),
            _ => return Err(invalid("`tools/call` needs `params.name`, the tool name")),
        };
        let arguments = match params.get("arguments") {
            None | Some(Value::Null) => None,
            Some(Value::Object(a)) => Some(a),
            Some(_) => return Err(invalid("`params.arguments` must be an object")),
        };
        let mut op = Operation::action(name);
        for s in self.tool_scopes(name) {
            op = op.scope(s.clone());
        }
        let given = arguments.and_then(|a| a.get("authorization_details"));
        if let Some((detail_type, fields)) = self.mappings.get(name) {
            if given.is_some() {
                return Err(invalid(&format!(
                    "tool `{name}` takes its transaction from its arguments: remove `authorization_details`"
                )));
            }
            let mut object = Map::new();
            object.insert("type".to_owned(), Value::String(detail_type.clone()));
            for field in fields {
                if let Some(v) = arguments.and_then(|a| a.get(field)) {
                    object.insert(field.clone(), v.clone());
                }
            }
            op = op.details(details(&Value::Object(object))?);
        } else if let Some(d) = given {
            let d = match d {
                Value::Array(items) => match items.as_slice() {
                    [one] => one,
                    _ => {
                        return Err(invalid(
                            "`authorization_details` must hold exactly one object",
                        ))
                    }
                },
                other => other,
            };
            op = op.details(details(d)?);
        }
        Ok(op)
    }
}

fn invalid(message: &str) -> ExtractError {
    ExtractError::Invalid(message.to_owned())
}

fn details(value: &Value) -> Result<TransactionDetails, ExtractError> {
    TransactionDetails::from_json_value(value, MAX_DETAIL_FIELDS)
        .map_err(|e| ExtractError::Invalid(format!("authorization details: {e}")))
}

impl Extractor for McpTools {
    fn operation(&self, parts: &Parts, body: &Bytes) -> Result<Operation, ExtractError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Operation::token_only(parts.method.as_str()));
        }
        let message: Value =
            serde_json::from_slice(body).map_err(|e| ExtractError::Json(e.to_string()))?;
        let message = match message {
            Value::Object(m) => m,
            Value::Array(_) => {
                return Err(invalid(
                    "JSON-RPC batches are not accepted: send one message per request",
                ))
            }
            _ => return Err(invalid("the body must be a JSON-RPC message object")),
        };
        match message.get("method") {
            Some(Value::String(m)) if m == "tools/call" => self.tool_call(message.get("params")),
            Some(Value::String(m)) if !m.is_empty() => Ok(Operation::token_only(m.as_str())),
            Some(_) => Err(invalid("`method` must be a non-empty string")),
            None if message.contains_key("result") || message.contains_key("error") => {
                Ok(Operation::token_only("response"))
            }
            None => Err(invalid("the JSON-RPC message has no `method`")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(tools: &McpTools, body: Value) -> Result<Operation, ExtractError> {
        let (parts, ()) = http::Request::post("/mcp").body(()).unwrap().into_parts();
        tools.operation(&parts, &Bytes::from(body.to_string()))
    }

    fn call(name: &str, arguments: Value) -> Value {
        json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":name,"arguments":arguments}})
    }

    #[test]
    fn tool_call_is_an_action_with_its_scopes() {
        let tools = McpTools::new()
            .scope("read_calendar", Scope::parse("calendar:read").unwrap())
            .scope("*", Scope::parse("tools:read").unwrap());
        let op = read(&tools, call("read_calendar", json!({}))).unwrap();
        assert_eq!(op.action, "read_calendar");
        assert!(op.policies);
        assert_eq!(op.details, None);
        let scopes: Vec<_> = op.scopes.iter().map(Scope::as_str).collect();
        assert_eq!(scopes, ["calendar:read", "tools:read"]);
    }

    #[test]
    fn details_come_from_authorization_details_or_a_mapping() {
        let d =
            json!({"type":"payment","amount":"50.00","currency":"USD","recipient":"a@example.com"});
        let op = read(
            &McpTools::new(),
            call("pay_invoice", json!({ "authorization_details": d })),
        )
        .unwrap();
        let expected = TransactionDetails::from_json_value(&d, 32).unwrap();
        assert_eq!(op.details.as_ref(), Some(&expected));
        let op = read(
            &McpTools::new(),
            call("pay_invoice", json!({ "authorization_details": [d] })),
        )
        .unwrap();
        assert_eq!(op.details.as_ref(), Some(&expected));

        let mapped = McpTools::new().details_from_arguments(
            "pay_invoice",
            "payment",
            ["amount", "currency", "recipient"],
        );
        let op = read(
            &mapped,
            call(
                "pay_invoice",
                json!({"amount":"50.00","currency":"USD","recipient":"a@example.com","note":"x"}),
            ),
        )
        .unwrap();
        assert_eq!(op.details, Some(expected));
        let err = read(
            &mapped,
            call("pay_invoice", json!({ "authorization_details": d })),
        )
        .unwrap_err();
        assert!(err.to_string().contains("remove `authorization_details`"));
    }

    #[test]
    fn protocol_messages_are_token_only() {
        let tools = McpTools::new();
        let op = read(
            &tools,
            json!({"jsonrpc":"2.0","id":1,"method":"tools/list"}),
        )
        .unwrap();
        assert_eq!(op, Operation::token_only("tools/list"));
        let op = read(&tools, json!({"jsonrpc":"2.0","id":1,"result":{}})).unwrap();
        assert_eq!(op, Operation::token_only("response"));
        let (parts, ()) = http::Request::get("/mcp").body(()).unwrap().into_parts();
        let op = tools.operation(&parts, &Bytes::new()).unwrap();
        assert_eq!(op, Operation::token_only("GET"));
    }

    #[test]
    fn malformed_messages_are_refused() {
        let tools = McpTools::new();
        for body in [
            json!([{"jsonrpc":"2.0","method":"tools/list"}]),
            json!("x"),
            json!({"jsonrpc":"2.0","method":"tools/call"}),
            json!({"jsonrpc":"2.0","method":"tools/call","params":{"name":""}}),
            json!({"jsonrpc":"2.0","method":"tools/call","params":{"name":"t","arguments":[]}}),
            call(
                "pay_invoice",
                json!({"authorization_details":{"amount":"1"}}),
            ),
            call("pay_invoice", json!({"authorization_details":[]})),
            json!({"jsonrpc":"2.0","id":1}),
        ] {
            assert!(read(&tools, body.clone()).is_err(), "{body}");
        }
        let (parts, ()) = http::Request::post("/mcp").body(()).unwrap().into_parts();
        let err = tools.operation(&parts, &Bytes::from("{")).unwrap_err();
        assert!(matches!(err, ExtractError::Json(_)));
    }
}
