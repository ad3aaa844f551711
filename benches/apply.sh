#!/usr/bin/env bash
# Benchmark: `drydock apply` on the simulator, end to end (release build, durable journal).
#  1. A generated 10,000-node site with zero simulated latency: total wall time, steps/s and
#     time per step (the executor's overhead, journaling included, since the simulator does
#     nothing but record state).
#  2. The default limits on realistic layouts (8 racks of 40; racks of 5, 40 and 200) with
#     simulated latencies: the apply's time against the ideal for both limits.
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

# The default limits (32 nodes at once, 8 per rack) on realistic layouts, with simulated
# latencies: wall time against the ideal, site chain + waves x node chain, where waves is
# max(ceil(nodes / 32), ceil(largest rack / 8)) (both limits).
scale=0.002
layout_run() {
  local name=$1 layout=$2
  echo "== $name (racks of $layout), default limits, time scale $scale"
  [ -d "$work/site-$name/nodes" ] || "$gen" --rack-layout "$layout" --out "$work/site-$name" >/dev/null 2>&1
  rm -rf "$work/state-$name"
  local out secs
  out=$("$bin" apply "$work/site-$name" --auto-approve --state "$work/state-$name" --progress none \
    --sim-time-scale $scale | tail -3)
  echo "$out" | grep -E '^Apply' || { echo "$out"; exit 1; }
  secs=$(echo "$out" | sed -nE 's/.* in ([0-9.]+)s\..*/\1/p')
  python3 - "$secs" "$scale" "$layout" <<'PY'
import sys, math
actual, scale = float(sys.argv[1]), float(sys.argv[2])
racks = [int(n) for n in sys.argv[3].split(",")]
# The simulator's default latencies (src/driver/sim/config.rs), in ms; VerifyNode and
# set_pxe_boot take none.
default = 2000
lat = {"identify": 5000, "configure_hardware": 60000, "deploy": 120000, "power_cycle": 5000}
node_chain = (lat["identify"] + lat["power_cycle"] + lat["configure_hardware"]  # PrepareNode
              + 3 * default + lat["deploy"] + default)                          # DeployNode
site_chain = default + 3 * default                                            # VerifySite, PrepareSite
waves = max(math.ceil(sum(racks) / 32), max(math.ceil(n / 8) for n in racks))
ideal = (site_chain + waves * node_chain) * scale / 1000
print(f"{sum(racks)} nodes: actual {actual:.2f} s, ideal {ideal:.2f} s ({waves} waves), {100 * (actual / ideal - 1):+.1f}%")
PY
}
layout_run racks-of-40 40,40,40,40,40,40,40,40
layout_run uneven 5,40,200
