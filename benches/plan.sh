#!/usr/bin/env bash
# Benchmark: `drydock plan` end to end (the whole process: load, validate, open the state,
# observe, plan, render; release build) on generated sites of 1,000, 10,000 and 50,000 nodes
# with nothing deployed yet (every node planned). Prints best and median wall time of RUNS and
# peak RSS. Usage: benches/plan.sh [SIZES...]
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
printf '%8s %8s %10s %10s %12s\n' nodes tasks "best s" "median s" "peak RSS MB"
for n in "${sizes[@]}"; do
  dir="$work/site-$n"
  [ -d "$dir/nodes" ] || "$gen" --nodes "$n" --out "$dir" >/dev/null 2>&1
  state="$work/plan-state-$n"
  rm -rf "$state"
  times=()
  rss=0
  for _ in $(seq "$RUNS"); do
    out=$( { /usr/bin/time -f '%e %M' "$bin" plan "$dir" --state "$state" --color never >"$work/plan-$n.txt"; } 2>&1 | tail -1)
    times+=("${out% *}")
    r=${out#* }
    [ "$r" -gt "$rss" ] && rss=$r
  done
  tasks=$(sed -nE 's/^([0-9]+) tasks\./\1/p' "$work/plan-$n.txt")
  sorted=$(printf '%s\n' "${times[@]}" | sort -n)
  printf '%8s %8s %10s %10s %12s\n' "$n" "$tasks" "$(echo "$sorted" | head -1)" "$(echo "$sorted" | sed -n "$(( (RUNS + 1) / 2 ))p")" "$((rss / 1024))"
done
