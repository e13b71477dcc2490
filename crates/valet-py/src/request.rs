//! Requests: what is being attempted, read once from its RFC 9396 dict shape.

use std::borrow::Cow;

use pyo3::prelude::*;
use pyo3::types::PyDict;
use valet::token::{self, Limits};

use crate::convert::{serialize_to_py, to_json};
use crate::errors::{convert_request_error, request_error};

/// What is being attempted, read once and reusable: `Request({"audience": ..., "action":
/// ..., "authorization_details": {...}, "scopes": [...]})`. Amounts as `str` or
/// `decimal.Decimal`; a `float` or a value of the wrong type raises `RequestError` naming
/// the field.
#[pyclass(module = "valet", frozen)]
pub struct Request {
    inner: token::Request,
}

impl Request {
    fn read(obj: &Bound<'_, PyAny>) -> PyResult<token::Request> {
        if !obj.is_instance_of::<PyDict>() && !obj.is_instance_of::<pyo3::types::PyMapping>() {
            return Err(crate::errors::RequestError::new_err(format!(
                "a request must be a dict (or another mapping) like {{\"audience\": ..., \"action\": ..., \"authorization_details\": {{...}}}}, not {}",
                obj.get_type().name()?
            )));
        }
        let json = to_json(obj, "").map_err(convert_request_error)?;
        token::Request::from_json_value(&json, &Limits::default()).map_err(request_error)
    }
}

impl From<token::Request> for Request {
    fn from(inner: token::Request) -> Self {
        Request { inner }
    }
}

/// The Rust request of a `Request`, borrowed, or read from its dict.
pub(crate) fn request_ref<'a>(obj: &'a Bound<'_, PyAny>) -> PyResult<Cow<'a, token::Request>> {
    match obj.cast::<Request>() {
        Ok(r) => Ok(Cow::Borrowed(&r.get().inner)),
        Err(_) => Request::read(obj).map(Cow::Owned),
    }
}

/// Reads a `Request` or its dict into a Rust request.
pub(crate) fn read_request(obj: &Bound<'_, PyAny>) -> PyResult<token::Request> {
    request_ref(obj).map(Cow::into_owned)
}

#[pymethods]
impl Request {
    /// Reads a request from its RFC 9396 dict shape.
    #[new]
    fn new(request: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(Request {
            inner: Self::read(request)?,
        })
    }

    /// The request as a dict.
    fn to_dict(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        serialize_to_py(py, &self.inner)
    }

    fn __repr__(&self) -> String {
        format!(
            "Request(audience='{}', action='{}')",
            self.inner.audience.as_str(),
            self.inner.action
        )
    }
}
