#!/usr/bin/env bash
# Benchmark: `drydock validate` end to end (the whole process, release build) on generated
# sites of 1,000, 10,000 and 50,000 nodes. Prints wall time (best of RUNS) and peak RSS.
# Usage: benches/validate.sh [SIZES...]   (default: 1000 10000 50000)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
sizes=("${@:-1000 10000 50000}")
# shellcheck disable=SC2206
sizes=(${sizes[@]})
cargo build --release --quiet --bin drydock --example generate_site
bin=target/release/drydock
gen=target/release/examples/generate_site
work=${BENCH_DIR:-$(mktemp -d)}
printf '%8s %10s %10s %10s %12s\n' nodes files "best s" "median s" "peak RSS MB"
for n in "${sizes[@]}"; do
  dir="$work/site-$n"
  [ -d "$dir/nodes" ] || "$gen" --nodes "$n" --out "$dir" >/dev/null 2>&1
  files=$(find "$dir" -name '*.yaml' | wc -l)
  times=()
  rss=0
  for _ in $(seq "$RUNS"); do
    out=$( { /usr/bin/time -f '%e %M' "$bin" validate "$dir" --quiet >/dev/null; } 2>&1 | tail -1)
    times+=("${out% *}")
    r=${out#* }
    [ "$r" -gt "$rss" ] && rss=$r
  done
  sorted=$(printf '%s\n' "${times[@]}" | sort -n)
  best=$(echo "$sorted" | head -1)
  median=$(echo "$sorted" | sed -n "$(( (RUNS + 1) / 2 ))p")
  printf '%8s %10s %10s %10s %12s\n' "$n" "$files" "$best" "$median" "$((rss / 1024))"
done
