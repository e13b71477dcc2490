//! The native part of the `valet` Python package (`valet._native`): the Rust API of
//! [`valet`] with the same names, money kept exact (a Python `float` is refused where an
//! amount is read) and the GIL released while a decision is computed.
//!
//! Build it with `maturin develop` from `crates/valet-py`; see its README.

mod agent_keys;
mod authorizer;
mod convert;
mod entities;
mod errors;
mod gate;
mod holder;
mod http_parts;
mod keys;
mod mcp;
mod request;
mod stores;
mod tokens;

use pyo3::prelude::*;
use pyo3::types::PyTuple;

/// Valet: valet keys for AI agents, judged with the owner's Cedar policies.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    errors::register(m)?;
    m.add_class::<keys::RootKeyPair>()?;
    m.add_class::<keys::RootPublicKey>()?;
    m.add_class::<keys::KeySet>()?;
    m.add_class::<agent_keys::SigningKey>()?;
    m.add_class::<agent_keys::VerifyingKey>()?;
    m.add_class::<holder::HolderProof>()?;
    m.add_class::<holder::Approval>()?;
    m.add_class::<tokens::TokenBuilder>()?;
    m.add_class::<tokens::Issuer>()?;
    m.add_class::<tokens::Token>()?;
    m.add_class::<authorizer::FixedClock>()?;
    m.add_class::<request::Request>()?;
    m.add_class::<mcp::McpTools>()?;
    m.add_class::<gate::Gate>()?;
    m.add_class::<gate::GateAnswer>()?;
    m.add(
        "CREDENTIAL_HEADERS",
        PyTuple::new(m.py(), gate::credential_headers())?,
    )?;
    m.add_class::<authorizer::Decision>()?;
    m.add_class::<authorizer::Authorizer>()?;
    m.add_class::<authorizer::Verifier>()?;
    m.add_class::<authorizer::Verdict>()?;
    m.add_class::<stores::RedisStores>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
