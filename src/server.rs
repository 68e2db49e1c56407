//! The accept loop: takes client connections until shutdown, enforcing the client cap.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpSocket};

use crate::error;
use crate::frontend::{FrontendError, session};
use crate::runtime::Proxy;

/// Pending connections the kernel may queue before the proxy accepts them, at most (the kernel
/// caps it at `net.core.somaxconn`). A burst of reconnects from many services (after a deploy or
/// a proxy restart) must not overflow the queue: an overflowed handshake is dropped silently and
/// the client waits for a greeting until its read timeout.
const MAX_LISTEN_BACKLOG: u32 = 65_535;

/// Binds the client listener with a backlog sized to `max_client_connections`.
pub async fn listen(addr: &str, max_client_connections: u32) -> std::io::Result<TcpListener> {
    let mut last = None;
    for sa in tokio::net::lookup_host(addr).await? {
        let socket = if sa.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        match socket.bind(sa) {
            Ok(()) => return socket.listen(backlog(max_client_connections)),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::AddrNotAvailable,
            "the address resolves to nothing",
        )
    }))
}

/// The listen backlog: one slot per allowed client, at least 1,024, at most 65,535.
fn backlog(max_client_connections: u32) -> u32 {
    max_client_connections.clamp(1024, MAX_LISTEN_BACKLOG)
}

/// Raises the soft open-files limit to the hard limit: every client and backend connection is a
/// file descriptor, and a soft limit of 1,024 would refuse clients long before
/// `max_client_connections`. Warns when even the hard limit is below what the config allows.
pub fn raise_open_files_limit(max_client_connections: u32, backend_connections: u64) {
    let wanted = u64::from(max_client_connections) + backend_connections + 64;
    match rlimit::increase_nofile_limit(wanted) {
        Ok(got) if got < wanted => tracing::warn!(
            limit = got,
            wanted,
            "the open-files limit (ulimit -n) is below max_client_connections plus the backend \
             pools; raise the hard limit (LimitNOFILE= in systemd) or lower max_client_connections"
        ),
        Ok(got) => tracing::debug!(limit = got, "open-files limit"),
        Err(e) => tracing::warn!("cannot read or raise the open-files limit: {e}"),
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backlog_follows_the_client_cap_within_bounds() {
        assert_eq!(backlog(1), 1024);
        assert_eq!(backlog(2000), 2000);
        assert_eq!(backlog(10_000), 10_000);
        assert_eq!(backlog(u32::MAX), 65_535);
    }

    #[tokio::test]
    async fn listen_binds_and_accepts() {
        let listener = listen("127.0.0.1:0", 10).await.expect("listen");
        let addr = listener.local_addr().expect("addr");
        let (client, accepted) =
            tokio::join!(tokio::net::TcpStream::connect(addr), listener.accept());
        assert!(client.is_ok() && accepted.is_ok());
    }

    #[tokio::test]
    async fn listen_reports_an_unresolvable_address() {
        assert!(listen("127.0.0.1:not-a-port", 10).await.is_err());
    }
}
