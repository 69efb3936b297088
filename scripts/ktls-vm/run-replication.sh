# Guest script of scripts/ktls-vm.sh: proves that a replication link keeps
# its kernel TLS state when the source hands it from a data ring to the sync
# ring. Needs petrel and redis-cli on PATH. It starts two petrel nodes
# sharing one development PKI:
#   - a source database with tls_mode = "enabled", client certificates
#     enforced and ktls = "auto";
#   - a destination database (plaintext to its clients) whose
#     replica_sources pull from the source over TLS with the syncer
#     certificate;
# and fails unless:
#   - the destination loads the source's keys (full sync) and then the
#     writes made after it (the stream), byte for byte;
#   - while no client is connected, /proc/net/tls_stat counts a socket in
#     kernel TLS in each direction: the source's end of the replication link,
#     after its move to the sync ring;
#   - a write made after the link has idled still arrives (the moved socket's
#     kernel TLS state and sequence numbers are intact);
#   - neither node logged a WARN or ERROR line, and no connection fell back
#     to userspace TLS.
# Prints "PASS replication: ..." / "FAIL replication: ..." lines and a
# summary; exits 0 only if every check passed.
#
# On a host without kTLS the same script checks itself against userspace
# TLS (the tls_stat checks are skipped):
# PETREL_VM_EXPECT=tls PATH=target/debug:$PATH sh scripts/ktls-vm/run-replication.sh

set -u
expect="${PETREL_VM_EXPECT:-ktls}"
work="${PETREL_VM_WORK:-/tmp/petrel-vm-replication}"
source_port="${PETREL_VM_SOURCE_PORT:-6400}"
destination_port="${PETREL_VM_DESTINATION_PORT:-6401}"
keys=2000

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "PASS replication: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL replication: $*"; }
now() { date +%s; }

