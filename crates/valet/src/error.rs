//! Errors of the front crate: failures to set up or to store, never a refusal.

/// A failure to build an authorizer or to use one of its stores.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The policy directory did not load.
    #[error(transparent)]
    Policy(#[from] valet_policy::PolicyError),
    /// A token could not be built or read.
    #[error(transparent)]
    Token(#[from] valet_token::TokenError),
    /// A key could not be read.
    #[error(transparent)]
    Key(#[from] valet_token::KeyError),
    /// A request could not be read.
    #[error(transparent)]
    Request(#[from] valet_token::RequestError),
    /// A revocation list is malformed.
    #[error("{0}")]
    Revocation(String),
    /// A configured limit was reached.
    #[error("{0}")]
    Limit(String),
    /// A store is in an unusable state.
    #[error("{0}")]
    Internal(String),
}
