pub mod details;
mod error;
pub use error::{KeyError, RequestError, TokenError};
/// Key id placeholder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub u32);
impl std::fmt::Display for KeyId { fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { write!(f, "{}", self.0) } }
