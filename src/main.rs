//! The `shardgate` command line: parse arguments, load and check the config, run the proxy.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use shardgate::backend::connection::{BackendConn, Flavour, Target};
use shardgate::config::{self, Config, LogFormat};
use shardgate::protocol::auth::RsaKeys;
use shardgate::runtime::{ConfigSource, ConfigVersion, Proxy, triggers};
use tracing_subscriber::EnvFilter;

/// MySQL-protocol sharding and read/write-splitting proxy.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// The YAML configuration file.
    #[arg(long, short = 'c')]
    config: PathBuf,
    /// Validate the configuration and exit (non-zero with the location of the problem).
    #[arg(long)]
    check: bool,
}

/// Used in the greeting when neither the config nor the default primary gives a version.
const FALLBACK_VERSION: &str = "8.0.35-shardgate";

fn main() -> ExitCode {
    let args = Args::parse();
    let loaded = config::read(&args.config).and_then(|text| {
        config::parse(&text, &args.config.display().to_string()).map(|c| (c, text))
    });
    let (config, text) = match loaded {
        Ok(c) => c,
        Err(e) => {
            eprintln!("shardgate: {e}");
            return ExitCode::from(2);
        }
    };
    if args.check {
        println!(
            "{}: configuration OK ({} users, {} shards)",
            args.config.display(),
            config.users.len(),
            config.shards.len()
        );
        return ExitCode::SUCCESS;
    }
    init_logging(&config);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("shardgate: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let source = ConfigSource {
        path: args.config.clone(),
    };
    match runtime.block_on(run(config, ConfigVersion::first(&text), source)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("shardgate: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(config: &Config) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.logging.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match config.logging.format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

async fn run(config: Config, version: ConfigVersion, source: ConfigSource) -> Result<(), String> {
    let rsa = tokio::task::spawn_blocking(RsaKeys::generate)
        .await
        .map_err(|e| format!("RSA key generation: {e}"))?
        .map_err(|e| format!("RSA key generation: {e}"))?;
    let server_version = server_version(&config).await;
    let backend_connections = config
        .shards
        .iter()
        .map(|s| (1 + s.replicas.len()) as u64)
        .sum::<u64>()
        * u64::from(config.pool.max_connections);
    shardgate::server::raise_open_files_limit(config.max_client_connections, backend_connections);
    let listener = shardgate::server::listen(&config.listen, config.max_client_connections)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let metrics = shardgate::metrics::Endpoint::bind(config.metrics.as_ref()).await?;
    tracing::info!(listen = %local, version = %server_version, shards = config.shards.len(), "shardgate ready");
    let proxy = Arc::new(Proxy::new(
        config,
        rsa,
        server_version,
        version,
        Some(source),
    )?);
    metrics.serve(&proxy);
    proxy.spawn_pool_log(std::time::Duration::from_secs(60));
    triggers::on_sighup(&proxy);
    let _watcher = triggers::watch_file(&proxy);
    shardgate::server::run(listener, Arc::clone(&proxy), shutdown_signal()).await;
    // Stop accepting (done), end idle sessions, let open transactions finish.
    proxy.begin_shutdown();
    let deadline = proxy.snapshot().config.shutdown_timeout_ms;
    let left = proxy.clients.load(std::sync::atomic::Ordering::Acquire);
    tracing::info!(sessions = left, deadline_ms = deadline, "shutting down");
    if proxy
        .drained(std::time::Duration::from_millis(u64::from(deadline)))
        .await
    {
        tracing::info!("every session finished; exiting");
    } else {
        let left = proxy.clients.load(std::sync::atomic::Ordering::Acquire);
        tracing::warn!(
            sessions = left,
            "shutdown deadline passed with sessions still in a transaction; closing them with ERR 1053 (their transactions are rolled back)"
        );
        proxy.force_shutdown();
        proxy.drained(std::time::Duration::from_secs(2)).await;
    }
    Ok(())
}

/// The configured version, else the default primary's own, else a fallback.
async fn server_version(config: &Config) -> String {
    if let Some(v) = &config.server_version {
        return v.clone();
    }
    let Some(shard) = config.shard(&config.default_shard) else {
        return FALLBACK_VERSION.to_string();
    };
    let target = Target {
        name: format!("{}/primary {}", shard.name, shard.primary.address),
        address: shard.primary.address.clone(),
        user: config.backend.user.clone(),
        password: config.backend.password.clone(),
        connect_timeout: config.pool.connect_timeout(),
    };
    let flavour = Flavour {
        found_rows: false,
        deprecate_eof: true,
    };
    match BackendConn::connect(&target, flavour).await {
        Ok(conn) => conn.server_version.clone(),
        Err(e) => {
            tracing::warn!(
                "cannot read the default primary's version ({e}); announcing {FALLBACK_VERSION}"
            );
            FALLBACK_VERSION.to_string()
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutdown requested");
}
