//! Merging the results of several shards into the answer one server would give.
