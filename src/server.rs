//! The accept loop: takes client connections until shutdown, enforcing the client cap.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

use crate::error;
use crate::frontend::{FrontendError, session};
use crate::runtime::Proxy;

/// Accepts clients on `listener` until `shutdown` completes; each client gets its own task.
pub async fn run(listener: TcpListener, proxy: Arc<Proxy>, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and similar: back off instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let max = proxy.snapshot().config.max_client_connections as usize;
        let count = proxy.clients.fetch_add(1, Ordering::AcqRel) + 1;
        let proxy = Arc::clone(&proxy);
        tokio::spawn(async move {
            if count > max {
                refuse_too_many(stream, max).await;
            } else {
                session::serve(Arc::clone(&proxy), stream, peer).await;
            }
            proxy.clients.fetch_sub(1, Ordering::AcqRel);
        });
    }
    tracing::info!("stopped accepting clients");
}

/// Over the client cap: an ERR 1040 in place of the greeting, as MySQL does.
async fn refuse_too_many(mut stream: tokio::net::TcpStream, max: usize) {
    if let Some(p) = error::reply_packet(&FrontendError::TooManyClients { max }) {
        let mut frame = vec![
            p.len() as u8,
            (p.len() >> 8) as u8,
            (p.len() >> 16) as u8,
            0,
        ];
        frame.extend_from_slice(&p);
        let _ = stream.write_all(&frame).await;
        let _ = stream.shutdown().await;
    }
}
