//! Starting third-party servers (identity providers) for the tests: a free
//! port, and waiting until the server listens.

use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

/// Waits up to a minute for `what` to listen on `port`; panics with its
/// log if it does not.
pub fn wait_until_listening(what: &str, port: u16, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let text = std::fs::read_to_string(log).unwrap_or_default();
    panic!("{what} did not start on port {port}:\n{text}");
}
