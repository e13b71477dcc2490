//! The HTTP gate: the Rust layer's judgement of one HTTP request (`ValetLayer::judge`),
//! for a Python web server's middleware.

use bytes::Bytes;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::gc::PyVisit;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};
use pyo3::PyTraverseError;
use valet::token;
use valet_http::{Admission, ProtectedResource, ValetLayer, DEFAULT_MAX_BODY_BYTES};

use crate::authorizer::{Authorizer, Decision};
use crate::errors::token_error;
use crate::http_parts::{header_map, parts, target};
use crate::mcp::McpTools;
use crate::request::Request;

/// The names (lowercase) of the request headers that carry credentials: `authorization`,
/// `valet-proof` and `valet-approval`. The gate reads them; the application behind it
/// must not see them.
pub(crate) fn credential_headers() -> Vec<String> {
    valet_http::CREDENTIAL_HEADERS
        .iter()
        .map(|h| h.as_str().to_owned())
        .collect()
}

// The default of `Gate(max_body_bytes=)`, written as a literal so that Python shows it.
const _: () = assert!(DEFAULT_MAX_BODY_BYTES == 65536);

/// Strings from a sequence argument that must not be one `str`.
fn strings(obj: Option<&Bound<'_, PyAny>>, name: &str) -> PyResult<Vec<String>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(Vec::new());
    };
    if obj.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(format!(
            "`{name}` must be a sequence of str, not one str"
        )));
    }
    obj.try_iter()?
        .map(|item| item?.extract::<String>())
        .collect()
}

/// A resource server's gate: judges each HTTP request exactly as the Rust tower layer
/// (`valet_http::ValetLayer`) does, with the same code, and says what to do with it.
///
/// ```python
/// gate = Gate(authorizer, "https://tools.example.com/mcp", tools=tools)
/// answer = gate.judge("POST", "/mcp", headers, body)
/// if answer.allowed:
///     ...  # pass the request on, without its credential headers; answer.decision
/// else:
///     ...  # send answer.status, answer.headers, answer.body
/// ```
///
/// In order: a metadata path (RFC 9728, both `/.well-known/oauth-protected-resource/<path>`
/// and the bare well-known path) is answered with the metadata document, without a token;
/// a body longer than `max_body_bytes`, or declared longer by its `Content-Length`, is
/// answered `413`; credentials or a body that cannot be read are answered `400`; no
/// token is `401`; then the authorizer decides, and its decision is `401` (the token),
/// `403` (a deny, or `approval_required` with what to sign), `500`, or admitted.
#[pyclass(module = "valet", frozen)]
pub struct Gate {
    layer: ValetLayer,
    authorizer: Py<Authorizer>,
    tools: Py<McpTools>,
}

