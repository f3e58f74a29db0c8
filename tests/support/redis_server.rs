//! A real `redis-server` (the Debian package's binary, found on `PATH`) on
//! 127.0.0.1 and a free port, without persistence, for the Redis store
//! tests. Readiness is an event: the server's "Ready to accept connections"
//! log line, read from its stdout. The server can be stopped, paused (a
//! hang: SIGSTOP), resumed and restarted on the same port; it is killed when
//! the value is dropped.
//!
//! When `redis-server` is not installed, [`RedisServer::start`] panics under
//! `CI=true` and otherwise prints a `SKIPPED` line and returns `None`, so the
//! test can return early.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The binary looked up on `PATH`.
const BINARY: &str = "redis-server";
/// How long a server may take to report readiness.
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// The log line that says the server listens.
const READY_LINE: &str = "Ready to accept connections";

/// A running (or stopped) `redis-server` on 127.0.0.1.
pub struct RedisServer {
    port: u16,
    child: Option<Child>,
    /// Where an append-only file is kept, when the server persists.
    dir: Option<std::path::PathBuf>,
}

enum SpawnError {
    NotInstalled,
    /// The server exited (or never said it was ready); its output.
    Failed(String),
}

impl RedisServer {
    /// Starts a server on a free port, or returns `None` (after printing a
    /// `SKIPPED` line) when `redis-server` is not installed and `CI` is not
    /// `true`.
    pub fn start() -> Option<Self> {
        Self::start_with(false)
    }

    /// Like [`start`](Self::start), with an append-only file (fsync on
    /// every write) in a directory of its own, kept across restarts.
    pub fn start_persistent() -> Option<Self> {
        Self::start_with(true)
    }

    fn start_with(persistent: bool) -> Option<Self> {
        let mut last_failure = String::new();
        // The port is free when we ask, but another process may take it
        // before the server binds it: then try another.
        for _ in 0..5 {
            let port = free_port();
            let dir = persistent.then(|| {
                let dir = std::env::temp_dir()
                    .join(format!("jwt-auth-redis-{}-{port}", std::process::id()));
                std::fs::create_dir_all(&dir).unwrap();
                dir
            });
            match spawn(port, dir.as_deref()) {
                Ok(child) => {
                    return Some(Self {
                        port,
                        child: Some(child),
                        dir,
                    });
                }
                Err(SpawnError::NotInstalled) => {
                    if std::env::var("CI").is_ok_and(|v| v == "true") {
                        panic!(
                            "{BINARY} is not on PATH and CI=true: install it \
                             (apt-get install redis-server); scripts/test does"
                        );
                    }
                    // Straight to stderr: the test harness captures
                    // `eprintln!` of passing tests.
                    let test = std::thread::current().name().unwrap_or("?").to_owned();
                    let _ = writeln!(
                        std::io::stderr(),
                        "!!!!!!!! SKIPPED: redis-server not installed \
                         (apt-get install redis-server): {test}"
                    );
                    return None;
                }
                Err(SpawnError::Failed(output)) => last_failure = output,
            }
        }
        panic!("{BINARY} did not start on any of 5 ports; last output:\n{last_failure}");
    }

    /// The port it listens on (the same across restarts).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Whether the process is running (it may be paused).
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Kills the server and waits for it to exit: the port refuses
    /// connections afterwards, and every key is gone (no persistence).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGKILL also ends a paused (SIGSTOPped) process.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the server if it runs, then starts it again on the same port
    /// and waits until it is ready: empty (no keys, no loaded scripts), or
    /// from its append-only file when it persists.
    pub fn restart(&mut self) {
        self.stop();
        match spawn(self.port, self.dir.as_deref()) {
            Ok(child) => self.child = Some(child),
            Err(SpawnError::NotInstalled) => panic!("{BINARY} disappeared from PATH"),
            Err(SpawnError::Failed(output)) => {
                panic!("{BINARY} did not restart on port {}:\n{output}", self.port)
            }
        }
    }

    /// Freezes the server (SIGSTOP): connections are still accepted by the
    /// kernel, but nothing answers, like a hung Redis.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Lets a paused server go on (SIGCONT).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let child = self.child.as_ref().expect("the server is not running");
        let status = Command::new("kill")
            .arg(signal)
            .arg(child.id().to_string())
            .status()
            .expect("running kill");
        assert!(status.success(), "kill {signal} failed");
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// A port nothing listened on a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `redis-server` on `port` and waits for its readiness line. Its
/// stdout is drained by a thread for as long as it runs (so it never blocks
/// on a full pipe).
fn spawn(port: u16, dir: Option<&std::path::Path>) -> Result<Child, SpawnError> {
    let mut command = Command::new(BINARY);
    command
        .args(["--port", &port.to_string()])
        .args(["--bind", "127.0.0.1"])
        .args(["--save", ""]);
    match dir {
        Some(dir) => command
            .args(["--appendonly", "yes", "--appendfsync", "always"])
            .arg("--dir")
            .arg(dir),
        None => command.args(["--appendonly", "no"]),
    };
    let mut child = match command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(SpawnError::NotInstalled);
        }
        Err(e) => return Err(SpawnError::Failed(format!("spawning {BINARY}: {e}"))),
    };
    let stdout = child.stdout.take().unwrap();
    let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
    std::thread::spawn(move || {
        let mut seen = String::new();
        let mut ready_tx = Some(ready_tx);
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(tx) = &ready_tx {
                seen.push_str(&line);
                seen.push('\n');
                if line.contains(READY_LINE) {
                    let _ = tx.send(Ok(()));
                    ready_tx = None;
                }
            }
        }
        // The process exited (or closed stdout) before saying it was ready.
        if let Some(tx) = ready_tx {
            let _ = tx.send(Err(seen));
        }
    });
    let outcome = match ready_rx.recv_timeout(READY_TIMEOUT) {
        Ok(Ok(())) => return Ok(child),
        Ok(Err(output)) => output,
        Err(_) => format!("no {READY_LINE:?} line within {READY_TIMEOUT:?}"),
    };
    let _ = child.kill();
    let _ = child.wait();
    Err(SpawnError::Failed(outcome))
}
