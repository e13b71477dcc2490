//! A throwaway `redis-server` for tests: on a free loopback port, without persistence (a
//! restart loses its memory), stopped when dropped. It runs the `redis-server` on the
//! `PATH`, which `bash scripts/redis.sh` installs from the distribution's packages.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Why a test server could not be started.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ServerError(String);

/// A `redis-server` of a test's own.
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server on a free loopback port and waits until it answers.
    pub fn start() -> Result<RedisServer, ServerError> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| ServerError(format!("cannot find a free port: {e}")))?
            .port();
        let mut server = RedisServer {
            port,
            dir: tempfile::tempdir()
                .map_err(|e| ServerError(format!("cannot make a directory: {e}")))?,
            child: None,
        };
        server.up()?;
        Ok(server)
    }

    /// The server's URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Starts the server again on the same port (after [`down`](Self::down)), empty.
    pub fn up(&mut self) -> Result<(), ServerError> {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                ServerError(format!("cannot start redis-server ({e}): install it with `bash scripts/redis.sh`, which `bash scripts/test-all.sh` runs"))
            })?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        let client = redis::Client::open(self.url())
            .map_err(|e| ServerError(format!("cannot name the server: {e}")))?;
        while Instant::now() < deadline {
            if let Ok(mut con) = client.get_connection_with_timeout(Duration::from_millis(200)) {
                if redis::cmd("PING").query::<String>(&mut con).is_ok() {
                    return Ok(());
                }
            }
            thread::sleep(Duration::from_millis(20));
        }
        Err(ServerError(format!(
            "redis-server did not answer on port {} within 10 s",
            self.port
        )))
    }

    /// Stops the server (its memory is lost).
    pub fn down(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the server and starts it again, empty.
    pub fn restart_empty(&mut self) -> Result<(), ServerError> {
        self.down();
        self.up()
    }

    /// Whether the set `key` holds `member` (false when the server cannot be asked).
    pub fn is_member(&self, key: &str, member: &str) -> bool {
        let Ok(client) = redis::Client::open(self.url()) else {
            return false;
        };
        let Ok(mut con) = client.get_connection_with_timeout(Duration::from_secs(1)) else {
            return false;
        };
        redis::cmd("SISMEMBER")
            .arg(key)
            .arg(member)
            .query::<bool>(&mut con)
            .unwrap_or(false)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.down();
    }
}
