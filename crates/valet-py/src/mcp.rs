//! How MCP JSON-RPC messages are read as the operations a server judges: the binding of
//! `valet_http::McpTools`.

use bytes::Bytes;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};
use valet::token;
use valet_http::Extractor;

use crate::errors::{token_error, RequestError};
use crate::http_parts::{header_map, parts};
use crate::request::Request;

/// How MCP JSON-RPC messages are read: which scopes each action needs, and where a tool's
/// transaction comes from. The same reading as the Rust layer's (`valet_http::McpTools`),
/// so that a client signs exactly what the server judges.
///
/// A `McpTools` does not change: `scope`, `details_from_arguments`, `resource_argument`,
/// `refuse_authorization_details` and `details_argument` each return a new one, so they
/// chain:
///
/// ```python
/// tools = (
///     McpTools()
///     .scope("pay_invoice", "payments:write")
///     .details_from_arguments("pay_invoice", "payment", ["amount", "currency", "recipient"])
/// )
/// ```
///
/// A `tools/call` of a tool with neither a mapping nor a resource argument takes its
/// transaction from its `authorization_details` argument, when present, unless
/// `refuse_authorization_details` refuses that argument (for the tools not given to
/// `details_argument`). Protocol messages
/// (`initialize`, `ping`, the `*/list` methods, notifications, responses, and a request
/// with an empty body) are judged by the token alone.
#[pyclass(module = "valet", frozen)]
#[derive(Clone, Default)]
pub struct McpTools {
    pub(crate) inner: valet_http::McpTools,
}

impl McpTools {
    fn with(&self, change: impl FnOnce(valet_http::McpTools) -> valet_http::McpTools) -> Self {
        McpTools {
            inner: change(self.inner.clone()),
        }
    }
}

#[pymethods]
impl McpTools {
    /// No scope required, and every tool's details from its `authorization_details`
    /// argument.
    #[new]
    fn new() -> Self {
        Self::default()
    }

    /// A new `McpTools` that also requires `scope` for `action`: the calls of a tool, or
    /// another judged method such as `resources/read` (`"*"` for every action). Protocol
    /// messages need no scope. Raises `TokenError` for text that is not a scope.
    fn scope(&self, action: &str, scope: &str) -> PyResult<Self> {
        let scope = token::Scope::parse(scope).map_err(token_error)?;
        Ok(self.with(|t| t.scope(action, scope)))
    }

    /// A new `McpTools` that builds the transaction of `tool` from its arguments: details
    /// of type `detail_type` whose fields are the `fields` present in the arguments
    /// (others are ignored). A call of such a tool with an `authorization_details`
    /// argument is refused, so that what is judged is what the tool receives.
    fn details_from_arguments(
        &self,
        tool: &str,
        detail_type: &str,
        fields: &Bound<'_, PyAny>,
    ) -> PyResult<Self> {
        if fields.is_instance_of::<PyString>() {
            return Err(PyTypeError::new_err(
                "`fields` must be a sequence of argument names, not one str",
            ));
        }
        let mut names = Vec::new();
        for field in fields.try_iter()? {
            names.push(field?.extract::<String>()?);
        }
        Ok(self.with(|t| t.details_from_arguments(tool, detail_type, names)))
    }

    /// A new `McpTools` that takes the resource `tool` acts on from its argument
    /// `argument`, a non-empty string: the transaction's `identifier`, so that the
    /// policies see `resource == Resource::"<argument>"`. The details are of the type
    /// given to `details_from_arguments` for `tool`, else of the type named after the
    /// tool.
    fn resource_argument(&self, tool: &str, argument: &str) -> Self {
        self.with(|t| t.resource_argument(tool, argument))
    }

    /// A new `McpTools` that refuses an `authorization_details` argument in a call of any
    /// tool not given to `details_argument`. Without it, a tool with neither a mapping nor
    /// a resource argument is judged on that argument, which a function without such a
    /// parameter never sees (the MCP SDK drops it): the call would be judged on one
    /// transaction and act on another. `valet.mcpserver.protect` always refuses it.
    fn refuse_authorization_details(&self) -> Self {
        self.with(valet_http::McpTools::refuse_authorization_details)
    }

    /// A new `McpTools` that, under `refuse_authorization_details`, judges the calls of
    /// `tool` on their `authorization_details` argument: for a tool whose function takes
    /// that argument and acts on it. A tool given to `details_from_arguments` or
    /// `resource_argument` still refuses it.
    fn details_argument(&self, tool: &str) -> Self {
        self.with(|t| t.details_argument(tool))
    }

    /// The `Request` a server with these tools judges at `audience` (its resource URI) for
    /// an HTTP request with this `body` (the JSON-RPC message), `method` and `headers`:
    /// what a client signs a proof of possession over. Raises `RequestError`, with the
    /// message the server would answer `400` with, when the body cannot be read (not
    /// JSON, a batch, a `tools/call` without a name, a transaction value that cannot be
    /// judged, ...), and when `audience` is not an absolute URI.
    #[pyo3(signature = (audience, body, method = "POST", headers = None))]
    fn request(
        &self,
        py: Python<'_>,
        audience: &str,
        body: &Bound<'_, PyAny>,
        method: &str,
        headers: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Request> {
        let audience =
            token::Audience::parse(audience).map_err(|e| RequestError::new_err(e.to_string()))?;
        let body = if let Ok(b) = body.cast::<PyBytes>() {
            Bytes::copy_from_slice(b.as_bytes())
        } else if let Ok(s) = body.cast::<PyString>() {
            Bytes::copy_from_slice(s.to_str()?.as_bytes())
        } else {
            return Err(PyTypeError::new_err(format!(
                "`body` must be bytes (or str), not {}",
                body.get_type().name()?
            )));
        };
        // The extractor reads the method, the headers and the body; the target is the
        // resource itself.
        let target = audience
            .as_str()
            .parse::<http::Uri>()
            .unwrap_or_else(|_| http::Uri::from_static("/"));
        let parts = parts(method, target, header_map(headers.as_ref())?)?;
        let inner = &self.inner;
        let operation = py
            .detach(|| inner.operation(&parts, &body))
            .map_err(|e| RequestError::new_err(e.to_string()))?;
        Ok(Request::from(operation.request(&audience)))
    }
}