#[pymethods]
impl Gate {
    /// A gate for the resource server at `resource` (its canonical URI, the audience its
    /// tokens name, like `https://tools.example.com/mcp`), judging with `authorizer`.
    ///
    /// - `tools`: how a request body is read as the operation judged (default
    ///   `McpTools()`);
    /// - `max_body_bytes`: the largest body read (default 65536), a larger one `413`;
    /// - `authorization_servers`: issuer identifiers listed in the metadata;
    /// - `scopes`: the `scopes_supported` of the metadata, also asked for in a challenge
    ///   to a request whose operation names no scope;
    /// - `resource_name`, `resource_documentation`: listed in the metadata;
    /// - `serve_metadata`: whether the gate answers the metadata paths (default true).
    ///
    /// Raises `ValueError` for a `resource` that cannot identify a server (not an
    /// absolute `https://` or `http://` URI with a host), `TokenError` for a scope that is
    /// not a scope token.
    #[new]
    #[pyo3(signature = (authorizer, resource, *, tools = None, max_body_bytes = 65536, authorization_servers = None, scopes = None, resource_name = None, resource_documentation = None, serve_metadata = true))]
    #[expect(
        clippy::too_many_arguments,
        reason = "mirrors the Python keyword arguments"
    )]
    fn new(
        py: Python<'_>,
        authorizer: Py<Authorizer>,
        resource: &str,
        tools: Option<Py<McpTools>>,
        max_body_bytes: usize,
        authorization_servers: Option<Bound<'_, PyAny>>,
        scopes: Option<Bound<'_, PyAny>>,
        resource_name: Option<String>,
        resource_documentation: Option<String>,
        serve_metadata: bool,
    ) -> PyResult<Self> {
        let mut protected =
            ProtectedResource::new(resource).map_err(|e| PyValueError::new_err(e.to_string()))?;
        for issuer in strings(authorization_servers.as_ref(), "authorization_servers")? {
            protected = protected.authorization_server(issuer);
        }
        for scope in strings(scopes.as_ref(), "scopes")? {
            protected = protected.scope(token::Scope::parse(scope).map_err(token_error)?);
        }
        if let Some(name) = resource_name {
            protected = protected.resource_name(name);
        }
        if let Some(url) = resource_documentation {
            protected = protected.resource_documentation(url);
        }
        let tools = match tools {
            Some(t) => t,
            None => Py::new(py, McpTools::default())?,
        };
        let layer = ValetLayer::builder(protected, authorizer.get().shared())
            .extractor(tools.get().inner.clone())
            .max_body_bytes(max_body_bytes)
            .serve_metadata(serve_metadata)
            .build();
        Ok(Gate {
            layer,
            authorizer,
            tools,
        })
    }

    /// Judges one HTTP request whose body has been read: `method` (`"POST"`), `path` (the
    /// request target as it came, with its query: `"/mcp"`, `b"/mcp?x=1"`), `headers` (a
    /// mapping, or `(name, value)` pairs as an ASGI scope holds them, as `str` or
    /// `bytes`), and `body`. Read at most `max_body_bytes + 1` bytes of a body: a longer
    /// one is answered `413` however much more there is.
    ///
    /// The decision runs on this thread without the GIL: from an event loop, call it in a
    /// worker thread. Returns a `GateAnswer`; raises `RequestError` only for a method,
    /// target or header that is not HTTP.
    fn judge(
        &self,
        py: Python<'_>,
        method: &str,
        path: &Bound<'_, PyAny>,
        headers: &Bound<'_, PyAny>,
        body: &Bound<'_, PyAny>,
    ) -> PyResult<GateAnswer> {
        let body = match body.cast::<PyBytes>() {
            Ok(b) => Bytes::copy_from_slice(b.as_bytes()),
            Err(_) => {
                return Err(PyTypeError::new_err(format!(
                    "`body` must be bytes, not {}",
                    body.get_type().name()?
                )))
            }
        };
        let parts = parts(method, target(path)?, header_map(Some(headers))?)?;
        let layer = &self.layer;
        let admission = py.detach(|| layer.judge(&parts, &body));
        let answer = match admission {
            Admission::Admit(authorized) => Answer::Admit {
                decision: Py::new(py, Decision::from(authorized.decision))?,
                request: Py::new(
                    py,
                    Request::from(authorized.operation.request(layer.resource().audience())),
                )?,
            },
            Admission::Respond(response) => {
                let (head, body) = response.into_parts();
                Answer::Respond {
                    status: head.status.as_u16(),
                    headers: head
                        .headers
                        .iter()
                        .map(|(name, value)| {
                            (
                                name.as_str().to_owned(),
                                String::from_utf8_lossy(value.as_bytes()).into_owned(),
                            )
                        })
                        .collect(),
                    body,
                }
            }
            // An answer this binding does not know admits nothing: fail closed.
            _ => {
                return Err(PyValueError::new_err(
                    "the gate gave an answer this binding cannot read",
                ))
            }
        };
        Ok(GateAnswer { answer })
    }

    /// The resource URI: the audience every token must name.
    #[getter]
    fn resource(&self) -> &str {
        self.layer.resource().audience().as_str()
    }

    /// The metadata URL (RFC 9728 section 3.1), the `resource_metadata` of every
    /// challenge.
    #[getter]
    fn metadata_url(&self) -> String {
        self.layer.resource().metadata_url()
    }

    /// The paths answered with the metadata document, without a token (none when built
    /// with `serve_metadata=False`).
    #[getter]
    fn metadata_paths(&self) -> Vec<String> {
        self.layer.metadata_paths().to_vec()
    }

    /// The largest body read, in bytes.
    #[getter]
    fn max_body_bytes(&self) -> usize {
        self.layer.max_body_bytes()
    }

    /// The authorizer that judges (to revoke tokens, or set entities).
    #[getter]
    fn authorizer(&self, py: Python<'_>) -> Py<Authorizer> {
        self.authorizer.clone_ref(py)
    }

    /// How request bodies are read; `tools.request(gate.resource, body)` is what a client
    /// signs.
    #[getter]
    fn tools(&self, py: Python<'_>) -> Py<McpTools> {
        self.tools.clone_ref(py)
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.authorizer)?;
        visit.call(&self.tools)
    }

    fn __repr__(&self) -> String {
        format!("Gate(resource='{}')", self.resource())
    }
}

