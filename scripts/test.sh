#!/usr/bin/env bash
# Runs Petrel's whole test suite: formatting, lints, unit tests, end-to-end
# tests against the real binary, and the kernel-TLS proof in a VM.
# Installs what is missing first (Debian packages).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s ==\n' "$*"; }

step "dependencies"
PETREL_WITH_VM=1 scripts/install-deps.sh

step "format"
cargo fmt --all -- --check

step "lint"
cargo clippy --workspace --all-targets -- -D warnings

step "build"
cargo build --workspace --all-targets

step "tests (unit and end-to-end)"
cargo test --workspace -- --test-threads 2

if [ -x scripts/ktls-vm.sh ]; then
  step "kernel TLS in a VM"
  scripts/ktls-vm.sh
fi

step "done"
