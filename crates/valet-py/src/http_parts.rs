//! The head of an HTTP request (method, URI, headers) read from Python values, as the
//! Rust layer sees it.

use http::header::{HeaderName, HeaderValue};
use http::request::Parts;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PySequence, PyString};

use crate::convert::mapping_items;
use crate::errors::RequestError;

/// The bytes of a header name or value given as `str` or `bytes`.
fn header_bytes(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<u8>> {
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(s.to_str()?.as_bytes().to_vec());
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(b.as_bytes().to_vec());
    }
    Err(PyTypeError::new_err(format!(
        "a header {what} must be str or bytes, not {}",
        obj.get_type().name()?
    )))
}

/// A `(name, value)` pair: a tuple, or another sequence of two items (an ASGI server may
/// give `[name, value]` lists).
fn pair<'py>(item: &Bound<'py, PyAny>) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let not_a_pair =
        || PyTypeError::new_err("`headers` must be a mapping or a list of (name, value) pairs");
    if item.is_instance_of::<PyString>() || item.is_instance_of::<PyBytes>() {
        return Err(not_a_pair());
    }
    let seq = item.cast::<PySequence>().map_err(|_| not_a_pair())?;
    if seq.len()? != 2 {
        return Err(not_a_pair());
    }
    Ok((seq.get_item(0)?, seq.get_item(1)?))
}

/// Reads headers: a mapping of names to values, or an iterable of `(name, value)` pairs
/// (as an ASGI scope holds them, where a name may repeat); names and values as `str` or
/// `bytes`. A name or value HTTP does not allow raises `RequestError`.
pub(crate) fn header_map(obj: Option<&Bound<'_, PyAny>>) -> PyResult<http::HeaderMap> {
    let mut map = http::HeaderMap::new();
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(map);
    };
    let pairs = match mapping_items(obj)? {
        Some(items) => items,
        None => {
            if obj.is_instance_of::<PyString>() || obj.is_instance_of::<PyBytes>() {
                return Err(PyTypeError::new_err(
                    "`headers` must be a mapping or a list of (name, value) pairs",
                ));
            }
            let mut items = Vec::new();
            for item in obj.try_iter()? {
                items.push(pair(&item?)?);
            }
            items
        }
    };
    for (name, value) in pairs {
        let name = header_bytes(&name, "name")?;
        let value = header_bytes(&value, "value")?;
        let name = HeaderName::from_bytes(&name).map_err(|_| {
            RequestError::new_err(format!(
                "`{}` is not an HTTP header name",
                String::from_utf8_lossy(&name).escape_debug()
            ))
        })?;
        let value = HeaderValue::from_bytes(&value).map_err(|_| {
            RequestError::new_err(format!(
                "the value of header `{name}` is not an HTTP header value"
            ))
        })?;
        map.append(name, value);
    }
    Ok(map)
}

/// The request target of `path`, `str` or `bytes`: a path with its query, if any, as it
/// came on the request line (`/mcp`, `/mcp?x=1`). An invalid one raises `RequestError`.
pub(crate) fn target(path: &Bound<'_, PyAny>) -> PyResult<http::Uri> {
    let bytes = header_bytes(path, "path")
        .map_err(|_| PyTypeError::new_err("`path` must be str or bytes, like `/mcp`"))?;
    http::Uri::try_from(bytes.as_slice()).map_err(|_| {
        RequestError::new_err(format!(
            "`{}` is not a request target: give a path like `/mcp`",
            String::from_utf8_lossy(&bytes).escape_debug()
        ))
    })
}

/// The head of a request with this method, target and headers. An invalid method raises
/// `RequestError`.
pub(crate) fn parts(method: &str, target: http::Uri, headers: http::HeaderMap) -> PyResult<Parts> {
    let method = http::Method::from_bytes(method.as_bytes()).map_err(|_| {
        RequestError::new_err(format!("`{}` is not an HTTP method", method.escape_debug()))
    })?;
    let mut request = http::Request::new(());
    *request.method_mut() = method;
    *request.uri_mut() = target;
    *request.headers_mut() = headers;
    Ok(request.into_parts().0)
}
