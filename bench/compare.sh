#!/usr/bin/env bash
# Petrel (one data core) against Redis 7 (one core), plain and TLS, and the
# hash, list and sorted-set commands (petrel-bench --command), measured
# with petrel-bench on the other core; see bench/README.md.
#
# Checks the tools, brings petrel-bench and petrel (release) up to date with
# the sources (cargo does nothing when they are), then hands over to
# bench/compare.py, which starts the
# servers, runs the alternating rounds and writes
# bench/results/<date>-<cpu>.md, .json and -latency.svg.
#
# Environment (all optional):
#   SERVER_CORE=0 CLIENT_CORE=1   cores for the servers and for the generator
#                                 (SERVER_CORES/CLIENT_CORES take taskset lists;
#                                 Petrel gets one data core per server core)
#   SYSTEMS=petrel,redis          add petrel-ktls-off for a ktls = "off" column
#   BENCH_THREADS=1               petrel-bench threads (50 clients each)
#   ROUNDS=3 DURATION=5           rounds per system, seconds per round
#   SCENARIOS=a,b,b-auth,c,c-tls,d,d-tls,e,f,hash,list,zset
#   PETREL_BIN=target/release/petrel PETREL_BENCH=target/release/petrel-bench
#   REDIS_SERVER=redis-server PORT_BASE=7400 OUT_DIR=bench/results LABEL=
#   PETREL_KTLS=auto|required|off (written as [node.tls] ktls when set)
#   NO_BUILD=1                    never run cargo (use the binaries as they are)
#   EQUAL_LOAD=0.5,0.8            after the throughput rounds, every system at
#                                 these fractions of the slowest median ops/s
#                                 (the same request rate), for p99 at equal
#                                 load; 0 skips those rounds
#   EQUAL_LOAD_ROUNDS=$ROUNDS     rounds per system at equal load
#   EQUAL_LOAD_DRIVER=io_uring    petrel-bench's driver at equal load: io_uring
#                                 (gathers its connections' requests into one
#                                 submission per round), epoll (writes each
#                                 as it goes), or io_uring,epoll
#   IDLE_WARMUP=4                 seconds (f)'s 950 idle connections get to
#                                 open before each round
#   INTERLEAVE_PLAIN=0            Petrel TLS/plain from the plaintext scenario
#                                 (default: Petrel plain rounds run in the TLS
#                                 scenario's own rotation)
# Arguments are passed to compare.py (try --help).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
# Binaries given by path are used as they are; the defaults are rebuilt
# when the sources changed, so a run never measures a stale build.
build_bench=0; build_petrel=0
[ -z "${PETREL_BENCH:-}" ] && build_bench=1
[ -z "${PETREL_BIN:-}" ] && build_petrel=1
export PETREL_BIN="${PETREL_BIN:-$root/target/release/petrel}"
export PETREL_BENCH="${PETREL_BENCH:-$root/target/release/petrel-bench}"
export REDIS_SERVER="${REDIS_SERVER:-redis-server}"

missing=()
for tool in "$REDIS_SERVER" taskset python3 openssl; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "compare.sh: missing ${missing[*]} (Debian: apt-get install -y redis-server redis-tools util-linux python3 openssl)" >&2
    exit 1
fi
redis_major="$("$REDIS_SERVER" --version | sed -n 's/.* v=\([0-9]*\)\..*/\1/p')"
if [ "${redis_major:-0}" -lt 7 ]; then
    echo "compare.sh: warning: $("$REDIS_SERVER" --version) is not Redis 7" >&2
fi
server_cores="${SERVER_CORES:-${SERVER_CORE:-0}}"
client_cores="${CLIENT_CORES:-${CLIENT_CORE:-1}}"
if ! taskset -c "$server_cores" true 2>/dev/null || ! taskset -c "$client_cores" true 2>/dev/null; then
    echo "compare.sh: cannot pin to cores '$server_cores' / '$client_cores' (this host has $(nproc)); set SERVER_CORE/CLIENT_CORE" >&2
    exit 1
fi
if [ "$server_cores" = "$client_cores" ]; then
    echo "compare.sh: warning: servers and generator share cores $server_cores; figures will be meaningless" >&2
fi

if [ "${NO_BUILD:-0}" != 1 ]; then
    if [ "$build_bench" = 1 ] || [ ! -x "$PETREL_BENCH" ]; then
        echo "compare.sh: building petrel-bench (release)" >&2
        cargo build --release -p petrel-bench >&2
    fi
    if [ "$build_petrel" = 1 ] || [ ! -x "$PETREL_BIN" ]; then
        echo "compare.sh: building petrel (release)" >&2
        cargo build --release --bin petrel >&2 || echo "compare.sh: petrel did not build; Redis columns only" >&2
    fi
fi
[ -x "$PETREL_BENCH" ] || { echo "compare.sh: no petrel-bench at $PETREL_BENCH" >&2; exit 1; }
[ -x "$PETREL_BIN" ] || echo "compare.sh: no petrel at $PETREL_BIN: every Petrel column will say so" >&2

exec python3 "$root/bench/compare.py" "$@"
