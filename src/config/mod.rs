//! Configuration: YAML types, loading with precise errors, validation.
//!
//! [`load`] / [`parse`] turn a YAML file into a validated [`Config`] with every default
//! applied; any problem is one [`ConfigError`] displayed as `<file>:<line>:<column>: <message>`.

mod error;
mod load;
mod metrics;
mod pool;
mod raw;
mod sharding;
mod split;
#[cfg(test)]
mod testutil;
mod types;
mod validate;
mod values;

pub use error::ConfigError;
pub use load::{MAX_CONFIG_FILE_BYTES, load, parse, read};
pub use types::*;
