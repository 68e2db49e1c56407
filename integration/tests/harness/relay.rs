//! A thread-based TCP relay between the proxy and a backend that a test can kill (closing the
//! listener and every relayed connection) and restart on the same port, or freeze (bytes are
//! held, connections stay open: what the proxy sees of a SIGSTOPped server) and thaw.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// A running (or stopped) relay from `127.0.0.1:port` to `target`.
pub struct Relay {
    pub port: u16,
    target: String,
    stop: Arc<AtomicBool>,
    frozen: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
    acceptor: Option<JoinHandle<()>>,
}

impl Relay {
    /// Starts relaying on a free port.
    pub fn start(target: &str) -> Relay {
        let mut r = Relay {
            port: 0,
            target: target.to_string(),
            stop: Arc::new(AtomicBool::new(false)),
            frozen: Arc::new(AtomicBool::new(false)),
            conns: Arc::new(Mutex::new(Vec::new())),
            acceptor: None,
        };
        r.listen(TcpListener::bind("127.0.0.1:0").expect("bind relay"));
        r
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn listen(&mut self, listener: TcpListener) {
        self.port = listener.local_addr().expect("addr").port();
        listener.set_nonblocking(true).expect("nonblocking");
        self.stop = Arc::new(AtomicBool::new(false));
        let stop = Arc::clone(&self.stop);
        let conns = Arc::clone(&self.conns);
        let frozen = Arc::clone(&self.frozen);
        let target = self.target.clone();
        self.acceptor = Some(std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client, _)) => {
                        client.set_nonblocking(false).expect("blocking");
                        let Ok(server) = TcpStream::connect(&target) else {
                            continue;
                        };
                        let _ = client.set_nodelay(true);
                        let _ = server.set_nodelay(true);
                        {
                            let mut c = conns.lock().expect("lock");
                            c.push(client.try_clone().expect("clone"));
                            c.push(server.try_clone().expect("clone"));
                        }
                        pump(
                            client.try_clone().expect("clone"),
                            server.try_clone().expect("clone"),
                            Arc::clone(&frozen),
                        );
                        pump(server, client, Arc::clone(&frozen));
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
            // The listener is dropped here: new connections are refused.
        }));
    }

    /// Closes the listener and every relayed connection.
    pub fn kill(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.acceptor.take() {
            let _ = h.join();
        }
        for s in self.conns.lock().expect("lock").drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    /// Holds every byte in both directions (connections stay open, new ones are accepted
    /// but get no greeting) until `thaw`: a frozen server, as far as the proxy can tell.
    pub fn freeze(&self) {
        self.frozen.store(true, Ordering::SeqCst);
    }

    pub fn thaw(&self) {
        self.frozen.store(false, Ordering::SeqCst);
    }

    /// The local ports of the relay's connections to the backend (the server's processlist
    /// shows them as the clients' ports).
    pub fn backend_ports(&self) -> Vec<u16> {
        let conns = self.conns.lock().expect("lock");
        conns
            .iter()
            .filter(|s| s.peer_addr().is_ok_and(|a| a.to_string() == self.target))
            .filter_map(|s| s.local_addr().ok().map(|a| a.port()))
            .collect()
    }

    /// Listens again on the same port.
    pub fn restart(&mut self) {
        assert!(self.acceptor.is_none(), "relay still running");
        let mut tries = 0;
        let listener = loop {
            match TcpListener::bind(("127.0.0.1", self.port)) {
                Ok(l) => break l,
                Err(e) if tries < 100 => {
                    tries += 1;
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => panic!("cannot rebind relay port {}: {e}", self.port),
            }
        };
        self.listen(listener);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Copies bytes from `from` to `to` on its own thread until either side closes.
fn pump(mut from: TcpStream, mut to: TcpStream, frozen: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    while frozen.load(Ordering::SeqCst) {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    if to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = to.shutdown(Shutdown::Both);
        let _ = from.shutdown(Shutdown::Both);
    });
}
