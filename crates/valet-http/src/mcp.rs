//! The default extractor: MCP JSON-RPC messages, each read as an action the policies judge
//! or as a protocol message that needs only the token.

use std::collections::{HashMap, HashSet};

use bytes::Bytes;
use http::request::Parts;
use serde_json::{Map, Value};
use valet::{Scope, TransactionDetails};

use crate::error::ExtractError;
use crate::extract::{Extractor, Operation};
use crate::json;
use crate::routing;

/// Most fields one transaction may carry (the token layer's default).
const MAX_DETAIL_FIELDS: usize = 32;

/// The JSON-RPC methods that act on nothing, so that the token alone is verified: the
/// handshake (`initialize`, and `server/discover`, which opens a connection in the MCP
/// revision 2026-07-28), `ping`, and the methods that list what the server offers. Matched exactly
/// (case-sensitive). Every method starting with [`NOTIFICATION_PREFIX`] is one too, and so
/// is a JSON-RPC response; every other method is an action.
pub const TOKEN_ONLY_METHODS: [&str; 7] = [
    "initialize",
    "server/discover",
    "ping",
    "tools/list",
    "resources/list",
    "resources/templates/list",
    "prompts/list",
];

/// The start of every MCP notification's method (`notifications/initialized`,
/// `notifications/cancelled`, ...): a message that answers nothing, so carries no `id`.
pub const NOTIFICATION_PREFIX: &str = "notifications/";

/// The methods whose resource is one of their parameters: method, parameter, and what to
/// send there.
const RESOURCE_PARAMETERS: [(&str, &str, &str); 4] = [
    ("resources/read", "uri", "the URI of the resource to read"),
    (
        "resources/subscribe",
        "uri",
        "the URI of the resource to watch",
    ),
    (
        "resources/unsubscribe",
        "uri",
        "the URI of the resource watched",
    ),
    ("prompts/get", "name", "the name of the prompt"),
];

/// Reads MCP JSON-RPC messages (the default extractor).
///
/// Each message is one of:
///
/// - **`tools/call`**: `{"method":"tools/call","params":{"name":N,"arguments":A}}` is the
///   action `N`. Its transaction details are, for a tool given to
///   [`details_from_arguments`](Self::details_from_arguments) or
///   [`resource_argument`](Self::resource_argument), built from `A` (the listed members,
///   and the resource as `identifier`); for other tools, `A.authorization_details` when
///   present (one RFC 9396 object, or an array holding exactly one). A tool whose
///   transaction comes from its arguments refuses an `authorization_details` argument,
///   so that what is judged is what the tool receives. After
///   [`refuse_authorization_details`](Self::refuse_authorization_details), every tool
///   refuses that argument except those given to
///   [`details_argument`](Self::details_argument).
/// - **A protocol message**, judged by the token alone: a method of
///   [`TOKEN_ONLY_METHODS`], a notification (a method starting with
///   [`NOTIFICATION_PREFIX`], without `id`), a response (no `method`, a `result` or an
///   `error`), and a request with an empty body (an HTTP `GET` opening a stream, a
///   `DELETE` ending a session), named after the JSON-RPC or the HTTP method.
/// - **Any other method**, an action named exactly after the method. `resources/read`,
///   `resources/subscribe` and `resources/unsubscribe` are judged on the resource
///   `params.uri`, `prompts/get` on the resource `params.name`: details
///   `{"type":"<method>","identifier":"<uri or name>"}`, so that the policies see
///   `resource == Resource::"<uri or name>"`. Other methods (`completion/complete`,
///   `logging/setLevel`, `Tools/Call`, ...) carry no details; unless the schema declares
///   and a policy permits that action, they are denied.
///
/// The MCP routing headers of revision 2026-07-28,
/// [`MCP_METHOD_HEADER`](crate::MCP_METHOD_HEADER) and
/// [`MCP_NAME_HEADER`](crate::MCP_NAME_HEADER), are checked against the body when sent:
/// `Mcp-Method` must be the body's `method`, `Mcp-Name` its `params.name` (`tools/call`,
/// `prompts/get`) or `params.uri` (`resources/read`), each sent once, as visible ASCII or
/// as `=?base64?<standard base64 of the UTF-8 value>?=`. A request whose headers disagree
/// with its body is refused ([`ExtractError::HeaderMismatch`]); what is judged is always
/// read from the body. Without the headers (clients of earlier revisions) nothing is
/// checked.
///
/// Method names are matched exactly: `Tools/Call` is neither `tools/call` nor a protocol
/// message.
///
/// A JSON-RPC batch (an array) is refused ([`ExtractError::Batch`]): MCP removed batching
/// in revision 2025-06-18, and a batch would have several messages judged as one; send
/// one message per request. So is a body whose objects name a member twice, which JSON
/// readers resolve differently.
///
/// A message without `id` is a notification only if its method starts with
/// [`NOTIFICATION_PREFIX`]: it is then judged by the token alone. Any other method sent
/// without `id` (a `tools/call` without `id`) is read as the same method with an `id`,
/// and judged as that action: leaving out the `id` never makes an action token-only.
#[derive(Clone, Debug, Default)]
pub struct McpTools {
    scopes: HashMap<String, Vec<Scope>>,
    mappings: HashMap<String, (String, Vec<String>)>,
    resources: HashMap<String, String>,
    refuse_details: bool,
    details_arguments: HashSet<String>,
}

