# Guest script of scripts/ktls-vm.sh: proves kernel TLS in the real petrel
# server. Needs petrel, redis-cli and pipelined_client (the petrel-ktls
# example) on PATH. It starts petrel with one TLS database (client
# certificates enforced, ktls = "auto") and fails unless:
#   - petrel's start-up probe found kTLS (INFO: ktls_kernel:available);
#   - for TLS 1.2 and 1.3 with AES-128-GCM, AES-256-GCM and
#     ChaCha20-Poly1305, redis-cli (OpenSSL) negotiates that suite, lands on
#     kTLS (CLIENT INFO: transport=ktls), and SET/GET of values from 1 byte to
#     4 MiB round-trip exactly;
#   - pipelined_client, whose commands leave with its Finished, gets every
#     answer, sees itself as transport=ktls in CLIENT INFO / CLIENT LIST and in
#     INFO's connections_ktls, and /proc/net/tls_stat counts TlsCurrTxSw and
#     TlsCurrRxSw above 0 while it is connected;
#   - its close_notify ends the connection: the server closes, the kTLS gauge
#     drops, /proc/net/tls_stat falls back to 0 once every client has left,
#     and petrel's log has no WARN or ERROR line;
#   - no connection fell back to userspace TLS or failed its handshake.
# Prints "PASS petrel: ..." / "FAIL petrel: ..." lines and a summary; exits 0
# only if every check passed.
#
# On a host without kTLS the same script checks itself against userspace
# TLS: PETREL_VM_EXPECT=tls PATH=target/debug:target/debug/examples:$PATH sh
# scripts/ktls-vm/run-petrel.sh

set -u
expect="${PETREL_VM_EXPECT:-ktls}"
work="${PETREL_VM_WORK:-/tmp/petrel-vm}"
port="${PETREL_VM_PORT:-6390}"
# Under emulation one redis-cli run with 4 MiB takes seconds, not minutes.
client_timeout=120
sizes="1 2 100 16383 16384 16385 65543 1048576 4194304"
# TLS version, OpenSSL name (for redis-cli), rustls/IANA name (petrel's CLIENT LIST).
suites="1.3:TLS_AES_128_GCM_SHA256:TLS13_AES_128_GCM_SHA256
1.3:TLS_AES_256_GCM_SHA384:TLS13_AES_256_GCM_SHA384
1.3:TLS_CHACHA20_POLY1305_SHA256:TLS13_CHACHA20_POLY1305_SHA256
1.2:ECDHE-ECDSA-AES128-GCM-SHA256:TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
1.2:ECDHE-ECDSA-AES256-GCM-SHA384:TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
1.2:ECDHE-ECDSA-CHACHA20-POLY1305:TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "PASS petrel: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL petrel: $*"; }
now() { date +%s; }

