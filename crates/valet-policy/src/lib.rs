//! Cedar policy layer of Valet.
