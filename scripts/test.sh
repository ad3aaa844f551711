#!/usr/bin/env bash
# The one test command (README): installs what the tests need, then runs every test.
# Works on a clean machine with only the Rust toolchain; safe to rerun.
set -euo pipefail
cd "$(dirname "$0")/.."

# Peers needed by driver tests are installed here as drivers land (see ../shared/PEERS.md).
# Validation, planning and the simulator need nothing beyond cargo.

cargo build --locked --all-targets
cargo test --locked --all-targets -- --test-threads="${TEST_THREADS:-2}"
# Doc tests are not part of --all-targets.
cargo test --locked --doc
