#!/usr/bin/env bash
# Rehearses scripts/bench-ktls.sh on a kernel with kTLS when the host has none:
# boots the stock Debian kernel under QEMU (scripts/ktls-vm.sh) and runs the
# unchanged script there, with Petrel at ktls = "required", Redis 7, and
# Petrel at ktls = "off", on every scenario it measures. It proves that the
# script finds kTLS, that every system finishes every round, and that
# Petrel's rounds ran on kernel TLS (scripts/ktls-vm/run-bench-ktls.sh lists
# the checks). The guest is emulated, so its figures mean nothing: kTLS speed
# comes only from scripts/bench-ktls.sh on a host whose own kernel has kTLS.
#
# Usage: scripts/bench-ktls-vm.sh
# Environment:
#   ROUNDS (1), DURATION (5 s), EQUAL_LOAD (0.8), EQUAL_LOAD_ROUNDS (1)
#   IDLE_WARMUP (30 s: under emulation Redis 7 opens about 70 TLS
#     connections a second, and (f) has 950 idle ones)
#   CPUS (2): the guest's CPUs; bench-ktls.sh gives half to the servers, so
#     4 runs Petrel on 2 data cores and Redis with 2 io-threads
#   NO_BUILD=1 (use target/release as it is), TIMEOUT (3600 s for the
#     guest), OUT (target/ktls-vm/bench-rehearsal)
# Exits 0 only if the guest passed every check; the guest's report files
# and its console log (console.log) are written into OUT, replacing files
# of the same name.
# Takes about 9 minutes on the 2-core development machine; not part of
# scripts/test.sh.

set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
out="${OUT:-$repo/target/ktls-vm/bench-rehearsal}"
say() { printf 'bench-ktls-vm: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 2; }

# Debian's own python3.11, whose library is /usr/lib/python3.11 (a python3
# earlier on PATH may be another build or a wrapper script).
python=/usr/bin/python3.11
[ -x "$python" ] && [ -d /usr/lib/python3.11 ] || die "needs Debian's python3.11 (apt-get install python3)"
for tool in redis-server openssl lscpu bash; do
    command -v "$tool" >/dev/null || die "missing $tool (scripts/install-deps.sh installs it)"
done
if [ "${NO_BUILD:-0}" != 1 ]; then
    cargo build -q --locked --release -p petrel -p petrel-bench || die "cargo build failed"
fi
for binary in target/release/petrel target/release/petrel-bench; do
    [ -x "$binary" ] || die "no $binary"
done

stage="$(mktemp -d "${TMPDIR:-/tmp}/bench-ktls-vm.XXXXXX")"
trap 'rm -rf "$stage"' EXIT

# python3's library, without what compare.py never loads, and the shared
# libraries its extension modules link against (scripts/ktls-vm.sh copies
# only the libraries of the binaries it is given).
libs=()
for module in /usr/lib/python3.11/lib-dynload/*.so; do
    for lib in $(ldd "$module" 2>/dev/null | grep -o '/[^ ]*' || true); do
        libs+=("${lib#/}")
    done
done
tar -C / --dereference -czf "$stage/python-stdlib.tar.gz" \
    --exclude='__pycache__' --exclude='usr/lib/python3.11/test' --exclude='usr/lib/python3.11/idlelib' \
    --exclude='usr/lib/python3.11/tkinter' --exclude='usr/lib/python3.11/turtledemo' \
    --exclude='usr/lib/python3.11/ensurepip' --exclude='usr/lib/python3.11/lib2to3' \
    --exclude='usr/lib/python3.11/config-3.11-x86_64-linux-gnu' \
    usr/lib/python3.11 $(printf '%s\n' "${libs[@]}" | sort -u)

mkdir -p "$stage/petrel/scripts" "$stage/petrel/bench"
cp scripts/bench-ktls.sh "$stage/petrel/scripts/"
cp bench/compare.py "$stage/petrel/bench/"
tar -C "$stage" -czf "$stage/bench-tree.tar.gz" petrel
cat >"$stage/rehearsal.env" <<EOF
ROUNDS=${ROUNDS:-1}
DURATION=${DURATION:-5}
EQUAL_LOAD=${EQUAL_LOAD:-0.8}
EQUAL_LOAD_ROUNDS=${EQUAL_LOAD_ROUNDS:-1}
IDLE_WARMUP=${IDLE_WARMUP:-30}
PETREL_GIT_REVISION=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
EOF

set +e
scripts/ktls-vm.sh --timeout "${TIMEOUT:-3600}" --memory 3072 --cpus "${CPUS:-2}" \
    --script scripts/ktls-vm/run-bench-ktls.sh \
    --file "$stage/python-stdlib.tar.gz" --file "$stage/bench-tree.tar.gz" --file "$stage/rehearsal.env" \
    petrel="$repo/target/release/petrel" petrel-bench="$repo/target/release/petrel-bench" \
    python3="$python" redis-server="$(command -v redis-server)" openssl="$(command -v openssl)" \
    lscpu="$(command -v lscpu)" bash="$(command -v bash)"
status=$?
set -e

# The guest printed its report files between markers; keep them. A log
# older than this run's staging is a previous run's: the guest never booted.
log="${KTLS_VM_CACHE:-$repo/target/ktls-vm}/last-run.log"
mkdir -p "$out"
if [ -f "$log" ] && [ "$log" -nt "$stage/rehearsal.env" ]; then
    awk -v dir="$out" '
        /^BENCH-KTLS-FILE / { file = dir "/" $2; next }
        /^BENCH-KTLS-END$/ { close(file); file = ""; next }
        file != "" { print > file }
    ' "$log"
    cp "$log" "$out/console.log"
    say "guest report files in $out"
else
    say "the guest did not run; nothing written to $out"
fi
exit "$status"
