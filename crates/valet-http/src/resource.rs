//! This resource server's identity and its OAuth 2.0 Protected Resource Metadata (RFC 9728).

use std::convert::Infallible;
use std::future::{ready, Ready};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{header, HeaderValue, Method, StatusCode};
use serde::Serialize;
use valet::{Audience, Scope};

use crate::error::ConfigError;

/// The well-known path suffix of RFC 9728 section 3.
pub const WELL_KNOWN_PATH: &str = "/.well-known/oauth-protected-resource";

/// This resource server: its canonical URI (the audience every token must name, RFC 8707)
/// and what its metadata document says about it.
#[derive(Clone, Debug)]
pub struct ProtectedResource {
    resource: Audience,
    origin: String,
    path_and_query: String,
    authorization_servers: Vec<String>,
    scopes_supported: Vec<Scope>,
    detail_types: Option<Vec<String>>,
    resource_name: Option<String>,
    resource_documentation: Option<String>,
}

impl ProtectedResource {
    /// A resource server known by `uri`: an absolute `https` (or `http`, for local
    /// development) URI with a host and no fragment, such as `https://tools.example.com/mcp`.
    pub fn new(uri: &str) -> Result<Self, ConfigError> {
        let invalid = |why: &str| ConfigError::Resource {
            uri: uri.to_owned(),
            problem: why.to_owned(),
        };
        let resource = Audience::parse(uri).map_err(|e| invalid(&e.to_string()))?;
        let (scheme, rest) = if let Some(rest) = uri.strip_prefix("https://") {
            ("https://", rest)
        } else if let Some(rest) = uri.strip_prefix("http://") {
            ("http://", rest)
        } else {
            return Err(invalid("is not an `https://` or `http://` URI"));
        };
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path_and_query) = rest.split_at(end);
        if authority.is_empty() || authority.contains('@') {
            return Err(invalid("has no host, or has user information"));
        }
        let origin = format!("{scheme}{authority}");
        // RFC 9728 section 3.1: a terminating slash after the host is dropped.
        let path_and_query = if path_and_query == "/" {
            String::new()
        } else {
            path_and_query.to_owned()
        };
        Ok(ProtectedResource {
            resource,
            origin,
            path_and_query,
            authorization_servers: Vec::new(),
            scopes_supported: Vec::new(),
            detail_types: None,
            resource_name: None,
            resource_documentation: None,
        })
    }

    /// Adds the issuer identifier of an authorization server that issues tokens for this
    /// resource.
    #[must_use]
    pub fn authorization_server(mut self, issuer: impl Into<String>) -> Self {
        self.authorization_servers.push(issuer.into());
        self
    }

    /// Adds a scope this resource understands (listed in `scopes_supported`, and asked for
    /// in a challenge when an operation names no scope of its own).
    #[must_use]
    pub fn scope(mut self, scope: Scope) -> Self {
        if !self.scopes_supported.contains(&scope) {
            self.scopes_supported.push(scope);
        }
        self
    }

    /// Sets `authorization_details_types_supported` (by default, the layer fills it from
    /// [`PolicyStore::detail_types`](valet::PolicyStore::detail_types)).
    #[must_use]
    pub fn detail_types<I: IntoIterator<Item = S>, S: Into<String>>(mut self, types: I) -> Self {
        self.detail_types = Some(types.into_iter().map(Into::into).collect());
        self
    }

    /// Sets the human-readable `resource_name`.
    #[must_use]
    pub fn resource_name(mut self, name: impl Into<String>) -> Self {
        self.resource_name = Some(name.into());
        self
    }

    /// Sets `resource_documentation`, a URL of documentation for developers.
    #[must_use]
    pub fn resource_documentation(mut self, url: impl Into<String>) -> Self {
        self.resource_documentation = Some(url.into());
        self
    }

    /// The resource URI, as every token's audience must name it.
    pub fn audience(&self) -> &Audience {
        &self.resource
    }

    /// The scopes listed in `scopes_supported`.
    pub fn scopes_supported(&self) -> &[Scope] {
        &self.scopes_supported
    }

    /// The metadata URL of RFC 9728 section 3.1: the well-known suffix inserted between
    /// the host and the path, so `https://tools.example.com/mcp` gives
    /// `https://tools.example.com/.well-known/oauth-protected-resource/mcp`. This is the
    /// `resource_metadata` of every challenge.
    pub fn metadata_url(&self) -> String {
        format!("{}{}", self.origin, self.metadata_path())
    }

    /// The path of [`metadata_url`](Self::metadata_url) on this server (with the query,
    /// if the resource URI has one).
    pub fn metadata_path(&self) -> String {
        format!("{WELL_KNOWN_PATH}{}", self.path_and_query)
    }

    /// Both paths the metadata is served at: the path-inserted one and the bare
    /// [`WELL_KNOWN_PATH`] (the same when the resource URI has no path).
    pub fn metadata_paths(&self) -> Vec<String> {
        let inserted = self.metadata_path();
        let path = inserted
            .split('?')
            .next()
            .unwrap_or(WELL_KNOWN_PATH)
            .to_owned();
        if path == WELL_KNOWN_PATH {
            vec![path]
        } else {
            vec![path, WELL_KNOWN_PATH.to_owned()]
        }
    }

    /// The metadata document. Empty members are left out.
    pub fn metadata(&self) -> ProtectedResourceMetadata {
        ProtectedResourceMetadata {
            resource: self.resource.as_str().to_owned(),
            authorization_servers: self.authorization_servers.clone(),
            scopes_supported: self
                .scopes_supported
                .iter()
                .map(|s| s.as_str().to_owned())
                .collect(),
            bearer_methods_supported: vec!["header".to_owned()],
            authorization_details_types_supported: self.detail_types.clone().unwrap_or_default(),
            resource_name: self.resource_name.clone(),
            resource_documentation: self.resource_documentation.clone(),
        }
    }

    /// A tower service answering `GET` (and `HEAD`) with the metadata document, for any
    /// path: mount it at each of [`metadata_paths`](Self::metadata_paths) when the layer
    /// does not see those paths (for instance with axum's `route_service`).
    pub fn metadata_service(&self) -> MetadataService {
        MetadataService {
            body: self.metadata().to_bytes(),
        }
    }

    pub(crate) fn with_default_detail_types(mut self, types: Vec<String>) -> Self {
        if self.detail_types.is_none() {
            self.detail_types = Some(types);
        }
        self
    }
}

