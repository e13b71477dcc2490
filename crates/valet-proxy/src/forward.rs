//! The service behind the layer: each allowed request sent to the upstream, with the
//! decision's identity in its headers, and the upstream's answer passed back as it comes.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{header, Request, Response, Version};
use http_body_util::Full;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio::time::Instant;
use valet_http::Authorized;

use crate::body::ResponseBody;
use crate::gateway::GatewayError;
use crate::headers;
use crate::upstream::{Route, Upstream};

/// What the server knows of a request before the layer sees it, for the forwarder: when
/// the whole exchange must end, and who sent it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Exchange {
    pub deadline: Instant,
    pub peer: SocketAddr,
}

/// Sends allowed requests upstream. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Forward {
    shared: Arc<Shared>,
}

struct Shared {
    client: Client<HttpConnector, Full<Bytes>>,
    upstream: Upstream,
    route: Route,
    response_headers: Duration,
}

impl Forward {
    pub fn new(
        upstream: Upstream,
        route: Route,
        connect: Duration,
        response_headers: Duration,
    ) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(connect));
        connector.set_nodelay(true);
        connector.enforce_http(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build(connector);
        Forward {
            shared: Arc::new(Shared {
                client,
                upstream,
                route,
                response_headers,
            }),
        }
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl tower_service::Service<Request<Full<Bytes>>> for Forward {
    type Response = Response<ResponseBody>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Response<ResponseBody>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Full<Bytes>>) -> Self::Future {
        let shared = self.shared.clone();
        Box::pin(async move {
            Ok(shared
                .forward(request)
                .await
                .unwrap_or_else(GatewayError::into_response))
        })
    }
}

impl Shared {
    async fn forward(
        &self,
        request: Request<Full<Bytes>>,
    ) -> Result<Response<ResponseBody>, GatewayError> {
        let (mut parts, body) = request.into_parts();
        // Both are put there before the layer runs, and the layer passes only allowed
        // requests, with the decision: without them nothing is forwarded.
        let authorized = parts
            .extensions
            .remove::<Authorized>()
            .ok_or(GatewayError::Internal)?;
        let exchange = parts
            .extensions
            .remove::<Exchange>()
            .ok_or(GatewayError::Internal)?;
        let rest = self
            .route
            .rest(parts.uri.path())
            .ok_or(GatewayError::Internal)?;
        let uri = self
            .upstream
            .uri(rest, parts.uri.query())
            .map_err(|_| GatewayError::Internal)?;
        headers::forward_request(
            &mut parts.headers,
            &authorized,
            self.upstream.host(),
            Some(exchange.peer.ip()),
        );
        // The body was read whole by the layer: its length is sent as the body's own.
        parts.headers.remove(header::CONTENT_LENGTH);
        parts.uri = uri;
        parts.version = Version::HTTP_11;
        let request = Request::from_parts(parts, body);
        let wait = exchange
            .deadline
            .min(Instant::now() + self.response_headers);
        let response = match tokio::time::timeout_at(wait, self.client.request(request)).await {
            Err(_) => {
                eprintln!(
                    "valet proxy: the upstream {} sent no response headers in time",
                    self.upstream.as_str()
                );
                return Err(GatewayError::GatewayTimeout);
            }
            Ok(Err(e)) => {
                let timed_out = chain(&e).any(|s| {
                    s.downcast_ref::<std::io::Error>()
                        .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
                });
                eprintln!(
                    "valet proxy: the upstream {} failed: {}",
                    self.upstream.as_str(),
                    chain(&e)
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(": ")
                );
                return Err(if timed_out {
                    GatewayError::GatewayTimeout
                } else {
                    GatewayError::BadGateway
                });
            }
            Ok(Ok(r)) => r,
        };
        let (mut parts, body) = response.into_parts();
        headers::remove_hop_by_hop(&mut parts.headers);
        Ok(Response::from_parts(
            parts,
            ResponseBody::upstream(body, exchange.deadline),
        ))
    }
}

/// An error and its sources, outermost first.
fn chain<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(e), |e| e.source())
}
