//! Errors: a misconfigured layer, or a request whose operation cannot be read.

use http::StatusCode;
use serde_json::json;

use crate::challenge::json_response;

/// A failure to configure the layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The resource URI cannot identify this server.
    #[error("resource `{uri}` {problem}: give this server's canonical URI, like `https://tools.example.com/mcp`")]
    Resource {
        /// The URI given.
        uri: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A scope or a mapping names something invalid.
    #[error("{0}")]
    Invalid(String),
}

/// Why the operation of a request could not be read from it. Answered with `400`:
/// [`Json`](Self::Json) and [`Invalid`](Self::Invalid) with
/// `{"error":"invalid_request","error_description":"<this message>"}`, the JSON-RPC
/// refusals ([`HeaderMismatch`](Self::HeaderMismatch), [`Batch`](Self::Batch)) with a
/// JSON-RPC error object.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExtractError {
    /// The body is not the JSON expected.
    #[error("the request body is not valid JSON: {0}")]
    Json(String),
    /// The JSON does not say what the request does.
    #[error("{0}")]
    Invalid(String),
    /// The MCP routing headers ([`MCP_METHOD_HEADER`](crate::MCP_METHOD_HEADER),
    /// [`MCP_NAME_HEADER`](crate::MCP_NAME_HEADER)) disagree with the body, are malformed,
    /// or appear twice. Answered with
    /// `{"jsonrpc":"2.0","id":<id>,"error":{"code":-32020,"message":"<this message>"}}`
    /// ([`JSONRPC_HEADER_MISMATCH`](crate::JSONRPC_HEADER_MISMATCH)).
    #[error("{message}")]
    HeaderMismatch {
        /// The request's `id` (a string or a number), else `null`.
        id: serde_json::Value,
        /// What disagrees.
        message: String,
    },
    /// The body is a JSON-RPC batch (an array), which MCP no longer has (revision
    /// 2025-06-18 removed it). Answered with
    /// `{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"<this message>"}}`
    /// ([`JSONRPC_INVALID_REQUEST`](crate::JSONRPC_INVALID_REQUEST)).
    #[error("batches are not accepted: send one message per request")]
    Batch,
}

/// The JSON-RPC error code of a request whose MCP routing headers disagree with its body
/// (`HEADER_MISMATCH` of MCP revision 2026-07-28).
pub const JSONRPC_HEADER_MISMATCH: i64 = -32020;

/// The JSON-RPC error code of a message that is not a valid request (JSON-RPC 2.0): a
/// batch.
pub const JSONRPC_INVALID_REQUEST: i64 = -32600;

impl ExtractError {
    /// The `400` answering it.
    pub(crate) fn response(&self) -> http::Response<bytes::Bytes> {
        let body = match self {
            ExtractError::Json(_) | ExtractError::Invalid(_) => {
                json!({"error": "invalid_request", "error_description": self.to_string()})
            }
            ExtractError::HeaderMismatch { id, message } => json!({
                "jsonrpc": "2.0",
                "id": id,
                "error": {"code": JSONRPC_HEADER_MISMATCH, "message": message},
            }),
            ExtractError::Batch => json!({
                "jsonrpc": "2.0",
                "id": null,
                "error": {"code": JSONRPC_INVALID_REQUEST, "message": self.to_string()},
            }),
        };
        json_response(StatusCode::BAD_REQUEST, None, &body)
    }
}

/// Why the `Valet-Proof` or `Valet-Approval` headers cannot be read. Answered with `400`
/// and `{"error":"invalid_request","error_description":"<this message>"}`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderError {
    /// More than one proof of possession.
    #[error("send at most one Valet-Proof header, holding one proof of possession")]
    ManyProofs,
    /// More approvals than accepted.
    #[error("send at most {0} signed approvals in Valet-Approval headers")]
    ManyApprovals(usize),
    /// A value that is not a base64url-encoded proof or approval.
    #[error("the {header} header is malformed ({problem}): its value is the JSON of a {what}, encoded as base64url without padding", what = if *header == "Valet-Proof" { "proof of possession" } else { "signed approval" })]
    Malformed {
        /// The header's name.
        header: &'static str,
        /// What is wrong with it.
        problem: String,
    },
}
