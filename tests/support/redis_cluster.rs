//! A three-master Redis Cluster on 127.0.0.1 for one test: three
//! `redis-server --cluster-enabled yes` on free ports, joined with
//! `redis-cli --cluster create`, ready once every node reports
//! `cluster_state:ok`. Dropping it kills the nodes and removes their files.
#![allow(clippy::unwrap_used)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running cluster.
pub struct RedisCluster {
    ports: Vec<u16>,
    nodes: Vec<Option<Child>>,
    dir: PathBuf,
}

impl RedisCluster {
    /// Starts the cluster, or returns `None` (after printing `SKIPPED`)
    /// when `redis-server` or `redis-cli` is missing and `CI` is not `true`.
    pub fn start() -> Option<Self> {
        let installed = ["redis-server", "redis-cli"].iter().all(|b| {
            Command::new(b)
                .arg("--version")
                .stdout(Stdio::null())
                .status()
                .is_ok()
        });
        if !installed {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!(
                    "redis-server and redis-cli are needed and CI=true: apt-get install redis-server"
                );
            }
            eprintln!("!!!!!!!! SKIPPED: redis-server/redis-cli not installed");
            return None;
        }
        let mut ports: Vec<u16> = Vec::new();
        while ports.len() < 3 {
            let port = free_port();
            if !ports.contains(&port) {
                ports.push(port);
            }
        }
        let dir = std::env::temp_dir().join(format!(
            "jwt-auth-cluster-{}-{}",
            std::process::id(),
            ports[0]
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let mut cluster = Self {
            ports: ports.clone(),
            nodes: Vec::new(),
            dir,
        };
        for port in &ports {
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--cluster-enabled", "yes", "--cluster-node-timeout", "1000"])
                .args(["--cluster-require-full-coverage", "no"])
                .args(["--cluster-config-file", &format!("nodes-{port}.conf")])
                .args(["--save", "", "--appendonly", "no"])
                .arg("--dir")
                .arg(&cluster.dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            cluster.nodes.push(Some(child));
        }
        for port in &ports {
            cluster.wait(*port, "PING", "PONG");
        }
        let addrs: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let out = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addrs)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "redis-cli --cluster create failed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        for port in &ports {
            cluster.wait(*port, "CLUSTER INFO", "cluster_state:ok");
        }
        Some(cluster)
    }

    /// `redis://127.0.0.1:PORT` of every node.
    pub fn urls(&self) -> Vec<String> {
        self.ports
            .iter()
            .map(|p| format!("redis://127.0.0.1:{p}"))
            .collect()
    }

    /// Kills node `index` (a master) and waits for it to exit.
    pub fn kill(&mut self, index: usize) {
        if let Some(mut child) = self.nodes[index].take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Runs `redis-cli -p PORT command...` until its output contains
    /// `expect` (the cluster forms in the background: no event to wait on).
    fn wait(&self, port: u16, command: &str, expect: &str) {
        let start = Instant::now();
        loop {
            let out = Command::new("redis-cli")
                .args(["-p", &port.to_string()])
                .args(command.split(' '))
                .output()
                .unwrap();
            if String::from_utf8_lossy(&out.stdout).contains(expect) {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "node {port}: no {expect:?} after {command}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for index in 0..self.nodes.len() {
            self.kill(index);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A port free now whose cluster-bus port (+10000) is free too.
fn free_port() -> u16 {
    let seed = std::process::id() as u64
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos() as u64;
    for n in 0..1000u64 {
        let port = 20_000
            + ((seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(n * 7919))
                % 20_000) as u16;
        let free = |p: u16| TcpListener::bind(("127.0.0.1", p)).is_ok();
        if free(port) && free(port + 10_000) {
            return port;
        }
    }
    panic!("no free port pair for a cluster node");
}
