//! Integration tests against a real MariaDB topology and the shardgate binary.
//!
//! `harness` brings the sandbox up (integration/sandbox.sh) and starts one proxy process per
//! test; every test uses its own tables in `shop`. Run with
//! `cargo test --test integration -- --test-threads=2`.

mod harness;

mod auth;
mod commands;
mod concurrency;
mod health;
mod metrics;
mod multiplexing;
mod operations;
mod pool_caps;
mod prepared;
mod reload;
mod results;
mod robustness;
mod rw_admin;
mod rw_balance;
mod rw_consistency;
mod rw_failover;
mod rw_prepared;
mod rw_session;
mod rw_split;
mod shard_diff;
mod sharding;
mod types;