/// The RFC 9728 metadata document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProtectedResourceMetadata {
    /// The resource identifier: equal to the URI the metadata URL was built from.
    pub resource: String,
    /// Issuer identifiers of the authorization servers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub authorization_servers: Vec<String>,
    /// Scopes used to ask for access to this resource.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scopes_supported: Vec<String>,
    /// Always `["header"]`: the token is accepted in the `Authorization` header only.
    pub bearer_methods_supported: Vec<String>,
    /// The RFC 9396 `type` values this resource judges.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub authorization_details_types_supported: Vec<String>,
    /// A human-readable name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_name: Option<String>,
    /// Documentation for developers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_documentation: Option<String>,
}

impl ProtectedResourceMetadata {
    /// The document as JSON bytes.
    pub fn to_bytes(&self) -> Bytes {
        Bytes::from(serde_json::to_vec(self).unwrap_or_default())
    }
}

/// Serves the metadata document; see [`ProtectedResource::metadata_service`].
#[derive(Clone, Debug)]
pub struct MetadataService {
    body: Bytes,
}

impl MetadataService {
    pub(crate) fn respond<B: From<Bytes>>(&self, method: &Method) -> http::Response<B> {
        metadata_response(&self.body, method)
    }
}

pub(crate) fn metadata_response<B: From<Bytes>>(
    body: &Bytes,
    method: &Method,
) -> http::Response<B> {
    let mut response = if method == Method::GET || method == Method::HEAD {
        let mut r = http::Response::new(B::from(if method == Method::GET {
            body.clone()
        } else {
            Bytes::new()
        }));
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        r
    } else {
        let mut r = http::Response::new(B::from(Bytes::new()));
        *r.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        r
    };
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}

impl<ReqBody> tower_service::Service<http::Request<ReqBody>> for MetadataService {
    type Response = http::Response<http_body_util::Full<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        ready(Ok(self.respond(request.method())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_url_inserts_the_well_known_suffix_before_the_path() {
        let r = ProtectedResource::new("https://tools.example.com/mcp").unwrap();
        assert_eq!(
            r.metadata_url(),
            "https://tools.example.com/.well-known/oauth-protected-resource/mcp"
        );
        assert_eq!(
            r.metadata_paths(),
            [
                "/.well-known/oauth-protected-resource/mcp",
                "/.well-known/oauth-protected-resource"
            ]
        );
        let r = ProtectedResource::new("https://tools.example.com/").unwrap();
        assert_eq!(
            r.metadata_url(),
            "https://tools.example.com/.well-known/oauth-protected-resource"
        );
        assert_eq!(
            r.metadata_paths(),
            ["/.well-known/oauth-protected-resource"]
        );
        let r = ProtectedResource::new("http://127.0.0.1:8080").unwrap();
        assert_eq!(
            r.metadata_url(),
            "http://127.0.0.1:8080/.well-known/oauth-protected-resource"
        );
    }

    #[test]
    fn resource_must_be_an_http_uri_with_a_host() {
        for bad in [
            "urn:x",
            "https://",
            "https:///mcp",
            "https://u@h/",
            "https://h/#f",
        ] {
            assert!(ProtectedResource::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn empty_members_are_left_out() {
        let r = ProtectedResource::new("https://tools.example.com/mcp").unwrap();
        assert_eq!(
            serde_json::to_value(r.metadata()).unwrap(),
            serde_json::json!({
                "resource": "https://tools.example.com/mcp",
                "bearer_methods_supported": ["header"],
            })
        );
    }
}
