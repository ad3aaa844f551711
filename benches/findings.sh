#!/usr/bin/env bash
# Benchmark: `drydock validate` with many findings, in every output format (the whole
# process, release build). The design is one Network whose labels hold N unquoted base-60
# MACs (each a DD000 warning), and N nodes each with a finding (a duplicate address, DD2005),
# so findings name nodes too. Prints wall time and peak RSS per format and size; linear means
# ×10 for 10× the findings.
# Usage: benches/findings.sh [SIZES...]   (default: 10000 100000)
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("${@:-10000 100000}")
# shellcheck disable=SC2206
sizes=(${sizes[@]})
cargo build --release --quiet --bin drydock
bin=target/release/drydock
work=${BENCH_DIR:-$(mktemp -d)}
printf '%9s %8s %8s %12s\n' findings format "wall s" "peak RSS MB"
for n in "${sizes[@]}"; do
  file="$work/findings-$n.yaml"
  python3 - "$n" "$file" <<'PY'
import sys
n, path = int(sys.argv[1]), sys.argv[2]
half = n // 2
out = ["schema: drydock/Network/v1", "metadata: {name: big}", "data:", "  cidr: 10.0.0.0/8", "  labels:"]
for i in range(half):
    out.append(f"    k{i}: 52:54:00:{(i // 3600) % 60:02d}:{(i // 60) % 60:02d}:{i % 60:02d}")
for i in range(n - half):
    out.append(f"---\nschema: drydock/BaremetalNode/v1\nmetadata: {{name: n{i}}}\ndata:\n  addressing:\n    - {{network: big, address: 10.0.0.1}}")
open(path, "w").write("\n".join(out) + "\n")
PY
  for format in human json sarif junit github; do
    # Exit 1 (the design has errors) is expected.
    out=$( { /usr/bin/time -f '%e %M' "$bin" validate "$file" --format "$format" --color never >/dev/null || true; } 2>&1 | tail -1)
    printf '%9s %8s %8s %12s\n' "$n" "$format" "${out% *}" "$(( ${out#* } / 1024 ))"
  done
done
