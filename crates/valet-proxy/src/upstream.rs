//! Where requests go: the upstream URL, and how a request's path under the resource maps
//! onto it.

use http::uri::{Authority, PathAndQuery, Scheme};
use http::{HeaderValue, Uri};

/// The upstream server: an `http://` URL whose path stands for the resource's path.
#[derive(Clone, Debug)]
pub(crate) struct Upstream {
    written: String,
    authority: Authority,
    host: HeaderValue,
    /// The URL's path without a final `/` (empty for the root).
    path: String,
}

impl Upstream {
    /// Reads the `upstream` value; the error says what is wrong and what to write.
    pub fn parse(text: &str) -> Result<Upstream, String> {
        let example = "write the upstream server's URL, like `http://127.0.0.1:9000/mcp`";
        let uri: Uri = text
            .parse()
            .map_err(|_| format!("`{text}` is not a URL: {example}"))?;
        match uri.scheme() {
            Some(s) if *s == Scheme::HTTP => {}
            Some(s) if *s == Scheme::HTTPS => {
                return Err(format!(
                    "`{text}` is an `https` URL, and this proxy forwards over plain HTTP only: serve the upstream on `http://` on loopback or a private network"
                ))
            }
            _ => return Err(format!("`{text}` is not an `http://` URL: {example}")),
        }
        let authority = uri
            .authority()
            .filter(|a| !a.host().is_empty())
            .ok_or_else(|| format!("`{text}` has no host: {example}"))?
            .clone();
        if authority.as_str().contains('@') {
            return Err(format!(
                "`{text}` holds user information: remove it (the proxy does not send credentials upstream)"
            ));
        }
        if uri.query().is_some() {
            return Err(format!(
                "`{text}` has a query: remove it (each request's own query is forwarded)"
            ));
        }
        let host = HeaderValue::from_str(authority.as_str())
            .map_err(|_| format!("`{text}` has a host that cannot be sent: {example}"))?;
        Ok(Upstream {
            written: text.to_owned(),
            authority,
            host,
            path: uri.path().trim_end_matches('/').to_owned(),
        })
    }

    /// The URL as written.
    pub fn as_str(&self) -> &str {
        &self.written
    }

    /// The `Host` header the upstream is sent.
    pub fn host(&self) -> &HeaderValue {
        &self.host
    }

    /// The upstream URI for a request whose path under the resource is `rest` (empty, or
    /// starting with `/`), with the request's `query`.
    pub fn uri(&self, rest: &str, query: Option<&str>) -> Result<Uri, http::Error> {
        let mut path = format!("{}{rest}", self.path);
        if path.is_empty() {
            path.push('/');
        }
        if let Some(q) = query {
            path.push('?');
            path.push_str(q);
        }
        Uri::builder()
            .scheme(Scheme::HTTP)
            .authority(self.authority.clone())
            .path_and_query(PathAndQuery::try_from(path)?)
            .build()
    }
}

/// The paths the proxy forwards: the resource URI's path and the paths below it.
#[derive(Clone, Debug)]
pub(crate) struct Route {
    /// The resource's path without a final `/` (empty for the root).
    prefix: String,
}

impl Route {
    /// The route of the resource URI `resource` (already checked to be an absolute
    /// `http(s)` URI).
    pub fn of(resource: &str) -> Route {
        let path = resource
            .parse::<Uri>()
            .map(|u| u.path().to_owned())
            .unwrap_or_default();
        Route {
            prefix: path.trim_end_matches('/').to_owned(),
        }
    }

    /// The resource's path, as a request names it.
    pub fn path(&self) -> &str {
        if self.prefix.is_empty() {
            "/"
        } else {
            &self.prefix
        }
    }

    /// The part of `path` below the resource (empty, or starting with `/`), or `None`
    /// when `path` is not the resource's path or under it.
    pub fn rest<'a>(&self, path: &'a str) -> Option<&'a str> {
        let rest = path.strip_prefix(self.prefix.as_str())?;
        if rest.is_empty() || rest.starts_with('/') {
            Some(rest)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_urls_are_plain_http_with_a_host() {
        let u = Upstream::parse("http://127.0.0.1:9000/mcp").unwrap();
        assert_eq!(u.host(), "127.0.0.1:9000");
        assert_eq!(
            u.uri("", Some("a=1")).unwrap().to_string(),
            "http://127.0.0.1:9000/mcp?a=1"
        );
        assert_eq!(
            u.uri("/x", None).unwrap().to_string(),
            "http://127.0.0.1:9000/mcp/x"
        );
        let root = Upstream::parse("http://localhost:9000/").unwrap();
        assert_eq!(
            root.uri("", None).unwrap().to_string(),
            "http://localhost:9000/"
        );
        assert_eq!(
            root.uri("/mcp", None).unwrap().to_string(),
            "http://localhost:9000/mcp"
        );
        for bad in [
            "https://h/mcp",
            "ftp://h/",
            "127.0.0.1:9000",
            "/mcp",
            "http://u:p@h/",
            "http://h/?q=1",
            "not a url",
        ] {
            assert!(Upstream::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_route_is_the_resource_path_and_below() {
        let r = Route::of("https://tools.example.com/mcp");
        assert_eq!(r.rest("/mcp"), Some(""));
        assert_eq!(r.rest("/mcp/sse"), Some("/sse"));
        assert_eq!(r.rest("/mcpx"), None);
        assert_eq!(r.rest("/"), None);
        let root = Route::of("https://tools.example.com");
        assert_eq!(root.rest("/"), Some("/"));
        assert_eq!(root.rest("/anything"), Some("/anything"));
        assert_eq!(root.path(), "/");
    }
}
