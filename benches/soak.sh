#!/usr/bin/env bash
# Soak: ROUNDS applies of a generated 300-node site from scratch, each SIGKILLed at random
# moments (0.2-1.6 s in) and rerun until it completes on its own. After each: the plan must be
# empty and no task left unfinished (the journal's unfinished task wins over the simulator's
# "Deployed"). Prints the kills and the rounds that did not converge (0 is the only pass).
# Usage: benches/soak.sh   (ROUNDS, BENCH_DIR)
set -uo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin drydock --example generate_site
bin=$PWD/target/release/drydock
work=${BENCH_DIR:-$(mktemp -d)}
[ -d "$work/site-300/nodes" ] || target/release/examples/generate_site --nodes 300 --out "$work/site-300" >/dev/null
site=$work/site-300 state=$work/soak-state
total=0 bad=0
for round in $(seq 1 "${ROUNDS:-12}"); do
  rm -rf "$state"
  kills=0
  while :; do
    "$bin" apply "$site" --auto-approve --state "$state" --progress none --sim-time-scale 0.002 >/dev/null 2>&1 &
    pid=$!
    sleep "$(python3 -c 'import random; print(random.uniform(0.2, 1.6))')"
    if kill -9 "$pid" 2>/dev/null; then
      kills=$((kills + 1)); wait "$pid" 2>/dev/null
    else
      wait "$pid" 2>/dev/null; break
    fi
  done
  total=$((total + kills))
  "$bin" plan "$site" --state "$state" --detailed-exitcode >/dev/null 2>&1; plan=$?
  open=$("$bin" tasks "$site" --state "$state" 2>/dev/null | awk 'NR > 1 && $4 != "succeeded"' | wc -l)
  if [ "$plan" -ne 0 ] || [ "$open" -ne 0 ]; then bad=$((bad + 1)); fi
  echo "round $round: $kills SIGKILLs, plan exit $plan, tasks not succeeded $open"
done
echo "$total SIGKILLs over ${ROUNDS:-12} applies of 300 nodes; rounds not converged: $bad"
[ "$bad" -eq 0 ]
