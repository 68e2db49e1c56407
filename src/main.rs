//! The `shardgate` command line: parse arguments, load config, run the proxy.
fn main() {}
