//! The proxy's own answers, when it cannot pass a request on: each refusal one variant,
//! with its status and its JSON body, built in one place. (Refusals of the layer, `401`,
//! `403`, `400` and `413`, are the layer's own and are passed on unchanged.)

use bytes::Bytes;
use http::{header, HeaderValue, StatusCode};
use serde_json::json;

use crate::body::ResponseBody;

/// Why the proxy answered itself.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GatewayError {
    /// The path is neither the resource's, below it, nor the metadata's (`404`).
    #[error("this proxy serves the resource at `{0}` and its metadata only: send the request to that path")]
    NotFound(String),
    /// The upstream could not be reached, or its answer could not be read (`502`).
    #[error(
        "the upstream server could not be reached or gave no readable answer: try again later"
    )]
    BadGateway,
    /// The upstream did not connect, or did not answer, in time (`504`).
    #[error("the upstream server did not answer in time: try again later")]
    GatewayTimeout,
    /// The client did not send its request in time (`408`).
    #[error("the request was not received within the proxy's time limit: send it again, faster")]
    RequestTimeout,
    /// The proxy failed (`500`): nothing was forwarded.
    #[error("the proxy could not forward the request, so it is refused")]
    Internal,
}

impl GatewayError {
    /// The status answered.
    pub fn status(&self) -> StatusCode {
        match self {
            GatewayError::NotFound(_) => StatusCode::NOT_FOUND,
            GatewayError::BadGateway => StatusCode::BAD_GATEWAY,
            GatewayError::GatewayTimeout => StatusCode::GATEWAY_TIMEOUT,
            GatewayError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            GatewayError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The `error` member of the body.
    pub fn code(&self) -> &'static str {
        match self {
            GatewayError::NotFound(_) => "not_found",
            GatewayError::BadGateway => "bad_gateway",
            GatewayError::GatewayTimeout => "gateway_timeout",
            GatewayError::RequestTimeout => "request_timeout",
            GatewayError::Internal => "server_error",
        }
    }

    /// The answer: `{"error": CODE, "error_description": MESSAGE}`, `application/json`,
    /// `Cache-Control: no-store`.
    pub fn into_response(self) -> http::Response<ResponseBody> {
        let body = json!({"error": self.code(), "error_description": self.to_string()});
        let mut response = http::Response::new(ResponseBody::from(Bytes::from(body.to_string())));
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self == GatewayError::RequestTimeout {
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}
