#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod audit;
mod body;
mod config;
mod duration;
mod error;
mod forward;
mod gateway;
mod headers;
mod proxy;
mod raw;
mod serve;
mod stores;
mod upstream;

pub use body::{BoxError, Deadline, ResponseBody};
pub use config::{
    AuditOutput, Config, RedisSettings, Timeouts, DEFAULT_LISTEN, DEFAULT_REDIS_KEY_PREFIX,
    DEFAULT_REDIS_TIMEOUT, MAX_BODY_BYTES_LIMIT, MAX_CONFIG_BYTES,
};
pub use error::{ConfigError, Location, Problem, ServeError, Severity};
pub use gateway::GatewayError;
pub use headers::{
    encode as encode_identity, AGENT_HEADER, CLIENT_HEADER, DELEGATES_HEADER, HOLDER_KEY_HEADER,
    SUBJECT_HEADER, VALET_HEADER_PREFIX,
};
pub use proxy::Proxy;
pub use serve::Listening;
