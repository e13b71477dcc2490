//! What a request does: the Valet action, its transaction details and the scopes it needs,
//! read from the HTTP request by an [`Extractor`].

use bytes::Bytes;
use http::request::Parts;
use valet::{Audience, Request, Scope, TransactionDetails};

use crate::error::ExtractError;

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
///
/// The layer runs it on the request without its
/// [`CREDENTIAL_HEADERS`](crate::CREDENTIAL_HEADERS). An agent that signs a proof of
/// possession runs the server's extractor the same way, on the request it is about to
/// send, and signs [`Operation::request`] at the server's resource URI: that is the
/// request the layer judges.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use bytes::Bytes;
/// use valet::Audience;
/// use valet_http::{Extractor, McpTools};
///
/// let body = Bytes::from(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_calendar","arguments":{}}}"#);
/// let (parts, ()) = http::Request::post("https://tools.example.com/mcp")
///     .body(())?
///     .into_parts();
/// let operation = McpTools::new().operation(&parts, &body)?;
/// let request = operation.request(&Audience::parse("https://tools.example.com/mcp")?);
/// assert_eq!(request.action, "read_calendar");
/// // HolderProof::sign(&agent_key, &token, &request, SystemTime::now())
/// # Ok(())
/// # }
/// ```
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