source_pid=""
destination_pid=""
finish() {
    for pid in $source_pid $destination_pid; do
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    if [ "$failed" -gt 0 ]; then
        for log in source.log destination.log; do
            [ -f "$work/$log" ] || continue
            echo "replication: last lines of $log:"
            tail -n 20 "$work/$log" | sed 's/^/    /'
        done
    fi
    echo "PETREL-REPLICATION: $passed passed, $failed failed ($(($(now) - started)) s)"
    [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
    exit $?
}
started=$(now)

rm -rf "$work" && mkdir -p "$work" && cd "$work" || { fail "cannot use $work"; finish; }
if ! petrel certs generate --out certs >/dev/null; then
    fail "petrel certs generate"
    finish
fi
cat >source.toml <<EOF
[node]
bind = "127.0.0.1"

[node.tls]
proxy_cert = "certs/proxy.pem"
proxy_key = "certs/proxy.key"
syncer_cert = "certs/syncer.pem"
syncer_key = "certs/syncer.key"
ktls = "auto"

[[databases]]
name = "source"
port = $source_port
tls_mode = "enabled"
enforce_client_authentication = "enabled"
authentication_ssl_client_certs = [ { client_cert = "certs/client1.pem" } ]
EOF
cat >destination.toml <<EOF
[node]
bind = "127.0.0.1"

[node.tls]
syncer_cert = "certs/syncer.pem"
syncer_key = "certs/syncer.key"
ktls = "auto"

[[databases]]
name = "destination"
port = $destination_port
replica_sources = [ { uri = "redis://127.0.0.1:$source_port", encryption = true, server_cert = "certs/ca.pem" } ]
EOF

source_cli() {
    timeout 60 redis-cli --tls --cacert certs/ca.pem --cert certs/client1.pem \
        --key certs/client1.key -h 127.0.0.1 -p "$source_port" "$@"
}
destination_cli() {
    timeout 60 redis-cli -h 127.0.0.1 -p "$destination_port" "$@"
}
# tls_stat NAME: a counter of the kernel's kTLS sockets.
tls_stat() {
    sed -n "s/^$1[[:space:]]*//p" /proc/net/tls_stat 2>/dev/null
}
# log_problems: WARN and ERROR lines of either node (on a host without kTLS,
# but for the start-up line that says so).
log_problems() {
    grep -hE '(^|[^A-Za-z])(WARN|ERROR)([^A-Za-z]|$)' source.log destination.log |
        if [ "$expect" = ktls ]; then cat; else grep -v 'kernel TLS is unavailable'; fi
}
# wait_for SECONDS WHAT COMMAND...: runs COMMAND every half second until it
# succeeds; false after SECONDS.
wait_for() {
    local deadline=$(($(now) + $1)) what=$2
    shift 2
    while [ "$(now)" -lt "$deadline" ]; do
        if "$@"; then
            return 0
        fi
        sleep 0.5
    done
    echo "replication: gave up waiting for $what"
    return 1
}
destination_has() {
    [ "$(destination_cli get "$1" 2>/dev/null)" = "$2" ]
}
destination_dbsize_is() {
    [ "$(destination_cli dbsize 2>/dev/null)" = "$1" ]
}

RUST_LOG=info petrel serve --config source.toml >source.log 2>&1 &
source_pid=$!
if ! wait_for 60 "the source to answer over TLS" sh -c "[ \"\$(timeout 10 redis-cli --tls --cacert certs/ca.pem --cert certs/client1.pem --key certs/client1.key -p $source_port ping 2>/dev/null)\" = PONG ]"; then
    fail "the source did not answer PING over TLS within 60 s"
    finish
fi

# The snapshot: keys written before the destination exists.
i=0
: >load.txt
while [ "$i" -lt "$keys" ]; do
    echo "SET key:$i value-$i" >>load.txt
    i=$((i + 1))
done
if source_cli --pipe <load.txt >pipe.out 2>&1 && grep -q "errors: 0, replies: $keys" pipe.out; then
    pass "$keys keys written to the source over TLS"
else
    fail "loading the source: $(tail -n 2 pipe.out)"
    finish
fi

RUST_LOG=info petrel serve --config destination.toml >destination.log 2>&1 &
destination_pid=$!
if wait_for 120 "the full sync" destination_dbsize_is "$keys" &&
    destination_has key:0 value-0 && destination_has "key:$((keys - 1))" "value-$((keys - 1))"; then
    pass "full sync over TLS: the destination holds all $keys keys"
else
    fail "full sync: destination DBSIZE $(destination_cli dbsize 2>&1)"
    finish
fi

source_cli set streamed first >/dev/null
if wait_for 30 "the first streamed write" destination_has streamed first; then
    pass "a write after the full sync streams to the destination"
else
    fail "the write after the full sync did not arrive"
fi

fallbacks=$(source_cli info tls | tr -d '\r' | grep -E '^ktls_fallback' | grep -v ':0$')
if [ "$expect" = ktls ]; then
    # No client is connected now: the only sockets in kernel TLS are the
    # replication link's. The source's end (accepted on a data ring, moved to
    # the sync ring) must be one of them in each direction.
    tx=$(tls_stat TlsCurrTxSw)
    rx=$(tls_stat TlsCurrRxSw)
    if [ "${tx:-0}" -ge 1 ] && [ "${rx:-0}" -ge 1 ]; then
        pass "the replication link is in kernel TLS after its move (TlsCurrTxSw=$tx TlsCurrRxSw=$rx)"
    else
        fail "no kernel TLS socket while only the replication link is open (TlsCurrTxSw=$tx TlsCurrRxSw=$rx)"
    fi
    if [ -z "$fallbacks" ]; then
        pass "no connection fell back to userspace TLS"
    else
        fail "fallbacks to userspace TLS: $fallbacks"
    fi
fi

# An idle link, then more writes: the moved socket's record sequence numbers
# must still agree with the destination's.
sleep 3
i=0
: >more.txt
while [ "$i" -lt 200 ]; do
    echo "SET after:$i $i" >>more.txt
    i=$((i + 1))
done
source_cli --pipe <more.txt >/dev/null 2>&1
if wait_for 60 "the writes after an idle link" destination_has after:199 199 &&
    destination_dbsize_is "$((keys + 201))"; then
    pass "200 writes after an idle link arrive, DBSIZE $((keys + 201)) on both sides"
else
    fail "writes after an idle link: destination DBSIZE $(destination_cli dbsize 2>&1)"
fi

problems=$(log_problems)
if [ -z "$problems" ]; then
    pass "neither node logged a WARN or ERROR"
else
    fail "logged: $problems"
fi
finish
