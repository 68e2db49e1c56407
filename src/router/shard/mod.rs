//! Sharding: statement analysis, sharding-key functions and the plans for sharded schemas.

pub mod keys;
pub mod plan;
