//! The body of every answer: bytes the proxy wrote (a refusal, the metadata, a gateway
//! error), or the upstream's body passed through frame by frame as it arrives, never
//! buffered, until the request's deadline.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tokio::time::{Instant, Sleep};

/// The error a body ends with.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// An answer's body.
#[derive(Debug)]
pub struct ResponseBody {
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Bytes(Option<Bytes>),
    Upstream {
        body: Incoming,
        deadline: Pin<Box<Sleep>>,
    },
}

/// The whole-request time limit passed while the upstream's body was being passed on.
#[derive(Debug, thiserror::Error)]
#[error("the upstream response outlasted the proxy's whole-request time limit (`timeouts.request`), so it was cut off")]
pub struct Deadline;

impl ResponseBody {
    /// The upstream's body, passed on until `deadline`.
    pub(crate) fn upstream(body: Incoming, deadline: Instant) -> Self {
        ResponseBody {
            kind: Kind::Upstream {
                body,
                deadline: Box::pin(tokio::time::sleep_until(deadline)),
            },
        }
    }
}

impl From<Bytes> for ResponseBody {
    fn from(bytes: Bytes) -> Self {
        ResponseBody {
            kind: Kind::Bytes((!bytes.is_empty()).then_some(bytes)),
        }
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match &mut self.get_mut().kind {
            Kind::Bytes(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Kind::Upstream { body, deadline } => {
                if deadline.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Some(Err(Box::new(Deadline))));
                }
                Pin::new(body).poll_frame(cx).map_err(Into::into)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Bytes(bytes) => bytes.is_none(),
            Kind::Upstream { body, .. } => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Bytes(Some(b)) => SizeHint::with_exact(b.len() as u64),
            Kind::Bytes(None) => SizeHint::with_exact(0),
            Kind::Upstream { body, .. } => body.size_hint(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn bytes_are_one_frame() {
        let body = ResponseBody::from(Bytes::from_static(b"{}"));
        assert_eq!(body.size_hint().exact(), Some(2));
        let collected = body.collect().await.map(|c| c.to_bytes()).ok();
        assert_eq!(collected.as_deref(), Some(&b"{}"[..]));
        assert!(ResponseBody::from(Bytes::new()).is_end_stream());
    }
}
