#!/usr/bin/env bash
# Instructions per request of Petrel and Redis 7 on the same load, counted
# by valgrind's callgrind (repeatable whatever else the machine is doing,
# and available where hardware counters are not); see bench/README.md.
#
# Each server runs under callgrind (Petrel with one data core and the epoll
# driver, which valgrind follows; io_uring it does not). petrel-bench fills
# the key space, then, with counting on, sends a short load (one request per
# client: connection setup and TLS handshakes) and a long one (REQUESTS per
# client); the difference of the two counts divided by the difference in
# requests is the cost of one request in steady state, with start-up,
# handshakes and shutdown left out.
#
# Environment (all optional):
#   SYSTEMS=petrel,redis   MODES=plain,tls   CLIENTS=50   REQUESTS=1000
#   PIPELINE=1   DATA_SIZE=32   RATIO=1:10   KEYS=10000
#   PETREL_BIN PETREL_BENCH REDIS_SERVER   OUT_DIR (default: a temp dir)
# Prints one line per system and mode, and leaves callgrind.out files and
# callgrind_annotate listings in OUT_DIR.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
PETREL_BIN="${PETREL_BIN:-$root/target/release/petrel}"
PETREL_BENCH="${PETREL_BENCH:-$root/target/release/petrel-bench}"
REDIS_SERVER="${REDIS_SERVER:-redis-server}"
SYSTEMS="${SYSTEMS:-petrel,redis}"
MODES="${MODES:-plain,tls}"
CLIENTS="${CLIENTS:-50}"
REQUESTS="${REQUESTS:-1000}"
PIPELINE="${PIPELINE:-1}"
DATA_SIZE="${DATA_SIZE:-32}"
RATIO="${RATIO:-1:10}"
KEYS="${KEYS:-10000}"
PORT="${PORT:-7491}"
OUT_DIR="${OUT_DIR:-$(mktemp -d /tmp/petrel-callgrind.XXXXXX)}"
mkdir -p "$OUT_DIR"

for tool in valgrind callgrind_control callgrind_annotate "$REDIS_SERVER"; do
    command -v "$tool" >/dev/null || { echo "callgrind.sh: missing $tool" >&2; exit 1; }
done
[ -x "$PETREL_BENCH" ] || { echo "callgrind.sh: no petrel-bench at $PETREL_BENCH (cargo build --release -p petrel-bench)" >&2; exit 1; }

certs="$OUT_DIR/certs"
if [ ! -f "$certs/ca.pem" ]; then
    "$PETREL_BIN" certs generate --out "$certs" >/dev/null
fi

server_pid=
cleanup() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
}
trap cleanup EXIT

wait_port() {
    for _ in $(seq 1 600); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "callgrind.sh: nothing listens on port $PORT" >&2
    return 1
}

# Total instructions (Ir) of one callgrind dump.
instructions() {
    sed -n 's/^summary: *\([0-9]*\).*/\1/p; s/^totals: *\([0-9]*\).*/\1/p' "$1" | head -1
}

bench() {
    local mode="$1" clients="$2"; shift 2
    local tls=()
    [ "$mode" = tls ] && tls=(--tls --cacert "$certs/ca.pem")
    "$PETREL_BENCH" -s 127.0.0.1 -p "$PORT" -t 1 -c "$clients" -d "$DATA_SIZE" \
        --key-maximum "$((KEYS - 1))" --hide-histogram "${tls[@]}" "$@" >/dev/null 2>"$OUT_DIR/bench.err" || {
        echo "callgrind.sh: petrel-bench failed:" >&2; tail -5 "$OUT_DIR/bench.err" >&2; return 1; }
}

for system in ${SYSTEMS//,/ }; do
    for mode in ${MODES//,/ }; do
        name="$system-$mode"
        out="$OUT_DIR/callgrind.out.$name"
        rm -f "$out" "$out".*
        case "$system" in
            petrel)
                config="$OUT_DIR/$name.toml"
                {
                    echo '[node]'
                    echo 'bind = "127.0.0.1"'
                    echo 'data_cores = [0]'
                    echo 'io_driver = "epoll"'
                    if [ "$mode" = tls ]; then
                        echo; echo '[node.tls]'
                        echo "proxy_cert = \"$certs/proxy.pem\""
                        echo "proxy_key = \"$certs/proxy.key\""
                    fi
                    echo; echo '[[databases]]'
                    echo 'name = "default"'
                    echo "port = $PORT"
                    if [ "$mode" = tls ]; then
                        echo 'tls_mode = "enabled"'
                        echo 'enforce_client_authentication = "disabled"'
                    fi
                } >"$config"
                argv=("$PETREL_BIN" serve --config "$config")
                ;;
            redis)
                argv=("$REDIS_SERVER" --bind 127.0.0.1 --save '' --appendonly no --dir "$OUT_DIR")
                if [ "$mode" = tls ]; then
                    argv+=(--port 0 --tls-port "$PORT" --tls-cert-file "$certs/proxy.pem"
                           --tls-key-file "$certs/proxy.key" --tls-ca-cert-file "$certs/ca.pem"
                           --tls-auth-clients no)
                else
                    argv+=(--port "$PORT")
                fi
                ;;
            *) echo "callgrind.sh: unknown system $system" >&2; exit 1 ;;
        esac
        valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out" \
            "${argv[@]}" >"$OUT_DIR/$name.log" 2>&1 &
        server_pid=$!
        wait_port
        bench "$mode" 10 --ratio 1:0 --key-pattern P:P -n allkeys --pipeline 16
        callgrind_control -i on "$server_pid" >/dev/null
        bench "$mode" "$CLIENTS" --ratio "$RATIO" --pipeline "$PIPELINE" -n 1
        callgrind_control -d short "$server_pid" >/dev/null
        bench "$mode" "$CLIENTS" --ratio "$RATIO" --pipeline "$PIPELINE" -n "$REQUESTS"
        callgrind_control -d long "$server_pid" >/dev/null
        callgrind_control -i off "$server_pid" >/dev/null
        kill -TERM "$server_pid"
        wait "$server_pid" 2>/dev/null || true
        server_pid=
        # Dumps are numbered in order: .1 the short load, .2 the long one
        # (counters restart after each dump).
        short_ir="$(instructions "$out.1")"
        long_ir="$(instructions "$out.2")"
        short_n=$CLIENTS
        long_n=$((CLIENTS * REQUESTS))
        per_request=$(( (long_ir - short_ir) / (long_n - short_n) ))
        callgrind_annotate --inclusive=no "$out.2" >"$OUT_DIR/$name.self.txt" 2>/dev/null || true
        callgrind_annotate --inclusive=yes "$out.2" >"$OUT_DIR/$name.inclusive.txt" 2>/dev/null || true
        printf '%-8s %-6s %12s instructions for %7d requests, %12s for %4d: %6d per request\n' \
            "$system" "$mode" "$long_ir" "$long_n" "$short_ir" "$short_n" "$per_request"
    done
done
echo "profiles in $OUT_DIR"
