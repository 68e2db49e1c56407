-- Users and databases of a shard primary in docker/compose.yaml. The mariadb image runs this
-- once, on the first start with an empty data volume, in its temporary init server, with the
-- binary log on (docker/mariadb/shardgate.cnf): the statements therefore replicate, and the
-- replica receives the same accounts and databases when it starts replicating from the
-- beginning of this primary's binlog (MASTER_USE_GTID=slave_pos, empty gtid_slave_pos).
--
-- Kept identical to provision_primary() in integration/sandbox.sh, the topology the tests use
-- (docker/check.sh compares the two):
--   shardgate/shardgate-pw  the account shardgate logs in to every backend with (`backend:`)
--   repl/repl-pw            replication
--   sbtest/sbtest-pw        sysbench directly against a backend
-- The proxy's own client users (app, app_sha2, admin, sbtest under `users:` in
-- docker/shardgate.yaml) are authenticated by shardgate itself and need no backend account.
--
-- On MariaDB 10.11 ALL PRIVILEGES includes READ_ONLY ADMIN, which would let these users write
-- on a read_only replica (and break replication under gtid_strict_mode); it is revoked.
CREATE USER IF NOT EXISTS 'shardgate'@'%' IDENTIFIED BY 'shardgate-pw';
GRANT ALL PRIVILEGES ON *.* TO 'shardgate'@'%' WITH GRANT OPTION;
REVOKE READ_ONLY ADMIN ON *.* FROM 'shardgate'@'%';
CREATE USER IF NOT EXISTS 'repl'@'%' IDENTIFIED BY 'repl-pw';
GRANT REPLICATION SLAVE, BINLOG MONITOR, SLAVE MONITOR ON *.* TO 'repl'@'%';
CREATE USER IF NOT EXISTS 'sbtest'@'%' IDENTIFIED BY 'sbtest-pw';
GRANT ALL PRIVILEGES ON *.* TO 'sbtest'@'%';
REVOKE READ_ONLY ADMIN ON *.* FROM 'sbtest'@'%';
CREATE DATABASE IF NOT EXISTS sbtest;
CREATE DATABASE IF NOT EXISTS shop;