impl McpTools {
    /// Reads `tools/call` with no scope required and details from
    /// `arguments.authorization_details`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Requires `scope` for `action`: the calls of a tool, or another judged method such
    /// as `resources/read` (`*` for every action). Protocol messages need no scope.
    #[must_use]
    pub fn scope(mut self, action: impl Into<String>, scope: Scope) -> Self {
        let scopes = self.scopes.entry(action.into()).or_default();
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
        self
    }

    /// Builds the transaction of `tool` from its arguments: details of type `detail_type`
    /// whose fields are the `fields` present in the arguments (others are ignored). With
    /// `pay_invoice` mapped to `payment` and `["amount", "currency", "recipient"]`,
    /// arguments `{"amount":"50.00","currency":"USD","recipient":"a@example.com"}` are the
    /// payment judged. An argument may hold objects and arrays (a trip's legs, an entity
    /// reference), read as any transaction field is (`valet::token::details`); a float
    /// or a `null`, at any depth, is refused.
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

    /// Takes the resource `tool` acts on from its argument `argument`, a string: it is the
    /// transaction's `identifier`, so that the policies see `resource ==
    /// Resource::"<argument>"`. With `.resource_argument("read_file", "path")`, a call
    /// of `read_file` with `{"path":"/etc/shadow"}` is judged on
    /// `Resource::"/etc/shadow"`.
    ///
    /// The details are of the type given to
    /// [`details_from_arguments`](Self::details_from_arguments) for `tool` (with its
    /// fields beside `identifier`), else of the type named after the tool. A call whose
    /// argument is missing, or is not a non-empty string, is refused, and so is an
    /// `authorization_details` argument.
    #[must_use]
    pub fn resource_argument(
        mut self,
        tool: impl Into<String>,
        argument: impl Into<String>,
    ) -> Self {
        self.resources.insert(tool.into(), argument.into());
        self
    }

    /// Refuses an `authorization_details` argument in a call of any tool not given to
    /// [`details_argument`](Self::details_argument).
    ///
    /// Without it, a tool with neither [`details_from_arguments`](Self::details_from_arguments)
    /// nor [`resource_argument`](Self::resource_argument) is judged on its
    /// `authorization_details` argument. A tool whose function has no such parameter
    /// never sees it: a server that drops unknown arguments (the MCP SDKs validate
    /// arguments into the function's parameters) would act on arguments that were not
    /// judged, such as a payment of 5000.00 judged as the 1.00 its
    /// `authorization_details` states. Servers should call this and name the tools that
    /// do take the argument.
    #[must_use]
    pub fn refuse_authorization_details(mut self) -> Self {
        self.refuse_details = true;
        self
    }

