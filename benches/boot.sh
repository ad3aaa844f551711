#!/usr/bin/env bash
# Benchmark: the PXE provisioner's boot service under load on loopback (1,000 simulated nodes
# netbooting at once: iPXE script, deploy agent, configuration and seed; p50/p99 latency and
# throughput) and the dnsmasq configuration for 10,000 nodes. benches/boot.rs says what each
# part measures. Writes the two sites with examples/generate_site (BENCH_DIR keeps them).
# Usage: benches/boot.sh   (RUNS=N repeats the load runs, default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --example generate_site
gen=target/release/examples/generate_site
work=${BENCH_DIR:-$(mktemp -d)}
for n in 1000 10000; do
  [ -d "$work/site-$n/nodes" ] || "$gen" --nodes "$n" --out "$work/site-$n" >/dev/null 2>&1
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores)"
cargo bench --quiet --bench boot -- "$work/site-1000" "$work/site-10000"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
