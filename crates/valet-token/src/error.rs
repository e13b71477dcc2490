//! Errors of the token layer. A refused request is not an error: it is a
//! `Verdict::Denied` value. Errors are for bad input, bad keys and I/O.

use crate::keys::KeyId;

/// A request (audience, action, transaction details) that cannot be judged as given.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The request JSON does not parse.
    #[error("the request is not valid JSON: {0}")]
    Json(String),
    /// The request is structurally wrong.
    #[error("{0}")]
    Invalid(String),
    /// One transaction field, or a value nested in one, is wrong.
    #[error("transaction field `{field}` {problem}")]
    Field {
        /// The field's name, or the path of the value inside it (`trip.legs[2].from`).
        field: String,
        /// What is wrong with it.
        problem: String,
    },
    /// Too many transaction fields.
    #[error("the transaction has {count} fields, more than the limit of {max}")]
    TooManyFields {
        /// How many were sent.
        count: usize,
        /// The configured limit.
        max: usize,
    },
    /// A transaction field nests more arrays and objects one inside another than
    /// [`MAX_DETAIL_DEPTH`](crate::details::MAX_DETAIL_DEPTH).
    #[error("transaction field `{path}` is nested more than {max} arrays and objects deep: send a flatter value, or move the inner part to a field of its own")]
    FieldTooDeep {
        /// The path of the first value nested too deep (`trip.legs[2].stops`).
        path: String,
        /// The limit.
        max: usize,
    },
    /// The transaction carries more values than allowed, counting every field's value and
    /// every item and member nested in it.
    #[error("the transaction carries more than {max} values, counting every item of its arrays and every member of its objects (`{path}` is one too many): send fewer values, or split the transaction")]
    TooManyValues {
        /// The path of the first value over the limit (`items[1023]`).
        path: String,
        /// The configured limit.
        max: usize,
    },
    /// The request JSON is larger than allowed.
    #[error("the request is {size} bytes, more than the limit of {max}")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The configured limit.
        max: usize,
    },
    /// The request JSON nests deeper than allowed.
    #[error("the request JSON nests deeper than {max} levels")]
    TooDeep {
        /// The configured limit.
        max: usize,
    },
}

/// An error in building, reading or attenuating a token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The bytes or text are not a token.
    #[error("not a valet token: {0}")]
    Format(String),
    /// The token is bigger than the verifier's limit: it is refused unread
    /// (`Verifier::read_token`).
    #[error("the token is {size} bytes, more than the limit of {max}")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The configured limit.
        max: usize,
    },
    /// A required claim was not given to the mint builder.
    #[error("cannot mint a token without {0}")]
    Missing(&'static str),
    /// A root token was asked for with no holder key and without the bearer opt-in.
    #[error("cannot mint a token bound to no holder key: bind the token to the agent's key with `TokenBuilder::holder`, or mint a bearer token, which anyone holding a copy can use, through `valet_token::danger`")]
    NoHolder,
    /// A value given to a builder is not acceptable.
    #[error("{0}")]
    Invalid(String),
    /// The requested lifetime exceeds the issuer's maximum.
    #[error("a lifetime of {requested_secs}s is longer than the issuer's maximum of {max_secs}s: ask for a shorter one")]
    LifetimeTooLong {
        /// What was asked, in seconds.
        requested_secs: u64,
        /// The issuer's maximum, in seconds.
        max_secs: u64,
    },
    /// An attenuation would widen what the parent token allows.
    #[error("attenuation refused: {0}")]
    Widening(String),
    /// The token names a key that the key set does not hold.
    #[error("the token was signed by key id {0}, which this verifier does not trust: add that public key to the key set, or mint a new token with a trusted key")]
    UnknownKey(KeyId),
    /// A signature does not verify.
    #[error("the token's signature does not verify: it was altered or signed by another key")]
    Signature,
    /// A Datalog check written by hand does not parse.
    #[error("invalid Datalog: {0}")]
    Datalog(String),
    /// A proof of possession or an approval could not be written as JSON.
    #[error("cannot write the {what} as JSON: {reason}")]
    Json {
        /// What was being written.
        what: &'static str,
        /// Why it failed.
        reason: String,
    },
    /// The operating system's random generator failed, so no nonce could be drawn.
    #[error("the operating system's random generator failed: {0}")]
    Random(String),
}