petrel_pid=""
finish() {
    if [ -n "$petrel_pid" ]; then
        kill "$petrel_pid" 2>/dev/null
        wait "$petrel_pid" 2>/dev/null
    fi
    if [ "$failed" -gt 0 ] && [ -f "$work/petrel.log" ]; then
        echo "petrel: last lines of petrel's log:"
        tail -n 30 "$work/petrel.log" | sed 's/^/    /'
    fi
    echo "PETREL-VM: $passed passed, $failed failed ($(($(now) - started)) s)"
    [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
    exit $?
}
started=$(now)

rm -rf "$work" && mkdir -p "$work" && cd "$work" || { fail "cannot use $work"; finish; }
if ! petrel certs generate --out certs >/dev/null; then
    fail "petrel certs generate"
    finish
fi
cat >petrel.toml <<EOF
[node]
bind = "127.0.0.1"

[node.tls]
proxy_cert = "certs/proxy.pem"
proxy_key = "certs/proxy.key"
ktls = "auto"

[[databases]]
name = "default"
port = $port
tls_mode = "enabled"
enforce_client_authentication = "enabled"
authentication_ssl_client_certs = [ { client_cert = "certs/client1.pem" } ]
EOF
# redis-cli has no protocol-version flag: cap OpenSSL at TLS 1.2 through its
# configuration file for the TLS 1.2 runs.
cat >tls12.cnf <<'EOF'
openssl_conf = petrel_vm
[petrel_vm]
ssl_conf = petrel_vm_ssl
[petrel_vm_ssl]
system_default = petrel_vm_tls12
[petrel_vm_tls12]
MaxProtocol = TLSv1.2
EOF

base="--tls --cacert certs/ca.pem --cert certs/client1.pem --key certs/client1.key -h 127.0.0.1 -p $port"
# cli VERSION OPENSSL_SUITE ARGS...: redis-cli offering one suite.
cli() {
    local cli_version=$1 cli_suite=$2
    shift 2
    if [ "$cli_version" = 1.2 ]; then
        OPENSSL_CONF="$work/tls12.cnf" timeout "$client_timeout" redis-cli $base --tls-ciphers "$cli_suite" "$@"
    else
        timeout "$client_timeout" redis-cli $base --tls-ciphersuites "$cli_suite" "$@"
    fi
}
# info_field NAME: one field of INFO tls, over a fresh TLS 1.3 connection.
info_field() {
    cli 1.3 TLS_AES_128_GCM_SHA256 info tls | tr -d '\r' | sed -n "s/^$1://p"
}
# tls_stat: the kernel's count of sockets with kTLS in each direction now.
tls_stat() {
    echo "TlsCurrTxSw=$(sed -n 's/^TlsCurrTxSw[[:space:]]*//p' /proc/net/tls_stat 2>/dev/null)" \
        "TlsCurrRxSw=$(sed -n 's/^TlsCurrRxSw[[:space:]]*//p' /proc/net/tls_stat 2>/dev/null)"
}
# log_problems: WARN and ERROR lines in petrel's log.
log_problems() {
    grep -E '(^|[^A-Za-z])(WARN|ERROR)([^A-Za-z]|$)' petrel.log
}

# Debug lines of the engine (handshake failures, protocol errors) explain a
# failure; WARN and ERROR lines fail the run.
RUST_LOG="info,petrel_engine=debug" petrel serve --config petrel.toml >petrel.log 2>&1 &
petrel_pid=$!
ready=""
deadline=$(($(now) + 60))
while [ "$(now)" -lt "$deadline" ]; do
    if ! kill -0 "$petrel_pid" 2>/dev/null; then
        break
    fi
    if [ "$(cli 1.3 TLS_AES_128_GCM_SHA256 ping 2>/dev/null)" = PONG ]; then
        ready=yes
        break
    fi
    sleep 1
done
if [ -z "$ready" ]; then
    fail "petrel did not answer PING over TLS within 60 s"
    petrel_pid=""
    finish
fi
pass "petrel serves TLS on port $port ($(($(now) - started)) s after start)"

kernel=$(info_field ktls_kernel)
want_kernel=available
[ "$expect" = ktls ] || want_kernel=unavailable
if [ "$kernel" = "$want_kernel" ]; then
    pass "INFO tls: ktls_kernel:$kernel ($(grep -o 'kernel TLS available[^"]*' petrel.log | head -n 1))"
else
    fail "INFO tls: ktls_kernel:$kernel, expected $want_kernel"
    finish
fi
if [ "$expect" = ktls ]; then
    problems=$(log_problems)
    if [ -z "$problems" ]; then
        pass "start-up logged no WARN or ERROR"
    else
        fail "start-up logged: $problems"
    fi
fi
warnings_before=$(log_problems | wc -l)

count=$(echo $sizes | wc -w)
# The values, and what redis-cli prints for GET of each in turn (raw bytes
# and a newline), then for DEL of all of them.
: >expected
for size in $sizes; do
    head -c "$size" /dev/urandom >"value.$size"
    { cat "value.$size"; echo; } >>expected
done
echo "$count" >>expected

# which_value OFFSET: the size of the value that byte OFFSET of `expected` is in.
which_value() {
    local at=0 size
    for size in $sizes; do
        at=$((at + size + 1))
        if [ "$1" -le "$at" ]; then
            echo "the $size-byte value"
            return
        fi
    done
    echo "the DEL reply"
}

