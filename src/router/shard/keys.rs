//! Sharding-key values and the sharding functions (key -> slot -> shard).
