#!/usr/bin/env bash
# Benchmark: `drydock apply` on the simulator, end to end (release build, durable journal).
#  1. A generated 10,000-node site with zero simulated latency: total wall time, steps/s and
#     time per step (the executor's overhead, journaling included, since the simulator does
#     nothing but record state).
#  2. A 200-node site with simulated latencies and concurrency C: the apply's time against the
#     ideal, critical path x ceil(nodes / C).
# Usage: benches/apply.sh   (BENCH_DIR to keep the generated sites)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin drydock --example generate_site
bin=$PWD/target/release/drydock
gen=$PWD/target/release/examples/generate_site
work=${BENCH_DIR:-$(mktemp -d)}

echo "== 10,000 nodes, zero latency, concurrency 1000 (40 per rack)"
[ -d "$work/site-10000/nodes" ] || "$gen" --nodes 10000 --out "$work/site-10000" >/dev/null 2>&1
rm -rf "$work/state-10000"
start=$(date +%s.%N)
out=$("$bin" apply "$work/site-10000" --auto-approve --state "$work/state-10000" --progress none \
  --sim-time-scale 0 --concurrency 1000 --rack-concurrency 40 | tail -3)
end=$(date +%s.%N)
echo "$out" | grep -E '^Apply' || { echo "$out"; exit 1; }
steps=$(echo "$out" | sed -nE 's/.* ([0-9]+) steps.*/\1/p')
python3 - "$start" "$end" "$steps" <<'PY'
import sys
start, end, steps = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
wall = end - start
print(f"wall {wall:.2f} s, {steps} steps, {steps / wall:,.0f} steps/s, {wall / steps * 1000:.3f} ms per step (all overhead)")
PY

echo "== 200 nodes, simulated latencies (time scale 0.005), concurrency 20"
[ -d "$work/site-200/nodes" ] || "$gen" --nodes 200 --out "$work/site-200" >/dev/null 2>&1
rm -rf "$work/state-200"
scale=0.005
out=$("$bin" apply "$work/site-200" --auto-approve --state "$work/state-200" --progress none \
  --sim-time-scale $scale --concurrency 20 --rack-concurrency 20 | tail -3)
echo "$out" | grep -E '^Apply' || { echo "$out"; exit 1; }
secs=$(echo "$out" | sed -nE 's/.* in ([0-9.]+)s\..*/\1/p')
python3 - "$secs" "$scale" <<'PY'
import sys, math
actual, scale = float(sys.argv[1]), float(sys.argv[2])
# The simulator's default latencies (src/driver/sim/config.rs), in ms.
default = 2000
lat = {"identify": 5000, "configure_hardware": 60000, "deploy": 120000, "destroy": 30000, "power_cycle": 5000}
node_chain = (lat["identify"] + lat["power_cycle"] + lat["configure_hardware"]  # PrepareNode
              + 3 * default + lat["deploy"] + default)                          # DeployNode
site_chain = default + 3 * default                                            # VerifySite, PrepareSite
ideal = (site_chain + math.ceil(200 / 20) * node_chain) * scale / 1000
print(f"actual {actual:.2f} s, ideal {ideal:.2f} s (critical path x ceil(nodes/C)), {100 * (actual / ideal - 1):+.1f}%")
PY
