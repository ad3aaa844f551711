//! A MAAS region API fake, for trying drydock's MAAS driver without a MAAS:
//!
//! ```text
//! cargo run --example maas_fake -- --listen 127.0.0.1:5240 --state /tmp/maas --api-key CK:TK:TS
//! ```
//!
//! It serves `http://LISTEN/MAAS/api/2.0/` with MAAS's semantics (`tests/maas_support/fake.rs`,
//! the same file the MAAS tests start in-process). Its clock runs `--time-scale` times faster
//! than real time (600 by default: a 10-minute deploy takes a second); `POST
//! /_fake/advance?seconds=N` moves it on, `POST /_fake/fault?machine=HOST&bmc_unreachable=1`
//! (or `deploy_no_signal`, `commission_fail`, `unavailable=N&retry_after=S`) injects a fault,
//! `GET /_fake/world` shows everything it holds. With `--state DIR` the world is written to
//! `DIR/maas.json` after every change and read back at start.

#[path = "../tests/maas_support/fake.rs"]
mod fake;

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

#[derive(Parser)]
#[command(about = "A MAAS region API (2.0) fake with MAAS's semantics")]
struct Args {
    /// Address to listen on
    #[arg(long, default_value = "127.0.0.1:5240")]
    listen: SocketAddr,
    /// Directory the fake keeps its world in
    #[arg(long)]
    state: Option<PathBuf>,
    /// The API key it accepts: consumer_key:token_key:token_secret
    #[arg(long)]
    api_key: String,
    /// How much faster than real time its clock runs (0: only /_fake/advance moves it)
    #[arg(long, default_value_t = 600.0)]
    time_scale: f64,
}

#[tokio::main]
async fn main() {
    let a = Args::parse();
    if a.api_key.split(':').count() != 3 {
        eprintln!("error: --api-key must be consumer_key:token_key:token_secret");
        std::process::exit(2);
    }
    let clock = if a.time_scale > 0.0 {
        fake::ClockMode::Scaled(a.time_scale)
    } else {
        fake::ClockMode::Manual
    };
    let f = match fake::Fake::start(
        a.listen,
        fake::Options {
            api_key: a.api_key,
            clock,
            timings: fake::Timings::default(),
            state_dir: a.state,
        },
    )
    .await
    {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: cannot listen on {}: {e}", a.listen);
            std::process::exit(1);
        }
    };
    eprintln!(
        "MAAS fake listening on {} (API at {}/api/2.0/)",
        f.addr,
        f.url()
    );
    let _ = tokio::signal::ctrl_c().await;
}
