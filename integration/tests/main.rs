//! Integration tests against a real MariaDB topology and the shardgate binary.
