//! Helpers shared by the integration tests.

pub mod docs;
pub mod random_policies;
