//! What starts a reload besides the admin statement: SIGHUP, and a change in the config file's
//! directory (watched as a directory, so that an editor's write-then-rename and a Kubernetes
//! ConfigMap's `..data` symlink swap are both seen), debounced.

use std::path::PathBuf;
use std::sync::{Arc, Weak};
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

use super::Proxy;

/// Events closer together than this are one edit.
const DEBOUNCE: Duration = Duration::from_millis(250);

/// Reloads on SIGHUP until the proxy is dropped.
pub fn on_sighup(proxy: &Arc<Proxy>) {
    let weak = Arc::downgrade(proxy);
    tokio::spawn(async move {
        let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            tracing::warn!("cannot listen for SIGHUP; reload with SHARDGATE RELOAD");
            return;
        };
        while hup.recv().await.is_some() {
            let Some(proxy) = weak.upgrade() else {
                return;
            };
            let _ = proxy.reload("SIGHUP").await;
        }
    });
}

/// Watches the config file's directory and reloads after changes settle. Returns the watcher,
/// which must be kept alive.
pub fn watch_file(proxy: &Arc<Proxy>) -> Option<notify::RecommendedWatcher> {
    let path = proxy.config_source()?.path.clone();
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let (tx, rx) = mpsc::unbounded_channel();
    let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.is_ok_and(|e| !e.kind.is_access()) {
            let _ = tx.send(());
        }
    });
    let mut watcher = match watcher {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!("cannot watch {}: {e}; reload with SIGHUP", dir.display());
            return None;
        }
    };
    if let Err(e) = watcher.watch(&dir, RecursiveMode::NonRecursive) {
        tracing::warn!("cannot watch {}: {e}; reload with SIGHUP", dir.display());
        return None;
    }
    tracing::info!(dir = %dir.display(), "watching the config directory for changes");
    tokio::spawn(debounced_reloads(Arc::downgrade(proxy), rx));
    Some(watcher)
}

async fn debounced_reloads(proxy: Weak<Proxy>, mut rx: mpsc::UnboundedReceiver<()>) {
    while rx.recv().await.is_some() {
        // Let the edit finish: wait until no event came for DEBOUNCE.
        loop {
            match tokio::time::timeout(DEBOUNCE, rx.recv()).await {
                Ok(Some(())) => continue,
                Ok(None) => return,
                Err(_) => break,
            }
        }
        let Some(proxy) = proxy.upgrade() else {
            return;
        };
        // An unchanged file (another file in the directory changed) is a no-op.
        let _ = proxy.reload("file change").await;
    }
}
