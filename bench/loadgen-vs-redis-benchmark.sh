#!/usr/bin/env bash
# Is petrel-bench fast enough never to be the bottleneck? Drives one
# redis-server (pinned to SERVER_CORE) from the load-generator core
# (CLIENT_CORE) with petrel-bench and with redis-benchmark on the same
# settings -- 50 clients, one thread, SET and GET of 32-byte values over
# 100,000 random keys, pipeline 1 and 16 -- in alternating rounds, and
# writes the medians, the ratio and the exact commands to
# bench/results/<date>-loadgen-vs-redis-benchmark.md.
#
# With TLS=1 the same runs go over TLS (redis-server's tls-port, both
# generators with --tls and the same CA, client authentication off), into
# <date>-loadgen-vs-redis-benchmark-tls.md.
#
# Environment: SERVER_CORE (0), CLIENT_CORE (1), ROUNDS (5), PORT (7390),
# TLS (0), PETREL_BENCH (target/release/petrel-bench), OUT (the results file).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
SERVER_CORE="${SERVER_CORE:-0}"
CLIENT_CORE="${CLIENT_CORE:-1}"
ROUNDS="${ROUNDS:-5}"
PORT="${PORT:-7390}"
PETREL_BENCH="${PETREL_BENCH:-$root/target/release/petrel-bench}"
TLS="${TLS:-0}"
suffix=""; [ "$TLS" = 1 ] && suffix="-tls"
OUT="${OUT:-$here/results/$(date +%Y-%m-%d)-loadgen-vs-redis-benchmark$suffix.md}"

for tool in redis-server redis-benchmark redis-cli taskset python3 openssl; do
    command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install -y redis-server redis-tools util-linux)" >&2; exit 1; }
done
[ -x "$PETREL_BENCH" ] || { echo "missing $PETREL_BENCH (cargo build --release -p petrel-bench)" >&2; exit 1; }

work="$(mktemp -d)"
# Options each client needs for the transport: none, or TLS with the run's CA.
cli_tls=(); rb_tls=""; pb_tls=""; server_listen=(--port "$PORT")
if [ "$TLS" = 1 ]; then
    ssl() { openssl "$@" >/dev/null 2>&1; }
    ssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$work/ca.key" \
        -out "$work/ca.pem" -days 2 -subj "/CN=loadgen CA"
    ssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$work/server.key" \
        -out "$work/server.csr" -subj "/CN=localhost"
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > "$work/server.ext"
    ssl x509 -req -in "$work/server.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial \
        -out "$work/server.pem" -days 2 -extfile "$work/server.ext"
    server_listen=(--port 0 --tls-port "$PORT" --tls-cert-file "$work/server.pem"
        --tls-key-file "$work/server.key" --tls-ca-cert-file "$work/ca.pem" --tls-auth-clients no)
    cli_tls=(--tls --cacert "$work/ca.pem")
    rb_tls="--tls --cacert $work/ca.pem"
    pb_tls="--tls --cacert $work/ca.pem"
