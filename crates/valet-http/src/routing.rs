//! The MCP routing headers (revision 2026-07-28 of the Streamable HTTP transport):
//! `Mcp-Method` and `Mcp-Name` repeat what the JSON-RPC body says, so that a proxy or a
//! load balancer can route a request without reading its body.
//!
//! A request whose headers say one thing and whose body another could be routed, logged
//! or rate-limited as one call and run as another, so a header that disagrees with the
//! body is refused, and so is a header sent twice. What is judged is always read from the
//! body; without the headers (clients of earlier revisions) nothing changes.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Map, Value};

/// `Mcp-Method`: the JSON-RPC `method` of the body.
pub const MCP_METHOD_HEADER: HeaderName = HeaderName::from_static("mcp-method");

/// `Mcp-Name`: for `tools/call` and `prompts/get` the body's `params.name`, for
/// `resources/read` its `params.uri`.
pub const MCP_NAME_HEADER: HeaderName = HeaderName::from_static("mcp-name");

/// The start and the end of a value sent as `=?base64?<standard base64 of UTF-8>?=`.
const SENTINEL: (&str, &str) = ("=?base64?", "?=");

/// The methods that carry `Mcp-Name`, and the parameter it repeats.
const NAMED: [(&str, &str); 3] = [
    ("tools/call", "name"),
    ("prompts/get", "name"),
    ("resources/read", "uri"),
];

/// Checks the routing headers against `message`, the body's JSON-RPC message (`None`
/// for a request without one). `Err` says what disagrees.
pub(crate) fn check(
    headers: &HeaderMap,
    message: Option<&Map<String, Value>>,
) -> Result<(), String> {
    let method_header = read(headers, &MCP_METHOD_HEADER, "Mcp-Method")?;
    let name_header = read(headers, &MCP_NAME_HEADER, "Mcp-Name")?;
    let method = message
        .and_then(|m| m.get("method"))
        .and_then(Value::as_str);
    if let Some(sent) = &method_header {
        match method {
            Some(m) if m == sent => {}
            Some(m) => {
                return Err(format!(
                    "header `Mcp-Method` is `{sent}` but the body's `method` is `{m}`: send the body's method in `Mcp-Method`"
                ))
            }
            None => {
                return Err(format!(
                    "header `Mcp-Method` is `{sent}` but the body is no JSON-RPC request: send `Mcp-Method` only with a request, naming its method"
                ))
            }
        }
    }
    let Some(sent) = &name_header else {
        return Ok(());
    };
    let Some((method, field)) = method.and_then(|m| NAMED.iter().find(|(n, _)| *n == m)) else {
        return Err(format!(
            "header `Mcp-Name` is `{sent}` but the body is not a `tools/call`, `prompts/get` or `resources/read` request: remove `Mcp-Name`"
        ));
    };
    let value = message
        .and_then(|m| m.get("params"))
        .and_then(|p| p.get(*field))
        .and_then(Value::as_str);
    match value {
        Some(v) if v == sent => Ok(()),
        Some(v) => Err(format!(
            "header `Mcp-Name` is `{sent}` but the body's `params.{field}` is `{v}`: send the {method} `params.{field}` in `Mcp-Name`"
        )),
        None => Err(format!(
            "header `Mcp-Name` is `{sent}` but the body has no `params.{field}` string: send the {method} `params.{field}`"
        )),
    }
}

/// The value of header `name`, decoded; `None` when absent.
fn read(headers: &HeaderMap, header: &HeaderName, name: &str) -> Result<Option<String>, String> {
    let mut values = headers.get_all(header).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(format!(
            "header `{name}` appears more than once: send it once"
        ));
    }
    decode(value)
        .map(Some)
        .ok_or_else(|| format!(
            "header `{name}` is malformed: send visible ASCII, or `=?base64?<standard base64 of the UTF-8 value, with padding>?=`"
        ))
}

/// A header value as the text it stands for: itself, or the UTF-8 text its
/// `=?base64?...?=` form encodes. `None` for a value that is not visible ASCII, and for a
/// value that starts like the base64 form and is not its canonical encoding (so that each
/// text has one form, and an ill-formed one never matches).
fn decode(value: &HeaderValue) -> Option<String> {
    let text = value.to_str().ok()?;
    let Some(rest) = text.strip_prefix(SENTINEL.0) else {
        return Some(text.to_owned());
    };
    let encoded = rest.strip_suffix(SENTINEL.1)?;
    let bytes = STANDARD.decode(encoded).ok()?;
    if STANDARD.encode(&bytes) != encoded {
        return None;
    }
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(text: &str) -> Option<String> {
        decode(&HeaderValue::from_str(text).unwrap())
    }

    #[test]
    fn plain_and_base64_values_are_decoded() {
        assert_eq!(decoded("tools/call").as_deref(), Some("tools/call"));
        // The example of the specification: a literal that looks like the sentinel.
        assert_eq!(
            decoded("=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?=").as_deref(),
            Some("=?base64?literal?=")
        );
        let encoded = format!("=?base64?{}?=", STANDARD.encode("réserver"));
        assert_eq!(decoded(&encoded).as_deref(), Some("réserver"));
    }

    #[test]
    fn malformed_or_non_canonical_base64_never_decodes() {
        for text in [
            "=?base64?cmVzZXJ2ZXI=",    // no end
            "=?base64?=",               // no end
            "=?base64?cmVzZXJ2ZXI=?=x", // after the end
            "=?base64?cmVzZXJ2ZXI==?=", // wrong padding
            "=?base64?Zm9=?=",          // trailing bits set
            "=?base64?Zm8?=",           // padding left out
            "=?base64?Zm8_?=",          // base64url
            "=?base64? Zm8=?=",         // a space
            "=?base64?/w==?=",          // not UTF-8
        ] {
            assert_eq!(decoded(text), None, "{text}");
        }
        assert_eq!(
            decode(&HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap()),
            None
        );
    }
}
