//! Criterion benchmarks of jwt-auth; the figures and commands are in
//! `BENCHMARKS.md`. Run them with `cargo bench -p jwt-auth-benches`.