fi
cleanup() {
    redis-cli "${cli_tls[@]}" -p "$PORT" shutdown nosave >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

taskset -c "$SERVER_CORE" redis-server "${server_listen[@]}" --bind 127.0.0.1 --save '' --appendonly no \
    --daemonize yes --logfile "$work/redis.log" --dir "$work"
for _ in $(seq 50); do redis-cli "${cli_tls[@]}" -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done

# requests per setting: enough for a few seconds of load at each pipeline depth.
requests_for() { if [ "$1" = 1 ]; then echo 300000; else echo 1600000; fi; }

rb_command() { # pipeline test
    echo "taskset -c $CLIENT_CORE redis-benchmark -h 127.0.0.1 -p $PORT $rb_tls -c 50 -n $(requests_for "$1") -P $1 -d 32 -r 100000 -t $2 -q"
}
pb_command() { # pipeline ratio
    local per_client=$(( $(requests_for "$1") / 50 ))
    echo "taskset -c $CLIENT_CORE $PETREL_BENCH -s 127.0.0.1 -p $PORT $pb_tls -t 1 -c 50 --pipeline $1 -d 32 --ratio $2 --key-maximum 100000 -n $per_client --hide-histogram --json-out-file $work/pb.json"
}

# One measurement: prints "<ops/s> <cpu seconds of the generator>".
measure_rb() {
    local cmd; cmd="$(rb_command "$1" "$2")"
    /usr/bin/time -f "%U %S" -o "$work/time" $cmd 2>/dev/null | tr '\r' '\n' \
        | awk '/requests per second/ {print $2}' | tail -1 | tr -d '\n'
    awk '{printf " %.3f\n", $1 + $2}' "$work/time"
}
measure_pb() {
    local cmd; cmd="$(pb_command "$1" "$2")"
    /usr/bin/time -f "%U %S" -o "$work/time" $cmd >/dev/null 2>"$work/pb.err" || { cat "$work/pb.err" >&2; exit 1; }
    python3 -c "import json; print(json.load(open('$work/pb.json'))['ALL STATS']['Totals']['Ops/sec'], end='')"
    awk '{printf " %.3f\n", $1 + $2}' "$work/time"
}

results="$work/results.txt"
: > "$results"
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
for pipeline in 1 16; do
    for op in set get; do
        ratio=$([ "$op" = set ] && echo 1:0 || echo 0:1)
        # SET rounds run first and fill the key space, so GET rounds mostly hit
        # (as redis-benchmark's GET test follows its SET test).
        [ "$op" = set ] && redis-cli "${cli_tls[@]}" -p "$PORT" flushall >/dev/null
        for round in $(seq "$ROUNDS"); do
            echo "rb $pipeline $op $round $(measure_rb "$pipeline" "$op")" | tee -a "$results" >&2
            echo "pb $pipeline $op $round $(measure_pb "$pipeline" "$ratio")" | tee -a "$results" >&2
        done
    done
done

load_after="$(cut -d' ' -f1-3 /proc/loadavg)"
commit="$(git -C "$root" log -1 --format=%h -- crates/petrel-bench 2>/dev/null || echo unknown)"
transport=$([ "$TLS" = 1 ] && echo "TLS (client authentication off)" || echo plain)
python3 - "$results" "$OUT" "$ROUNDS" "$SERVER_CORE" "$CLIENT_CORE" "$load_before" "$load_after" "$commit" "$transport" \
    "$(rb_command 1 set)" "$(pb_command 1 1:0)" "$(rb_command 16 get)" "$(pb_command 16 0:1)" "$(redis-server --version)" <<'EOF'
import statistics, sys, datetime, platform, subprocess
path, out, rounds, server_core, client_core, load_before, load_after, commit, transport, rb1, pb1, rb16, pb16, redis_version = sys.argv[1:]
rows = {}
for line in open(path):
    tool, pipeline, op, _round, ops, cpu = line.split()
    rows.setdefault((int(pipeline), op, tool), []).append((float(ops), float(cpu)))
cpu_model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown")
lines = [
    f"# petrel-bench vs redis-benchmark, {transport} ({datetime.date.today()})",
    "",
    f"Host: {cpu_model}, {platform.release()}; {redis_version.split(' sha')[0]};"
    f" petrel-bench (release build) at the last commit touching crates/petrel-bench: {commit}.",
    f"redis-server pinned to core {server_core}, the load generator to core {client_core};"
    f" {rounds} alternating rounds per row, medians shown. Both generators: one thread,"
    " 50 connections, 32-byte values, 100,000 random keys; the same number of requests.",
    "CPU/1M ops is the generator's user+system CPU time per million requests (lower means",
    "more headroom); it is less sensitive to other load on the machine than ops/s.",
    f"Load average (1/5/15 min) before: {load_before}; after: {load_after} (other work on the host adds noise).",
    "",
    "| pipeline | command | redis-benchmark ops/s | petrel-bench ops/s | ratio | redis-benchmark CPU s/1M ops | petrel-bench CPU s/1M ops |",
    "|---:|---|---:|---:|---:|---:|---:|",
]
for (pipeline, op) in sorted({(p, o) for (p, o, _t) in rows}):
    rb = rows[(pipeline, op, "rb")]
    pb = rows[(pipeline, op, "pb")]
    rb_ops = statistics.median(o for o, _ in rb)
    pb_ops = statistics.median(o for o, _ in pb)
    requests = 300000 if pipeline == 1 else 1600000
    rb_cpu = statistics.median(c for _, c in rb) / requests * 1e6
    pb_cpu = statistics.median(c for _, c in pb) / requests * 1e6
    lines.append(f"| {pipeline} | {op.upper()} | {rb_ops:,.0f} | {pb_ops:,.0f} | {pb_ops / rb_ops:.2f}x | {rb_cpu:.2f} | {pb_cpu:.2f} |")
lines += [
    "",
    "All rounds (ops/s, generator CPU seconds):",
    "",
    "```",
    *[f"{t} pipeline={p} {o}: " + ", ".join(f"{ops:,.0f} ({cpu:.2f}s)" for ops, cpu in v) for (p, o, t), v in sorted(rows.items())],
    "```",
    "",
    "Commands (pipeline 1 SET and pipeline 16 GET shown; the others differ only in -P/--pipeline, -t/--ratio and -n):",
    "",
    "```",
    rb1, pb1, rb16, pb16,
    "```",
    "",
    "Reproduce: `bench/loadgen-vs-redis-benchmark.sh` (env: SERVER_CORE, CLIENT_CORE, ROUNDS, PORT, TLS=1 for TLS).",
]
open(out, "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
EOF
