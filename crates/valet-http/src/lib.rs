#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod challenge;
mod error;
mod extract;
mod json;
mod layer;
mod mcp;
mod presented;
mod remediation;
mod resource;
mod routing;

pub use challenge::is_invalid_token;
pub use error::{
    ConfigError, ExtractError, HeaderError, JSONRPC_HEADER_MISMATCH, JSONRPC_INVALID_REQUEST,
};
pub use extract::{Extractor, Operation};
pub use layer::{
    Admission, Authorized, Execution, ValetLayer, ValetLayerBuilder, ValetService,
    CREDENTIAL_HEADERS, DEFAULT_MAX_BODY_BYTES,
};
pub use mcp::{McpTools, NOTIFICATION_PREFIX, TOKEN_ONLY_METHODS};
pub use presented::{
    approval_header_value, proof_header_value, read_presentation, APPROVAL_HEADER, MAX_APPROVALS,
    PROOF_HEADER,
};
pub use resource::{
    MetadataService, ProtectedResource, ProtectedResourceMetadata, WELL_KNOWN_PATH,
};
pub use routing::{MCP_METHOD_HEADER, MCP_NAME_HEADER};
