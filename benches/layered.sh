#!/usr/bin/env bash
# Benchmark: layered (Pegleg) repositories and one big file, end to end (the whole process,
# release build). Prints wall time (best of RUNS) and peak RSS.
#   1. `drydock validate REPO --site gen` on `generate_site --layered` repositories: 640 nodes
#      (about 700 documents, the size of the largest public Airship site), 1,000 and 10,000
#      nodes (linear means ×10).
#   2. `drydock validate FILE` on the 10,000-node flat site written as one YAML stream.
# Usage: benches/layered.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
cargo build --release --quiet --bin drydock --example generate_site
bin=target/release/drydock
gen=target/release/examples/generate_site
work=${BENCH_DIR:-$(mktemp -d)}

measure() {
  local times=() rss=0 out r
  for _ in $(seq "$RUNS"); do
    out=$( { /usr/bin/time -f '%e %M' "$@" >/dev/null; } 2>&1 | tail -1)
    times+=("${out% *}")
    r=${out#* }
    [ "$r" -gt "$rss" ] && rss=$r
  done
  best=$(printf '%s\n' "${times[@]}" | sort -n | head -1)
  echo "$best $((rss / 1024))"
}

printf '%-34s %9s %8s %12s\n' case documents "best s" "peak RSS MB"
for n in 640 1000 10000; do
  dir="$work/layered-$n"
  [ -d "$dir/site" ] || "$gen" --nodes "$n" --out "$dir" --layered >/dev/null 2>&1
  docs=$(cat "$dir"/global/*.yaml "$dir"/type/foundry/*.yaml "$dir"/site/gen/*.yaml "$dir"/site/gen/baremetal/*.yaml | grep -c '^---')
  read -r best rss < <(measure "$bin" validate "$dir" --site gen --quiet)
  printf '%-34s %9s %8s %12s\n' "layered, $n nodes: validate --site" "$docs" "$best" "$rss"
done
flat="$work/flat-10000"
[ -d "$flat/nodes" ] || "$gen" --nodes 10000 --out "$flat" >/dev/null 2>&1
one="$work/one-10000.yaml"
cat "$flat"/site/*.yaml "$flat"/nodes/*.yaml > "$one"
docs=$(grep -c '^---' "$one")
read -r best rss < <(measure "$bin" validate "$one" --quiet)
printf '%-34s %9s %8s %12s\n' "one file, $(( $(stat -c %s "$one") / 1000000 )) MB, 10000 nodes" "$docs" "$best" "$rss"
