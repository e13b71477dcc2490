//! The exception classes: one base, `ValetError`, with a subclass per kind of Rust error.
//! A refused request is never an exception: it is a returned `Decision`.

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::PyList;
use valet::token::{KeyError, RequestError as RustRequestError, TokenError as RustTokenError};

use crate::convert::{serialize_to_py, ConvertError};

create_exception!(
    valet,
    ValetError,
    PyException,
    "The base class of every error Valet raises. A refused request is not an error: it is a returned `Decision`."
);
create_exception!(
    valet,
    TokenError,
    ValetError,
    "A token could not be built, read or attenuated."
);
create_exception!(
    valet,
    TokenFormatError,
    TokenError,
    "The bytes or text are not a valet token, or are over the size or block limits."
);
create_exception!(
    valet,
    SignatureError,
    TokenError,
    "A token's signature does not verify: it was altered or signed by another key."
);
create_exception!(
    valet,
    WideningError,
    TokenError,
    "An attenuation was refused because it would widen what the parent token allows."
);
create_exception!(
    valet,
    ProofError,
    TokenError,
    "A proof of possession or a signed approval could not be signed or read (bad JSON, bad nonce, a line break in a signed field). A proof or approval that does not verify is not an error: the decision says why."
);
create_exception!(
    valet,
    PolicyError,
    ValetError,
    "A policy directory could not be loaded. `diagnostics` lists each problem as a dict with `file`, `line`, `column`, `severity` and `message`."
);
create_exception!(
    valet,
    EntityError,
    ValetError,
    "Entity data given to an `Authorizer` (its `entities` list) does not fit the policies' schema or is not in Cedar's entity JSON shape. Entity data an `entities` callable gives for a request is not an error: if it does not fit, that request is denied and the decision says why."
);
create_exception!(
    valet,
    RequestError,
    ValetError,
    "A request or its transaction details cannot be judged as given (wrong type, float amount, missing field)."
);
create_exception!(
    valet,
    RedisError,
    ValetError,
    "The stores shared by replicas cannot be set up as given: a URL that is not a Redis URL, an option that cannot be used, or a background reader that cannot start. Redis being down is not an error: decisions that need it are denied, and say so."
);
create_exception!(
    valet,
    ValetKeyError,
    ValetError,
    "A key could not be read, written or found (bad key text, file permissions, unknown key id)."
);

/// The Python exception of a token-layer error.
pub(crate) fn token_error(e: RustTokenError) -> PyErr {
    let message = e.to_string();
    match e {
        RustTokenError::Format(_) | RustTokenError::TooLarge { .. } => {
            TokenFormatError::new_err(message)
        }
        RustTokenError::Signature => SignatureError::new_err(message),
        RustTokenError::Widening(_) => WideningError::new_err(message),
        RustTokenError::UnknownKey(_) => ValetKeyError::new_err(message),
        // The Rust message names the Rust API: say it in Python's words.
        RustTokenError::NoHolder => TokenError::new_err(
            "cannot mint a token bound to no holder key: bind the token to the agent's key with `TokenBuilder(..., holder=agent_key.public())`, or mint a bearer token, which anyone holding a copy can use, with `TokenBuilder(..., bearer=True)`",
        ),
        _ => TokenError::new_err(message),
    }
}

/// The Python exception of an error signing or reading a proof of possession or an
/// approval.
pub(crate) fn proof_error(e: RustTokenError) -> PyErr {
    match e {
        RustTokenError::Invalid(m) => ProofError::new_err(m),
        other => token_error(other),
    }
}

/// The Python exception of a key error.
pub(crate) fn key_error(e: KeyError) -> PyErr {
    ValetKeyError::new_err(e.to_string())
}

/// A key the token crate read (from text or a file) as its Python class; a failure raises
/// `ValetKeyError`.
pub(crate) fn read_key<K, P: From<K>>(read: Result<K, KeyError>) -> PyResult<P> {
    read.map(P::from).map_err(key_error)
}

/// The Python exception of a request error.
pub(crate) fn request_error(e: RustRequestError) -> PyErr {
    RequestError::new_err(e.to_string())
}

/// The `RequestError` of a Python value that cannot become JSON.
pub(crate) fn convert_request_error(e: ConvertError) -> PyErr {
    RequestError::new_err(e.to_string())
}

/// The Python exception of a policy error, with its `diagnostics`.
pub(crate) fn policy_error(py: Python<'_>, e: &valet::PolicyError) -> PyErr {
    let err = PolicyError::new_err(e.to_string());
    let diagnostics = serialize_to_py(py, &e.diagnostics())
        .unwrap_or_else(|_| PyList::empty(py).into_any().unbind());
    // Setting an attribute on a fresh exception instance does not fail in practice; if it
    // did, the message still carries every diagnostic.
    let _ = err.value(py).setattr("diagnostics", diagnostics);
    err
}

/// The Python exception of an error of the front crate.
pub(crate) fn valet_error(py: Python<'_>, e: valet::Error) -> PyErr {
    match e {
        valet::Error::Policy(p) => policy_error(py, &p),
        valet::Error::Token(t) => token_error(t),
        valet::Error::Key(k) => key_error(k),
        valet::Error::Request(r) => request_error(r),
        other => ValetError::new_err(other.to_string()),
    }
}

/// Adds the exception classes to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("ValetError", py.get_type::<ValetError>())?;
    m.add("TokenError", py.get_type::<TokenError>())?;
    m.add("TokenFormatError", py.get_type::<TokenFormatError>())?;
    m.add("SignatureError", py.get_type::<SignatureError>())?;
    m.add("WideningError", py.get_type::<WideningError>())?;
    m.add("ProofError", py.get_type::<ProofError>())?;
    m.add("PolicyError", py.get_type::<PolicyError>())?;
    m.add("EntityError", py.get_type::<EntityError>())?;
    m.add("RequestError", py.get_type::<RequestError>())?;
    m.add("RedisError", py.get_type::<RedisError>())?;
    m.add("ValetKeyError", py.get_type::<ValetKeyError>())?;
    Ok(())
}