/// What the gate makes of one request.
enum Answer {
    /// Admitted: the decision (an allow) and what was judged.
    Admit {
        decision: Py<Decision>,
        request: Py<Request>,
    },
    /// Answered by the gate, with this response.
    Respond {
        status: u16,
        headers: Vec<(String, String)>,
        body: Bytes,
    },
}

/// What the gate makes of one request. Either `allowed` is true, `decision` is the
/// authorizer's `Decision` (an allow: claims, chain of custody, determining policies) and
/// `request` the `Request` judged (act on exactly this); or the gate answers the request
/// itself, with `status`, `headers` and `body` to send as they are (the metadata document,
/// or a refusal), and `decision` and `request` are `None`.
#[pyclass(module = "valet", frozen)]
pub struct GateAnswer {
    answer: Answer,
}

#[pymethods]
impl GateAnswer {
    /// Whether the request is admitted: pass it on, without its credential headers.
    #[getter]
    fn allowed(&self) -> bool {
        matches!(self.answer, Answer::Admit { .. })
    }

    /// The authorizer's decision for an admitted request, else `None`.
    #[getter]
    fn decision(&self, py: Python<'_>) -> Option<Py<Decision>> {
        match &self.answer {
            Answer::Admit { decision, .. } => Some(decision.clone_ref(py)),
            Answer::Respond { .. } => None,
        }
    }

    /// What was judged, for an admitted request, else `None`.
    #[getter]
    fn request(&self, py: Python<'_>) -> Option<Py<Request>> {
        match &self.answer {
            Answer::Admit { request, .. } => Some(request.clone_ref(py)),
            Answer::Respond { .. } => None,
        }
    }

    /// The HTTP status of the gate's answer, or `None` for an admitted request.
    #[getter]
    fn status(&self) -> Option<u16> {
        match &self.answer {
            Answer::Respond { status, .. } => Some(*status),
            Answer::Admit { .. } => None,
        }
    }

    /// The headers of the gate's answer as `(name, value)` pairs, names lowercase; empty
    /// for an admitted request.
    #[getter]
    fn headers(&self) -> Vec<(String, String)> {
        match &self.answer {
            Answer::Respond { headers, .. } => headers.clone(),
            Answer::Admit { .. } => Vec::new(),
        }
    }

    /// The body of the gate's answer; empty for an admitted request.
    #[getter]
    fn body<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        match &self.answer {
            Answer::Respond { body, .. } => PyBytes::new(py, body),
            Answer::Admit { .. } => PyBytes::new(py, b""),
        }
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(match &self.answer {
            Answer::Admit { request, .. } => {
                format!(
                    "GateAnswer(allowed=True, request={})",
                    request.bind(py).repr()?
                )
            }
            Answer::Respond { status, .. } => format!("GateAnswer(allowed=False, status={status})"),
        })
    }
}
