//! Listening and serving: every connection over HTTP/1.1 with hyper, each request judged
//! by the layer and forwarded, and a graceful shutdown that stops accepting and lets the
//! requests in flight finish, up to a deadline.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tower_layer::Layer;
use valet_http::ValetService;

use crate::body::ResponseBody;
use crate::error::ServeError;
use crate::forward::{Exchange, Forward};
use crate::gateway::GatewayError;
use crate::proxy::Proxy;
use crate::upstream::{Route, Upstream};

/// How long a client may take to send a request's headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// A proxy bound to its address, not yet serving.
pub struct Listening {
    listener: TcpListener,
    addr: SocketAddr,
    app: Arc<App>,
    shutdown: Duration,
    status: String,
}

impl std::fmt::Debug for Listening {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listening")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// What every request goes through.
struct App {
    service: ValetService<Forward>,
    route: Route,
    metadata_paths: Vec<String>,
    request_timeout: Duration,
}

impl Proxy {
    /// Binds the listen address.
    pub async fn bind(self) -> Result<Listening, ServeError> {
        let addr = self.config.listen;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| ServeError::Bind { addr, source })?;
        let config = &self.config;
        let timeouts = config.timeouts;
        let resource = self.layer.resource();
        let route = Route::of(resource.audience().as_str());
        let upstream: Upstream = config.upstream.clone();
        let status = format!(
            "valet proxy listening on http://{addr}, forwarding to {}, for resource {}",
            upstream.as_str(),
            resource.audience().as_str()
        );
        let forward = Forward::new(
            upstream,
            route.clone(),
            timeouts.connect,
            timeouts.response_headers,
        );
        let app = App {
            service: self.layer.layer(forward),
            route,
            metadata_paths: resource.metadata_paths(),
            request_timeout: timeouts.request,
        };
        Ok(Listening {
            listener,
            addr,
            app: Arc::new(app),
            shutdown: timeouts.shutdown,
            status,
        })
    }

    /// Runs the proxy on a runtime of its own until SIGTERM or Ctrl-C, then shuts down
    /// gracefully. `on_listening` is called once the address is bound (to print
    /// [`Listening::status_line`]).
    pub fn run_until_signal(self, on_listening: impl FnOnce(&Listening)) -> Result<(), ServeError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(ServeError::Runtime)?;
        runtime.block_on(async move {
            let listening = self.bind().await?;
            let signal = shutdown_signal().map_err(ServeError::Runtime)?;
            on_listening(&listening);
            listening.serve(signal).await;
            Ok(())
        })
    }
}

impl Listening {
    /// The address bound (with the port chosen, for a listen address of port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// One line saying where the proxy listens, where it forwards and for which resource.
    pub fn status_line(&self) -> &str {
        &self.status
    }

    /// Serves until `shutdown` completes; then stops accepting, lets the requests in
    /// flight finish (closing idle connections) for up to `timeouts.shutdown`, and
    /// closes whatever is still open.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) {
        let graceful = GracefulShutdown::new();
        let mut connections = JoinSet::new();
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        while connections.try_join_next().is_some() {}
                        let app = self.app.clone();
                        let service = hyper::service::service_fn(move |request| {
                            let app = app.clone();
                            async move { Ok::<_, Infallible>(app.handle(request, peer).await) }
                        });
                        let connection = http1::Builder::new()
                            .timer(TokioTimer::new())
                            .header_read_timeout(HEADER_READ_TIMEOUT)
                            .serve_connection(TokioIo::new(stream), service);
                        let connection = graceful.watch(connection);
                        connections.spawn(async move {
                            // A connection's errors (a client gone, a bad request line)
                            // concern that client only.
                            let _ = connection.await;
                        });
                    }
                    Err(e) => {
                        // Out of file descriptors, or the like: wait, then accept again.
                        eprintln!("valet proxy: cannot accept a connection: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
                () = &mut shutdown => break,
            }
        }
        drop(self.listener);
        if tokio::time::timeout(self.shutdown, graceful.shutdown())
            .await
            .is_err()
        {
            eprintln!(
                "valet proxy: requests still in flight after {} ms of shutdown: closing their connections",
                self.shutdown.as_millis()
            );
            connections.abort_all();
        }
        while connections.join_next().await.is_some() {}
    }
}

impl App {
    async fn handle(
        &self,
        mut request: http::Request<Incoming>,
        peer: SocketAddr,
    ) -> http::Response<ResponseBody> {
        let deadline = Instant::now() + self.request_timeout;
        let path = request.uri().path();
        if !self.metadata_paths.iter().any(|p| p == path) && self.route.rest(path).is_none() {
            return GatewayError::NotFound(self.route.path().to_owned()).into_response();
        }
        request.extensions_mut().insert(Exchange { deadline, peer });
        let mut service = self.service.clone();
        let answer = async move {
            std::future::poll_fn(|cx| {
                tower_service::Service::<http::Request<Incoming>>::poll_ready(&mut service, cx)
            })
            .await?;
            tower_service::Service::<http::Request<Incoming>>::call(&mut service, request).await
        };
        // The forwarder ends its own wait at the same deadline with `504`: this one
        // answers only while the layer is still reading the request.
        match tokio::time::timeout_at(deadline, answer).await {
            Ok(Ok(response)) => response,
            Ok(Err(never)) => match never {},
            Err(_) => GatewayError::RequestTimeout.into_response(),
        }
    }
}

/// Completes on SIGTERM or Ctrl-C (SIGINT).
fn shutdown_signal() -> std::io::Result<impl Future<Output = ()>> {
    #[cfg(unix)]
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = terminate.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    })
}
