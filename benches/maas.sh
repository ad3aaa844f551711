#!/usr/bin/env bash
# `drydock apply` of a generated site of N nodes (1,000 by default) against the MAAS fake
# (examples/maas_fake.rs) at (nearly) zero latency: its clock runs a million times faster
# than real time, so commissioning and deploying finish as soon as they are asked again.
# Prints the wall time, the requests per deployed node, and the requests and machine-list
# requests per poll interval while the machines are in flight (from the fake's /_fake/stats).
#
#   benches/maas.sh [N] [POLL_MS] [PROFILE]      # PROFILE: release (default) or dev
set -euo pipefail
N=${1:-1000}
POLL=${2:-1000}
PROFILE=${3:-release}
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
cargo build -q --profile "$PROFILE" --bin drydock --example maas_fake --example generate_site
dir=$([ "$PROFILE" = dev ] && echo debug || echo "$PROFILE")
bin="$target/$dir"
work=$(mktemp -d)
cleanup() {
    [ -n "${fake:-}" ] && kill "$fake" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
"$bin/examples/generate_site" --nodes "$N" --out "$work/site" >/dev/null
echo redfish-pw >"$work/redfish-password"
sed -i "s|file:/etc/drydock/secrets/redfish-password|file:$work/redfish-password|" "$work"/site/nodes/*.yaml
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export MAAS_KEY=cKeY0123456789abcd:tKeY0123456789abcd:sEcReT0123456789abcdefghijklmnop
"$bin/examples/maas_fake" --listen "127.0.0.1:$port" --api-key "$MAAS_KEY" --time-scale 1000000 2>"$work/fake.log" &
fake=$!
for _ in $(seq 50); do
    curl -sf "http://127.0.0.1:$port/MAAS/api/version/" >/dev/null && break
    sleep 0.1
done
export BMC_PASSWORD=x BMC_PASSWORD_C01=y
start=$(date +%s.%N)
"$bin/drydock" apply "$work/site" --provisioner maas --maas-url "http://127.0.0.1:$port/MAAS" \
    --maas-key env:MAAS_KEY --maas-poll-ms "$POLL" --auto-approve --progress plain \
    --concurrency "$N" --rack-concurrency "$N" --state "$work/state" >"$work/apply.log" 2>&1 \
    || { tail -20 "$work/apply.log"; exit 1; }
end=$(date +%s.%N)
curl -s "http://127.0.0.1:$port/_fake/stats?bucket_ms=$POLL" >"$work/stats.json"
python3 - "$work/stats.json" "$start" "$end" "$POLL" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
wall = float(sys.argv[3]) - float(sys.argv[2])
print(f"nodes: {s['machines']}, deployed: {s['deployed']}, wall time: {wall:.1f} s")
print(f"requests: {s['requests']} ({s['requests'] / max(s['deployed'], 1):.1f} per deployed node), writes: {s['writes']}, machine lists: {s['lists']}")
b = s["buckets"]
busy = [x for x in b if x[1] > 0]
lists = [x[2] for x in busy]
print(f"per {sys.argv[4]} ms interval: requests max {max(x[1] for x in busy)}, machine lists max {max(lists)} (mean {sum(lists) / len(lists):.2f}) over {len(busy)} intervals")
EOF
