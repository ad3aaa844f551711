#!/usr/bin/env bash
# The one test command (README): installs what the tests need, then runs every test.
# Works on a clean Debian 12 machine with only the Rust toolchain (as root, or with sudo); safe to
# rerun, and quick when everything is already installed.
set -euo pipefail
cd "$(dirname "$0")/.."

# Real BMC peers for the driver tests (README, "Two commands"): apt-get and a venv under .peers/, each
# only when missing. Validation, planning and the simulator need nothing beyond cargo.
export DRYDOCK_PEERS="${DRYDOCK_PEERS:-$PWD/.peers}"
./scripts/install-peers.sh
# The netboot peers (README, "The netboot tests"): QEMU, libvirt, dnsmasq, iPXE, OVMF, cloud-init, the
# cloud kernel, sushy-tools and VirtualBMC, and the deploy agent's initramfs.
./scripts/install-netboot.sh

cargo build --locked --all-targets
# Benchmarks are built above but not run (`cargo bench` runs them).
# --no-fail-fast: one failing test binary does not hide the others' results.
cargo test --locked --no-fail-fast --lib --bins --tests --examples -- --test-threads="${TEST_THREADS:-2}"
# Doc tests are not part of --all-targets.
cargo test --locked --no-fail-fast --doc