    /// Judges the calls of `tool` on their `authorization_details` argument, under
    /// [`refuse_authorization_details`](Self::refuse_authorization_details): for a tool
    /// whose function takes that argument and acts on it. A tool given to
    /// [`details_from_arguments`](Self::details_from_arguments) or
    /// [`resource_argument`](Self::resource_argument) still refuses it.
    #[must_use]
    pub fn details_argument(mut self, tool: impl Into<String>) -> Self {
        self.details_arguments.insert(tool.into());
        self
    }

    /// The scopes `action` needs: its own, then those of `*`.
    fn action_scopes(&self, action: &str) -> impl Iterator<Item = &Scope> {
        self.scopes
            .get(action)
            .into_iter()
            .chain(self.scopes.get("*"))
            .flatten()
    }

    /// The action `name` with the scopes it needs.
    fn action(&self, name: &str) -> Operation {
        self.action_scopes(name)
            .fold(Operation::action(name), |op, s| op.scope(s.clone()))
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
        let op = self.action(name);
        let argument = |field: &str| arguments.and_then(|a| a.get(field));
        let given = argument("authorization_details");
        let mapping = self.mappings.get(name);
        let resource = match self.resources.get(name) {
            Some(field) => Some(resource_of(name, field, argument(field))?),
            None => None,
        };
        if mapping.is_none() && resource.is_none() {
            return match given {
                None => Ok(op),
                Some(_) if self.refuse_details && !self.details_arguments.contains(name) => {
                    Err(invalid(&format!(
                        "tool `{name}` takes no `authorization_details` argument: remove it, and send the tool's own arguments"
                    )))
                }
                Some(Value::Array(items)) => match items.as_slice() {
                    [one] => Ok(op.details(details(one)?)),
                    _ => Err(invalid(
                        "`authorization_details` must hold exactly one object",
                    )),
                },
                Some(d) => Ok(op.details(details(d)?)),
            };
        }
        if given.is_some() {
            return Err(invalid(&format!(
                "tool `{name}` takes its transaction from its arguments: remove `authorization_details`"
            )));
        }
        let mut object = Map::new();
        let detail_type = mapping.map_or(name, |(t, _)| t.as_str());
        object.insert("type".to_owned(), Value::String(detail_type.to_owned()));
        for field in mapping.into_iter().flat_map(|(_, fields)| fields) {
            if let Some(v) = argument(field) {
                object.insert(field.clone(), v.clone());
            }
        }
        if let Some(resource) = resource {
            object.insert("identifier".to_owned(), Value::String(resource.to_owned()));
        }
        Ok(op.details(details(&Value::Object(object))?))
    }

    /// A method judged on the resource its parameter `field` names.
    fn resource_method(
        &self,
        method: &str,
        field: &str,
        what: &str,
        params: Option<&Value>,
    ) -> Result<Operation, ExtractError> {
        let resource = match params.and_then(|p| p.get(field)) {
            Some(Value::String(s)) if !s.is_empty() => s,
            _ => {
                return Err(invalid(&format!(
                    "`{method}` needs `params.{field}` as a non-empty string: send {what}"
                )))
            }
        };
        let object = serde_json::json!({"type": method, "identifier": resource});
        Ok(self.action(method).details(details(&object)?))
    }

    fn request(
        &self,
        method: &str,
        message: &Map<String, Value>,
    ) -> Result<Operation, ExtractError> {
        let params = message.get("params");
        if method == "tools/call" {
            return self.tool_call(params);
        }
        if TOKEN_ONLY_METHODS.contains(&method) {
            return Ok(Operation::token_only(method));
        }
        if method.starts_with(NOTIFICATION_PREFIX) {
            if message.contains_key("id") {
                return Err(invalid(&format!(
                    "`{method}` is a notification, which carries no `id`: remove the `id`"
                )));
            }
            return Ok(Operation::token_only(method));
        }
        match RESOURCE_PARAMETERS.iter().find(|(m, _, _)| *m == method) {
            Some((_, field, what)) => self.resource_method(method, field, what, params),
            None => Ok(self.action(method)),
        }
    }
}