# Splits the suite table without a pipeline (whose loop would run in a
# subshell and lose the pass/fail counts).
old_ifs=$IFS
IFS='
'
for row in $suites; do
    IFS=$old_ifs
    version=${row%%:*}
    rest=${row#*:}
    openssl_suite=${rest%%:*}
    suite=${rest#*:}
    name="TLSv$version $suite"
    round_started=$(now)

    # Every SET over one connection: redis-cli --pipe sends raw RESP.
    : >set.resp
    keys=""
    for size in $sizes; do
        key="value:$suite:$size"
        keys="$keys $key"
        printf '*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n' "${#key}" "$key" "$size" >>set.resp
        cat "value.$size" >>set.resp
        printf '\r\n' >>set.resp
    done
    piped=$(cli "$version" "$openssl_suite" --pipe <set.resp 2>&1 | tr -d '\r')
    case "$piped" in
        *"errors: 0, replies: $count"*) ;;
        *)
            fail "$name: redis-cli --pipe of $count SETs: $(echo $piped)"
            continue ;;
    esac

    # CLIENT INFO, every GET and one DEL over another connection.
    {
        echo "CLIENT INFO"
        for key in $keys; do echo "GET $key"; done
        echo "DEL$keys"
    } | cli "$version" "$openssl_suite" >got 2>&1
    info=$(head -n 1 got | tr -d '\r')
    case "$info" in
        *"transport=$expect tls-version=TLSv$version tls-cipher=$suite"*)
            pass "$name: redis-cli (OpenSSL) lands on ${info##* transport=}" ;;
        *)
            fail "$name: redis-cli CLIENT INFO: ${info:-no reply}" ;;
    esac
    tail -c +$(($(head -n 1 got | wc -c) + 1)) got >got.values
    if cmp -s got.values expected; then
        pass "$name: SET and GET of $count values, 1 B to 4 MiB, round-trip exactly; DEL removes them ($(($(now) - round_started)) s)"
    else
        difference=$(cmp got.values expected 2>&1 | sed -n 's/.* differ: [a-z]* \([0-9]*\).*/\1/p')
        if [ -n "$difference" ]; then
            fail "$name: GET replies differ from the values SET at byte $difference, in $(which_value "$difference")"
        else
            fail "$name: GET replies: $(wc -c <got.values) bytes for $(wc -c <expected) expected"
        fi
    fi

    if pipelined_client --addr "127.0.0.1:$port" --ca certs/ca.pem --cert certs/client1.pem \
        --key certs/client1.key --suite "$suite" --expect-transport "$expect" >pipelined.out 2>&1; then
        pass "$name: pipelined client: $(grep -c '^PASS' pipelined.out) checks passed"
        grep '^PASS' pipelined.out | sed 's/^/    /'
    else
        fail "$name: pipelined client"
        sed 's/^/    /' pipelined.out
    fi

    # The connection that sent close_notify is gone: only INFO's own is left.
    gauge=$(info_field "connections_$expect")
    if [ "$gauge" = 1 ]; then
        pass "$name: after close_notify, connections_$expect is back to 1 (the INFO connection)"
    else
        fail "$name: after close_notify, connections_$expect is ${gauge:-missing}, expected 1"
    fi
    if [ "$expect" = ktls ]; then
        # With every client gone, no kTLS socket may be left: the counts seen
        # while the pipelined client was connected were its connection's.
        stat=$(tls_stat)
        deadline=$(($(now) + 10))
        while [ "$stat" != "TlsCurrTxSw=0 TlsCurrRxSw=0" ] && [ "$(now)" -lt "$deadline" ]; do
            sleep 1
            stat=$(tls_stat)
        done
        if [ "$stat" = "TlsCurrTxSw=0 TlsCurrRxSw=0" ]; then
            pass "$name: with every client gone, /proc/net/tls_stat: $stat"
        else
            fail "$name: with every client gone, /proc/net/tls_stat still counts $stat"
        fi
    fi
    warnings=$(log_problems | wc -l)
    if [ "$warnings" -eq "$warnings_before" ]; then
        pass "$name: no WARN or ERROR in petrel's log"
    else
        fail "$name: petrel logged: $(log_problems | tail -n $((warnings - warnings_before)))"
        warnings_before=$warnings
    fi
done
IFS=$old_ifs

# Every handshake completed, and every TLS connection went to the kernel.
cli 1.3 TLS_AES_128_GCM_SHA256 info tls | tr -d '\r' >info.txt
completed=$(sed -n 's/^handshakes_completed://p' info.txt)
nonzero=$(grep -E '^(handshakes_failed|ktls_fallbacks_[a-z_]+|plaintext_refused_on_tls_port):' info.txt | grep -v ':0$')
if [ "$expect" != ktls ]; then
    # Userspace runs count a kernel_lacks_tls fallback per connection.
    nonzero=$(echo "$nonzero" | grep -v '^ktls_fallbacks_kernel_lacks_tls:')
fi
if [ -z "$nonzero" ] && [ "${completed:-0}" -gt 0 ]; then
    pass "INFO tls: $completed handshakes, none failed, no kTLS fallback"
else
    fail "INFO tls after the run: $(echo $nonzero) (handshakes_completed:${completed:-?})"
fi
finish
