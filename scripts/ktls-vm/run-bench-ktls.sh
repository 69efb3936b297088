# Guest script of scripts/bench-ktls-vm.sh: runs scripts/bench-ktls.sh as
# it is, on the guest's stock Debian kernel, which has kernel TLS. Under
# emulation every figure it prints is meaningless; what this proves is that
# the script and Petrel's kTLS path carry every scenario's load:
#   - bench-ktls.sh finds kTLS and does not skip, and exits 0;
#   - every system of every scenario started, filled its key space and
#     finished every round, at full load and at equal load, with ops > 0;
#   - every Petrel round over TLS (ktls = "required") opened kernel TLS
#     sessions, and every round of Petrel with ktls = "off" opened none;
#   - the results folder holds both runs' .md, .json and chart, the commands,
#     the host description and /proc/net/tls_stat before and after.
# Prints the report files between "BENCH-KTLS-FILE <name>" and
# "BENCH-KTLS-END" lines for the host to keep. Exits 0 only if every check
# passed.
#
# Needs on PATH: bash, python3, petrel, petrel-bench, redis-server, openssl,
# lscpu; /opt/ktls/python-stdlib.tar.gz (python3's library and the shared
# libraries of its extension modules), /opt/ktls/bench-tree.tar.gz
# (scripts/bench-ktls.sh and bench/compare.py under petrel/), and
# /opt/ktls/rehearsal.env (ROUNDS, DURATION, ... for bench-ktls.sh).

set -u
fail() { echo "FAIL bench-ktls: $*"; exit 1; }

tar -xzf /opt/ktls/python-stdlib.tar.gz -C / || fail "cannot unpack python's library"
mkdir -p /opt/src && tar -xzf /opt/ktls/bench-tree.tar.gz -C /opt/src || fail "cannot unpack the bench tree"
# The kernel's default host name, "(none)", would end up in the folder name.
hostname ktls-vm
. /opt/ktls/rehearsal.env
export ROUNDS DURATION EQUAL_LOAD EQUAL_LOAD_ROUNDS IDLE_WARMUP PETREL_GIT_REVISION
export NO_BUILD=1 OUT_ROOT=/tmp/results PYTHONHOME=/usr
export PETREL_BIN=/opt/ktls/bin/petrel PETREL_BENCH=/opt/ktls/bin/petrel-bench
export REDIS_SERVER=/opt/ktls/bin/redis-server

bash /opt/src/petrel/scripts/bench-ktls.sh >/tmp/bench-ktls.log 2>&1
rc=$?
cat /tmp/bench-ktls.log
[ "$rc" -eq 0 ] || fail "scripts/bench-ktls.sh exited $rc"
grep -q '^SKIPPED' /tmp/bench-ktls.log && fail "scripts/bench-ktls.sh skipped on a kernel with kTLS"

out="$(ls -d /tmp/results/*-ktls-ktls-vm 2>/dev/null | head -n 1)"
[ -n "$out" ] || fail "no results folder under /tmp/results"
for name in host.txt commands.txt tls_stat.before tls_stat.after; do
    [ -s "$out/$name" ] || fail "$name missing from $out"
done
for label in plain tls; do
    for suffix in .md .json -latency.svg; do
        found="$(ls "$out"/*-"$label$suffix" 2>/dev/null | head -n 1)"
        [ -n "$found" ] || fail "no *-$label$suffix in $out"
    done
done

python3 - "$out" <<'EOF' || fail "the results do not show every scenario measured"
import glob, json, os, sys
out = sys.argv[1]
problems = []
checked = 0
for path in sorted(glob.glob(f"{out}/*.json")):
    report = json.load(open(path))
    for scenario in report["scenarios"]:
        sid = scenario["id"]
        entries = dict(scenario["systems"])
        if "petrel_plain" in scenario:
            entries["petrel (plain rounds)"] = scenario["petrel_plain"]
        for level in scenario.get("equal_load", []):
            for name, entry in level["systems"].items():
                entries[f"{name} at {level['fraction']:.0%}"] = entry
        if not scenario.get("equal_load"):
            problems.append(f"({sid}): no equal-load level was run")
        for name, entry in entries.items():
            checked += 1
            if entry["status"] != "ok" or not entry["rounds"]:
                problems.append(f"({sid}) {name}: {entry['status']}: {entry['reason']}")
                continue
            for index, measured in enumerate(entry["rounds"]):
                if not measured.get("ops", 0) > 0:
                    problems.append(f"({sid}) {name} round {index + 1}: no ops")
                sessions = measured.get("ktls_sessions")
                tls = os.path.basename(path).endswith("-tls.json") and "plain" not in name
                if tls and name.startswith("petrel-ktls-off") and sessions != 0:
                    problems.append(f"({sid}) {name} round {index + 1}: {sessions} kTLS sessions with ktls = off")
                elif tls and name.split()[0] == "petrel" and not (sessions or 0) > 0:
                    problems.append(f"({sid}) {name} round {index + 1}: no kTLS session with ktls = required")
for problem in problems:
    print("FAIL bench-ktls:", problem)
print(f"bench-ktls: {checked} system entries checked, {len(problems)} problems")
sys.exit(1 if problems or not checked else 0)
EOF

for file in "$out"/*; do
    case "$file" in *.svg) continue ;; esac
    echo "BENCH-KTLS-FILE $(basename "$file")"
    cat "$file"
    echo "BENCH-KTLS-END"
done
echo "PASS bench-ktls: every scenario ran on kernel TLS; results in $out"