/// The resource of a call of `tool`, from its argument `field`.
fn resource_of<'a>(
    tool: &str,
    field: &str,
    value: Option<&'a Value>,
) -> Result<&'a str, ExtractError> {
    let found = match value {
        Some(Value::String(s)) if !s.is_empty() => return Ok(s),
        Some(Value::String(_)) => "an empty string",
        Some(Value::Null) => "null",
        Some(Value::Bool(_)) => "a boolean",
        Some(Value::Number(_)) => "a number",
        Some(Value::Array(_)) => "an array",
        Some(Value::Object(_)) => "an object",
        None => {
            return Err(invalid(&format!(
                "tool `{tool}` takes its resource from argument `{field}`: send `{field}`, a non-empty string"
            )))
        }
    };
    Err(invalid(&format!(
        "tool `{tool}` takes its resource from argument `{field}`, which must be a non-empty string, found {found}: send the resource as a string"
    )))
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
            routing::check(&parts.headers, None).map_err(|message| {
                ExtractError::HeaderMismatch {
                    id: Value::Null,
                    message,
                }
            })?;
            return Ok(Operation::token_only(parts.method.as_str()));
        }
        let message = match json::read(body)? {
            Value::Object(m) => m,
            Value::Array(_) => return Err(ExtractError::Batch),
            _ => return Err(invalid("the body must be a JSON-RPC message object")),
        };
        routing::check(&parts.headers, Some(&message)).map_err(|text| {
            let id = match message.get("id") {
                Some(id @ (Value::String(_) | Value::Number(_))) => id.clone(),
                _ => Value::Null,
            };
            ExtractError::HeaderMismatch { id, message: text }
        })?;
        match message.get("method") {
            Some(Value::String(m)) if !m.is_empty() => self.request(m, &message),
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
    use valet::FieldValue;

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
    fn refusing_authorization_details_leaves_only_the_tools_that_take_it() {
        let given = json!({"type":"payment","amount":"1.00","currency":"USD","recipient":"bob@example.com"});
        let smuggled = json!({
            "amount": "5000.00",
            "recipient": "mallory@evil.example",
            "currency": "USD",
            "authorization_details": given,
        });
        let strict = McpTools::new()
            .scope("pay_invoice", Scope::parse("payments:write").unwrap())
            .refuse_authorization_details();
        let err = read(&strict, call("pay_invoice", smuggled.clone())).unwrap_err();
        assert!(
            err.to_string()
                .contains("tool `pay_invoice` takes no `authorization_details` argument"),
            "{err}"
        );
        // A null, or an array, is still the argument.
        for value in [Value::Null, json!([given])] {
            let arguments = json!({ "authorization_details": value });
            assert!(read(&strict, call("pay_invoice", arguments)).is_err());
        }
        // Without it, a call that names no transaction is judged as before.
        let op = read(&strict, call("pay_invoice", json!({"amount": "5000.00"}))).unwrap();
        assert_eq!(op.details, None);
        // A tool opted in takes its transaction from the argument.
        let opted = strict.details_argument("pay_invoice");
        let op = read(&opted, call("pay_invoice", smuggled.clone())).unwrap();
        let expected = TransactionDetails::from_json_value(&given, 32).unwrap();
        assert_eq!(op.details, Some(expected));
        assert!(read(&opted, call("refund", smuggled.clone())).is_err());
        // Opted in, a tool mapped from its arguments still refuses it.
        let mapped = opted.details_from_arguments("pay_invoice", "payment", ["amount"]);
        assert!(read(&mapped, call("pay_invoice", smuggled)).is_err());
    }

    #[test]
    fn arguments_holding_objects_and_arrays_are_transaction_values() {
        let mapped = McpTools::new().details_from_arguments("book_trip", "trip", ["legs", "who"]);
        let arguments = json!({
            "legs": [{"from": "CDG", "to": "JFK", "seats": 2}],
            "who": {"__entity": {"type": "User", "id": "alice"}},
        });
        let op = read(&mapped, call("book_trip", arguments)).unwrap();
        let details = op.details.unwrap();
        assert_eq!(details.get("legs").map(FieldValue::kind), Some("array"));
        assert_eq!(details.get("who").map(FieldValue::kind), Some("object"));
        assert_eq!(
            details.canonical_json(),
            r#"{"type":"trip","legs":[{"from":"CDG","seats":2,"to":"JFK"}],"who":{"__entity":{"id":"alice","type":"User"}}}"#
        );
        // A value a transaction cannot carry is named by its path.
        let err = read(
            &mapped,
            call(
                "book_trip",
                json!({"legs": [{"from": "CDG", "fare": 12.5}]}),
            ),
        )
        .unwrap_err();
        assert!(err.to_string().contains("`legs[0].fare`"), "{err}");
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

    #[test]
    fn methods_are_matched_exactly_and_judged_unless_token_only() {
        let tools = McpTools::new()
            .scope("resources/read", Scope::parse("files:read").unwrap())
            .scope("*", Scope::parse("mcp").unwrap());
        for method in TOKEN_ONLY_METHODS {
            let op = read(&tools, json!({"jsonrpc":"2.0","id":1,"method":method})).unwrap();
            assert_eq!(op, Operation::token_only(method));
        }
        let op = read(
            &tools,
            json!({"jsonrpc":"2.0","method":"notifications/cancelled","params":{}}),
        )
        .unwrap();
        assert_eq!(op, Operation::token_only("notifications/cancelled"));
        assert!(read(
            &tools,
            json!({"jsonrpc":"2.0","id":1,"method":"notifications/cancelled"})
        )
        .is_err());

        let op = read(
            &tools,
            json!({"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"file:///a"}}),
        )
        .unwrap();
        assert!(op.policies);
        assert_eq!(op.action, "resources/read");
        let expected = TransactionDetails::from_json_value(
            &json!({"type":"resources/read","identifier":"file:///a"}),
            32,
        )
        .unwrap();
        assert_eq!(op.details, Some(expected));
        let scopes: Vec<_> = op.scopes.iter().map(Scope::as_str).collect();
        assert_eq!(scopes, ["files:read", "mcp"]);

        for method in [
            "Tools/Call",
            "Tools/List",
            "PING",
            "completion/complete",
            "x",
        ] {
            let op = read(&tools, json!({"jsonrpc":"2.0","id":1,"method":method})).unwrap();
            assert!(op.policies, "{method}");
            assert_eq!(op.action, method);
            assert_eq!(op.details, None);
        }
        for params in [json!({}), json!({"uri": ""}), json!({"uri": 1}), json!([])] {
            let body = json!({"jsonrpc":"2.0","id":1,"method":"resources/read","params":params});
            assert!(read(&tools, body).is_err(), "{params}");
        }
        assert!(read(
            &tools,
            json!({"jsonrpc":"2.0","id":1,"method":"prompts/get"})
        )
        .is_err());
    }

    #[test]
    fn a_resource_argument_is_the_identifier() {
        let tools = McpTools::new().resource_argument("read_file", "path");
        let op = read(&tools, call("read_file", json!({"path":"/a","other":1}))).unwrap();
        let expected =
            TransactionDetails::from_json_value(&json!({"type":"read_file","identifier":"/a"}), 32)
                .unwrap();
        assert_eq!(op.details, Some(expected));
        for arguments in [
            json!({}),
            json!({"path": ""}),
            json!({"path": null}),
            json!({"path": {"a": 1}}),
            json!({"path": "/a", "authorization_details": {"type": "read_file"}}),
        ] {
            assert!(
                read(&tools, call("read_file", arguments.clone())).is_err(),
                "{arguments}"
            );
        }
        // A mapped field named `identifier` is not the resource: the argument is.
        let tools = McpTools::new()
            .details_from_arguments("read_file", "file", ["identifier", "mode"])
            .resource_argument("read_file", "path");
        let op = read(
            &tools,
            call(
                "read_file",
                json!({"path":"/a","identifier":"/b","mode":"r"}),
            ),
        )
        .unwrap();
        let expected = TransactionDetails::from_json_value(
            &json!({"type":"file","identifier":"/a","mode":"r"}),
            32,
        )
        .unwrap();
        assert_eq!(op.details, Some(expected));
    }
}
