//! Sharding: statement analysis, sharding-key functions and the plans for sharded schemas.

pub mod analyze;
pub mod cache;
pub mod error;
pub mod keys;
pub mod normalize;
pub mod plan;
#[cfg(test)]
mod review_tests;
pub mod route;
#[cfg(test)]
pub(crate) mod tests;
pub mod text;
pub mod uservars;
