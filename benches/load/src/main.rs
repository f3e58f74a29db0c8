//! `load-server`: hello-world axum and actix-web apps behind no auth, jwt-auth,
//! or a peer crate, for the end-to-end load test (`benches/load/run.sh`).
//!
//! ```text
//! load-server <axum|actix> <variant> <addr>    serve GET / until killed
//! load-server mint <hs256|rs256> [bare]         print a token valid for 1 h
//! load-server variants <axum|actix>             list the variants of a framework
//! load-server secret                            print the HS256 secret (for the demos)
//! ```
//!
//! Every app answers `GET /` with `hello <sub>` (the verified subject) when
//! auth is on and `hello world` when it is off. Every auth variant is
//! configured to check the same things: the signature with one algorithm
//! (HS256 or RS256), `exp` and `sub` present, `iss` = [`common::ISSUER`],
//! `aud` = [`common::AUDIENCE`], `nbf` when present. (`jwt-authorizer` cannot
//! be told to require `iss` and `aud`, only to compare them when present.)
//! `mint <alg> bare` mints a token with neither `iss` nor `aud`, to see which
//! stacks really require them.
//!
//! Worker threads: `LOAD_WORKERS` (default 1) for both frameworks — the Tokio
//! multi-thread runtime's workers for axum, `HttpServer::workers` for actix.
#![allow(clippy::unwrap_used)]

mod actix_app;
mod axum_app;
mod common;

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;

use common::{Alg, Variant};

/// The usage text printed on bad arguments.
const USAGE: &str = "usage:
  load-server <axum|actix> <variant> <addr>
  load-server mint <hs256|rs256> [bare]
  load-server variants <axum|actix>
  load-server secret";

/// Parses the command line and runs the chosen command.
fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("load-server: {message}\n{USAGE}");
            ExitCode::FAILURE
        }
    }
}

/// Runs one command; the error is the message for stderr.
fn run(args: &[&str]) -> Result<(), String> {
    match args {
        ["mint", alg, rest @ ..] => {
            let alg = Alg::parse(alg).ok_or_else(|| format!("unknown algorithm {alg}"))?;
            let bare = match rest {
                [] => false,
                ["bare"] => true,
                _ => return Err("mint takes an algorithm and optionally `bare`".into()),
            };
            let token = common::mint(alg, bare).map_err(|e| format!("minting: {e}"))?;
            writeln!(std::io::stdout(), "{token}").map_err(|e| e.to_string())
        }
        ["secret"] => {
            writeln!(std::io::stdout(), "{}", common::HMAC_SECRET).map_err(|e| e.to_string())
        }
        ["variants", framework] => {
            let mut out = std::io::stdout().lock();
            for variant in Variant::ALL.iter().filter(|v| v.runs_on(framework)) {
                writeln!(out, "{}", variant.name()).map_err(|e| e.to_string())?;
            }
            Ok(())
        }
        [framework, variant, addr] => {
            let variant =
                Variant::parse(variant).ok_or_else(|| format!("unknown variant {variant}"))?;
            if !variant.runs_on(framework) {
                return Err(format!(
                    "variant {} does not run on {framework}",
                    variant.name()
                ));
            }
            let addr: SocketAddr = addr.parse().map_err(|e| format!("address {addr}: {e}"))?;
            let workers = common::workers()?;
            let result = match *framework {
                "axum" => axum_app::serve(variant, addr, workers),
                "actix" => actix_app::serve(variant, addr, workers),
                other => return Err(format!("unknown framework {other}")),
            };
            result.map_err(|e| format!("{framework} {}: {e}", variant.name()))
        }
        _ => Err("bad arguments".into()),
    }
}
