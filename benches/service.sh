#!/usr/bin/env bash
# Benchmark of the service (benches/service.rs): generates a 1,000-node and a 10,000-node site
# (racks of 40), then runs `cargo bench --bench service` on them. Needs PostgreSQL installed
# (./scripts/install-peers.sh). Usage: benches/service.sh   (BENCH_DIR to keep the sites)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --example generate_site
gen=$PWD/target/release/examples/generate_site
work=${BENCH_DIR:-$(mktemp -d)}
for n in 1000 10000; do
  [ -d "$work/site-$n/nodes" ] || "$gen" --nodes "$n" --out "$work/site-$n" >/dev/null 2>&1
done
BENCH_SITE_1000="$work/site-1000" BENCH_SITE_10000="$work/site-10000" \
  cargo bench --quiet --bench service
