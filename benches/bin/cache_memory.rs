//! Resident memory after authenticating 1,000,000 unique valid tokens, with
//! the verified-token cache at its default capacity and off.
//!
//! `cargo run --release -p jwt-auth-benches --bin cache-memory`
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::time::{Duration, UNIX_EPOCH};

use jwt_auth_core::{Authenticator, DEFAULT_CACHE_CAPACITY, Key};

/// `VmRSS` of this process, in KiB.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

fn main() {
    const N: u64 = 1_000_000;
    const NOW: u64 = 1_800_000_000;
    let key = Key::hmac(b"memory-secret-0123456789abcdef-0123").unwrap();
    println!("| cache capacity | RSS before | RSS after {N} unique tokens | entries held |");
    println!("|---|---|---|---|");
    for capacity in [DEFAULT_CACHE_CAPACITY, 0] {
        let auth = Authenticator::new(key.clone())
            .clock(|| UNIX_EPOCH + Duration::from_secs(NOW))
            .cache_capacity(capacity);
        let before = rss_kib();
        for i in 0..N {
            let token = key
                .encode(&serde_json::json!({"sub": format!("user-{i}"), "jti": format!("t-{i}"), "exp": NOW + 3600}))
                .unwrap();
            assert!(auth.verify(&token).is_ok());
        }
        let after = rss_kib();
        println!(
            "| {capacity} | {:.1} MiB | {:.1} MiB | {} |",
            before as f64 / 1024.0,
            after as f64 / 1024.0,
            auth.cached_tokens()
        );
    }
}
