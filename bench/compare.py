#!/usr/bin/env python3
"""Side-by-side benchmark of Petrel and Redis 7, plain and TLS.

Runs by bench/compare.sh, which checks prerequisites and builds the binaries.
For each scenario it starts Petrel (one data core) and redis-server with the
same certificates, both pinned to SERVER_CORE, fills the key space, and runs
petrel-bench pinned to CLIENT_CORE against each server in alternating rounds
(Petrel then Redis, then Redis then Petrel, ...); a TLS scenario adds Petrel
without TLS on the same workload to its rotation, for Petrel's TLS/plain.
It prints the medians with the Petrel/Redis ratio, writes
bench/results/<date>-<cpu>.md and .json, and draws the latency percentiles
of scenarios (a) and (b) as an SVG chart.

A scenario Petrel cannot run yet (the server refuses its config, the
handshake fails, requests get errors) is reported as such with the reason;
it is never silently dropped or counted as zero.

Everything here is measurement; nothing asserts a target. The targets are
shown next to the figures so that a reader sees which hold.
"""

import argparse
import copy
import datetime
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

# Petrel without TLS, run beside Petrel over TLS in the TLS scenarios' rounds.
PLAIN_TWIN = "petrel-plain"

TLS_VS_PLAIN_TEXT = {
    True: "Petrel's TLS ops/s over Petrel's plaintext ops/s on the same workload, "
          "the plaintext rounds interleaved with the TLS rounds",
    False: "Petrel's TLS ops/s over Petrel's ops/s in the plaintext scenario run before it",
}

# Busy connections per petrel-bench thread (-c), as memtier's default.
BUSY_CLIENTS = 50

# Percentiles recorded for every measurement (the chart uses all of them).
PERCENTILES = "50,75,90,95,99,99.5,99.9,99.95,99.99"


class Scenario:
    def __init__(self, sid, title, tls=False, client_auth=False, pipeline=1, data_size=32,
                 ratio="1:10", keys=100000, reconnect=None, idle_connections=0, metric="ops",
                 plain_twin=None, target=None, commands=None, fill_command=None, key_prefix=None):
        self.sid = sid
        self.title = title
        self.tls = tls
        self.client_auth = client_auth
        self.pipeline = pipeline
        self.data_size = data_size
        self.ratio = ratio
        self.keys = keys
        self.reconnect = reconnect
        self.idle_connections = idle_connections
        self.metric = metric  # "ops", "kbs" or "handshakes"
        self.plain_twin = plain_twin  # the plaintext scenario TLS is compared with
        self.target = target  # (minimum Petrel/Redis ratio, text)
        # petrel-bench --command runs: [(command with __key__/__data__, ratio)],
        # each on random keys, instead of SET:GET; the fill runs fill_command
        # once per key.
        self.commands = commands
        self.fill_command = fill_command
        self.key_prefix = key_prefix  # --key-prefix; "" makes __key__ a bare number


SCENARIOS = [
    Scenario("a", "(a) plain, 50 clients, pipeline 1, 32 B values, 1:10",
             target=(1.3, ">= 1.3x Redis")),
    Scenario("b", "(b) TLS, client authentication off", tls=True, plain_twin="a",
             target=(1.5, ">= 1.5x Redis TLS, >= 0.85x Petrel plain")),
    Scenario("b-auth", "(b) TLS, client authentication on", tls=True, client_auth=True, plain_twin="a",
             target=(1.5, ">= 1.5x Redis TLS, >= 0.85x Petrel plain")),
    Scenario("c", "(c) pipeline 16, plain", pipeline=16, target=(1.2, ">= 1.2x Redis")),
    Scenario("c-tls", "(c) pipeline 16, TLS", tls=True, pipeline=16, plain_twin="c",
             target=(1.2, ">= 1.2x Redis")),
    Scenario("d", "(d) 64 KiB values, 1:1, plain", data_size=65536, ratio="1:1", keys=1000, metric="kbs"),
    Scenario("d-tls", "(d) 64 KiB values, 1:1, TLS", tls=True, data_size=65536, ratio="1:1", keys=1000,
             metric="kbs", plain_twin="d", target=(1.5, "TLS KB/s >= 1.5x Redis TLS")),
    Scenario("e", "(e) handshakes: --reconnect-interval 1, TLS", tls=True, reconnect=1,
             metric="handshakes", target=(1.0, ">= Redis handshakes/s")),
    Scenario("f", "(f) 1,000 TLS connections: 950 idle (1 req/s each), 50 busy", tls=True,
             idle_connections=950),
    # The data types, plain, pipeline 1, 50 clients, 32 B values, random keys.
    Scenario("hash", "(g) hashes: HSET:HGET 1:10 on 100,000 hashes",
             commands=[("HSET h:__key__ f __data__", 1), ("HGET h:__key__ f", 10)],
             fill_command="HSET h:__key__ f __data__"),
    Scenario("list", "(h) lists: LPUSH:LPOP 1:1 on 10,000 lists", keys=10000,
             commands=[("LPUSH l:__key__ __data__", 1), ("LPOP l:__key__", 1)],
             fill_command="LPUSH l:__key__ __data__"),
    # One leaderboard of 100,000 members (score n, member n); ZRANGE reads the
    # ten members from a random score up, so both are O(log n) in Redis.
    Scenario("zset", "(i) sorted set: ZADD:ZRANGE 1:10, one set of 100,000 members",
             commands=[("ZADD board __key__ __key__", 1),
                       ("ZRANGE board __key__ +inf BYSCORE LIMIT 0 10", 10)],
             fill_command="ZADD board __key__ __key__", key_prefix=""),
]


def log(message):
    print(message, file=sys.stderr, flush=True)


def wait_for_port(port, process, timeout=15.0):
    """True once something accepts on the port; False if the process died."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def tail(path, lines=6):
    try:
        with open(path, errors="replace") as f:
            return " | ".join(l.strip() for l in f.read().strip().splitlines()[-lines:])
    except OSError:
        return ""


class Server:
    """A server process pinned to the server core, stopped on close()."""

    def __init__(self, name, argv, port, log_path, core):
        self.name = name
        self.port = port
        self.log_path = log_path
        self.error = None
        with open(log_path, "w") as out:
            self.process = subprocess.Popen(["taskset", "-c", core] + argv, stdout=out,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        if not wait_for_port(port, self.process):
            code = self.process.poll()
            state = f"exited with {code}" if code is not None else "did not listen within 15 s"
            self.error = f"{name} refused to start ({state}): {tail(log_path)}"
            self.close()

    def close(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def parse_cores(text):
    """'0', '0-3' or '0,2,4' -> [0], [0, 1, 2, 3], [0, 2, 4]."""
    cores = []
    for part in text.split(","):
        if "-" in part:
            low, high = part.split("-")
            cores += list(range(int(low), int(high) + 1))
        elif part.strip():
            cores.append(int(part))
    return cores


def system_label(name):
    return {"petrel": "Petrel", "redis": "Redis", "petrel-ktls-off": "Petrel ktls=off",
            "petrel-epoll": "Petrel epoll", PLAIN_TWIN: "Petrel plain"}.get(name, name)


class Bench:
    def __init__(self, args, work):
        self.args = args
        self.work = work
        self.certs = os.path.join(work, "certs")
        self.counter = 0

    # ---- certificates and servers ----

    def make_certificates(self):
        os.makedirs(self.certs, exist_ok=True)
        if self.args.petrel and os.access(self.args.petrel, os.X_OK):
            target = os.path.join(self.certs, "pki")
            result = subprocess.run([self.args.petrel, "certs", "generate", "--out", target],
                                    capture_output=True, text=True)
            if result.returncode == 0:
                self.certs = target
                return "petrel certs generate"
            log(f"petrel certs generate failed ({result.stderr.strip()}); using openssl")
        d = self.certs
        def ssl(*argv):
            subprocess.run(["openssl", *argv], check=True, capture_output=True)
        ssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", f"{d}/ca.key", "-out", f"{d}/ca.pem", "-days", "2", "-subj", "/CN=bench CA")
        for name, ext in (("proxy", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"),
                          ("client1", "extendedKeyUsage=clientAuth\n")):
            ssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", f"{d}/{name}.key", "-out", f"{d}/{name}.csr", "-subj", f"/CN={name}")
            with open(f"{d}/{name}.ext", "w") as f:
                f.write("basicConstraints=CA:FALSE\n" + ext)
            ssl("x509", "-req", "-in", f"{d}/{name}.csr", "-CA", f"{d}/ca.pem", "-CAkey", f"{d}/ca.key",
                "-CAcreateserial", "-out", f"{d}/{name}.pem", "-days", "2", "-extfile", f"{d}/{name}.ext")
        return "openssl"

    def cert(self, name):
        return os.path.join(self.certs, name)

    def start_redis(self, scenario, port):
        argv = [self.args.redis_server, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", self.work]
        if scenario.tls:
            argv += ["--port", "0", "--tls-port", str(port),
                     "--tls-cert-file", self.cert("proxy.pem"), "--tls-key-file", self.cert("proxy.key"),
                     "--tls-ca-cert-file", self.cert("ca.pem"),
                     "--tls-auth-clients", "yes" if scenario.client_auth else "no"]
        else:
            argv += ["--port", str(port)]
        argv += self.args.redis_arg
        return Server("redis-server", argv, port, os.path.join(self.work, f"redis-{scenario.sid}.log"),
                      self.args.server_cores)

    def start(self, system, scenario, port):
        if system == "redis":
            return self.start_redis(scenario, port)
        ktls = "off" if system == "petrel-ktls-off" else self.args.petrel_ktls
        return self.start_petrel(scenario, port, ktls, system)

    def start_petrel(self, scenario, port, ktls, system):
        if not self.args.petrel or not os.access(self.args.petrel, os.X_OK):
            server = Server.__new__(Server)
            server.name, server.port, server.error = "petrel", port, f"no petrel binary at {self.args.petrel}"
            server.process = None
            return server
        data_cores = ", ".join(str(c) for c in parse_cores(self.args.server_cores))
        lines = ["[node]", 'bind = "127.0.0.1"', f"data_cores = [{data_cores}]"]
        if system == "petrel-epoll":
            lines += ['io_driver = "epoll"']
        if scenario.tls:
            lines += ["", "[node.tls]", f'proxy_cert = "{self.cert("proxy.pem")}"',
                      f'proxy_key = "{self.cert("proxy.key")}"']
            lines += [f'ktls = "{ktls}"'] if ktls else []
        lines += ["", "[[databases]]", 'name = "default"', f"port = {port}"]
        if scenario.tls:
            lines += ['tls_mode = "enabled"']
            if scenario.client_auth:
                lines += ['enforce_client_authentication = "enabled"',
                          f'authentication_ssl_client_certs = [ {{ client_cert = "{self.cert("client1.pem")}" }} ]']
            else:
                lines += ['enforce_client_authentication = "disabled"']
        config = os.path.join(self.work, f"{system}-{scenario.sid}.toml")
        with open(config, "w") as f:
            f.write("\n".join(lines) + "\n")
        return Server(system, [self.args.petrel, "serve", "--config", config], port,
                      os.path.join(self.work, f"{system}-{scenario.sid}.log"), self.args.server_cores)

    # ---- the load generator ----

    def bench_argv(self, scenario, port, extra):
        argv = ["taskset", "-c", self.args.client_cores, self.args.petrel_bench,
                "-s", "127.0.0.1", "-p", str(port), "-t", str(self.args.threads), "-d", str(scenario.data_size),
                "--key-maximum", str(scenario.keys - 1), "--hide-histogram"]
        if scenario.key_prefix is not None:
            argv += ["--key-prefix", scenario.key_prefix]
        if scenario.tls:
            argv += ["--tls", "--cacert", self.cert("ca.pem")]
            if scenario.client_auth:
                argv += ["--cert", self.cert("client1.pem"), "--key", self.cert("client1.key")]
        return argv + extra

    def run_bench(self, argv):
        """Runs petrel-bench; returns (json or None, error text or None)."""
        self.counter += 1
        out = os.path.join(self.work, f"run-{self.counter}.json")
        argv = argv + ["--json-out-file", out]
        result = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        errors = re.findall(r"^\s+(\d+ [^(]+\(first: .*\))$", result.stderr, re.M)
        if result.returncode != 0 or not os.path.exists(out):
            reason = "; ".join(errors) or result.stderr.strip().splitlines()[-1:] or [f"exit {result.returncode}"]
            return None, reason if isinstance(reason, str) else " ".join(reason)
        with open(out) as f:
            return json.load(f), None

    def fill(self, scenario, port):
        """SETs every key once (each client its own slice), so GETs hit."""
        if scenario.fill_command:
            workload = ["--command", scenario.fill_command, "--command-key-pattern", "P"]
        else:
            workload = ["--ratio", "1:0", "--key-pattern", "P:P"]
        argv = self.bench_argv(scenario, port, ["-c", str(BUSY_CLIENTS), *workload, "-n", "allkeys", "--pipeline", "16"])
        _, error = self.run_bench(argv)
        return error

    def measure(self, scenario, port, rate=None, driver=None):
        """One round; rate (requests/s per busy connection) holds the offered
        load fixed instead of letting each connection go as fast as replies
        come; driver "epoll" runs petrel-bench on epoll instead of io_uring."""
        if scenario.commands:
            workload = []
            for command, ratio in scenario.commands:
                workload += ["--command", command, "--command-ratio", str(ratio), "--command-key-pattern", "R"]
        else:
            workload = ["--ratio", scenario.ratio]
        extra = ["-c", str(BUSY_CLIENTS), "--pipeline", str(scenario.pipeline), *workload,
                 "--test-time", str(self.args.duration), "--print-percentiles", PERCENTILES]
        if scenario.reconnect:
            extra += ["--reconnect-interval", str(scenario.reconnect)]
        if rate:
            extra += ["--rate-limiting", str(rate)]
        if driver == "epoll":
            extra += ["--io-driver", "epoll"]
        idle = None
        if scenario.idle_connections:
            idle_time = self.args.duration + self.args.idle_warmup + 3
            idle_argv = self.bench_argv(scenario, port, [
                "-c", str(scenario.idle_connections), "--rate-limiting", "1", "--ratio", "0:1",
                "--test-time", str(idle_time)])
            idle_err = os.path.join(self.work, f"idle-{self.counter}.err")
            with open(idle_err, "w") as err:
                idle = subprocess.Popen(idle_argv, stdout=subprocess.DEVNULL, stderr=err)
            time.sleep(self.args.idle_warmup)
            if idle.poll() is not None:
                return None, f"idle connections failed: {tail(idle_err, 3)}"
        tls_stat_before = read_tls_stat()
        cpu_before = read_cpu_times()
        report, error = self.run_bench(self.bench_argv(scenario, port, extra))
        cpu_after = read_cpu_times()
        tls_stat_after = read_tls_stat()
        if idle is not None:
            code = idle.wait()
            if code != 0 and error is None:
                error = f"idle connections failed: {tail(idle_err, 3)}"
        if error:
            return None, error
        stats = report["ALL STATS"]
        totals = stats["Totals"]
        percentiles = totals["Percentile Latencies"]
        return {
            "ops": totals["Ops/sec"],
            "kbs": totals["KB/sec"],
            "handshakes": stats["Connections"]["Connections/sec"],
            "p50": percentiles["p50.000"],
            "p99": percentiles["p99.000"],
            "p99.9": percentiles["p99.900"],
            "percentiles": {k[1:]: v for k, v in percentiles.items() if k.startswith("p")},
            # Kernel TLS sessions opened during the round (software and device
            # offload), from /proc/net/tls_stat; None where the kernel has none.
            # How busy the server cores and the generator's cores were (mean
            # percent over the round): a generator near 100% is the limit.
            "server_busy": busy_percent(cpu_before, cpu_after, parse_cores(self.args.server_cores)),
            "client_busy": busy_percent(cpu_before, cpu_after, parse_cores(self.args.client_cores)),
            "ktls_sessions": (sum(tls_stat_after.get(k, 0) - tls_stat_before.get(k, 0)
                                  for k in ("TlsTxSw", "TlsTxDevice"))
                              if tls_stat_after is not None else None),
        }, None


def read_cpu_times():
    """Per-core (busy, total) jiffies from /proc/stat; iowait counts as idle."""
    times = {}
    try:
        with open("/proc/stat") as f:
            for line in f:
                fields = line.split()
                if fields and fields[0].startswith("cpu") and fields[0] != "cpu":
                    values = [int(v) for v in fields[1:]]
                    idle = values[3] + (values[4] if len(values) > 4 else 0)
                    times[int(fields[0][3:])] = (sum(values) - idle, sum(values))
    except (OSError, ValueError):
        pass
    return times


def busy_percent(before, after, cores):
    busy = total = 0
    for core in cores:
        if core in before and core in after:
            busy += after[core][0] - before[core][0]
            total += after[core][1] - before[core][1]
    return round(100.0 * busy / total, 1) if total else None


def read_tls_stat():
    """The kernel's TLS counters, or None without kTLS."""
    try:
        with open("/proc/net/tls_stat") as f:
            return {k: int(v) for k, v in (line.split() for line in f if line.strip())}
    except (OSError, ValueError):
        return None


def median_of(rounds, key):
    return statistics.median(r[key] for r in rounds) if rounds else None


def summarize(rounds):
    if not rounds:
        return None
    out = {k: median_of(rounds, k) for k in ("ops", "kbs", "handshakes", "p50", "p99", "p99.9")}
    for k in ("server_busy", "client_busy"):
        values = [r[k] for r in rounds if r.get(k) is not None]
        out[k] = statistics.median(values) if values else None
    keys = rounds[0]["percentiles"].keys()
    out["percentiles"] = {k: statistics.median(r["percentiles"][k] for r in rounds) for k in keys}
    return out


def metric_value(scenario, summary):
    return summary[scenario.metric] if summary else None


def metric_label(scenario):
    return {"ops": "ops/s", "kbs": "KB/s", "handshakes": "handshakes/s"}[scenario.metric]


def plain_variant(scenario):
    """The same workload without TLS: what Petrel's TLS figure is compared with."""
    plain = copy.copy(scenario)
    plain.tls = False
    plain.client_auth = False
    plain.sid = f"{scenario.sid}-plain"
    return plain


def run_scenario(bench, scenario, args):
    log(f"== {scenario.title}")
    systems = args.system_list
    # A TLS scenario with a plaintext twin also runs Petrel without TLS in the
    # same rotation, so Petrel's TLS/plain ratio compares rounds taken side by
    # side, not two scenarios run minutes apart.
    plain_twin = "petrel" in systems and scenario.plain_twin and args.interleave_plain
    rotation = systems + ([PLAIN_TWIN] if plain_twin else [])
    workloads = {name: scenario for name in systems}
    if plain_twin:
        workloads[PLAIN_TWIN] = plain_variant(scenario)
    servers = {name: bench.start(name, workloads[name], args.port_base + 1 + index)
               for index, name in enumerate(rotation)}
    status = {}
    for name, server in servers.items():
        status[name] = server.error
        if server.error:
            log(f"   {system_label(name)}: NOT RUN: {server.error}")
            continue
        error = bench.fill(workloads[name], server.port)
        if error:
            status[name] = f"filling the key space failed: {error}"
            log(f"   {system_label(name)}: NOT RUN: {status[name]}")
    rounds = run_rotation(rotation, args.rounds, status, "",
                          lambda name: bench.measure(workloads[name], servers[name].port),
                          lambda m: f"{metric_value(scenario, m):>12,.0f} {metric_label(scenario)}")
    equal_load = []
    for driver in args.equal_load_driver:
        for fraction in args.equal_load:
            level = measure_equal_load(bench, scenario, args, servers, status, rounds, fraction, driver)
            if level is not None:
                equal_load.append(level)
    for server in servers.values():
        if server.process is not None:
            server.close()
    result = {"id": scenario.sid, "title": scenario.title, "metric": metric_label(scenario), "systems": {}}
    if equal_load:
        result["equal_load"] = equal_load
    if plain_twin:
        result["petrel_plain"] = {
            "status": "ok" if not status[PLAIN_TWIN] else "failed",
            "reason": status[PLAIN_TWIN],
            "rounds": rounds[PLAIN_TWIN],
            "median": summarize(rounds[PLAIN_TWIN]) if not status[PLAIN_TWIN] else None,
        }
    for name in systems:
        failed = "not supported" if name.startswith("petrel") else "failed"
        result["systems"][name] = {
            "status": "ok" if not status[name] else failed,
            "reason": status[name],
            "rounds": rounds[name],
            "median": summarize(rounds[name]) if not status[name] else None,
        }
    return result


def run_rotation(names, count, failures, label, measure, figure):
    """count rounds of measure(name) over names, rotating the order each round
    so that no system always runs first. A system whose entry in failures is
    set is skipped, and a failed round sets it. Returns {name: [rounds]}."""
    rounds = {name: [] for name in names}
    for round_index in range(count):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            if failures[name]:
                continue
            measured, error = measure(name)
            if error:
                failures[name] = f"round {round_index + 1} failed: {error}"
                log(f"   {label}{system_label(name)}: FAILED: {failures[name]}")
                continue
            rounds[name].append(measured)
            log(f"   {label}round {round_index + 1} {system_label(name):16}: {figure(measured)}, "
                f"p99 {measured['p99']:.3f} ms")
    return rounds


def measure_equal_load(bench, scenario, args, servers, status, rounds, fraction, driver):
    """Latency of every system at one offered load, the same for all.

    The throughput rounds are closed-loop: each connection sends as soon as
    its reply comes, so a faster server also carries more load and the p99s
    are taken at different loads. Here every busy connection is held to the
    same request rate, fraction times the slowest system's median ops/s,
    and the systems again take turns. None when a system has no throughput
    figure to size the load by. driver is petrel-bench's: "io_uring"
    gathers a round of its connections' requests into one submission,
    "epoll" writes each as its connection's task runs.
    """
    systems = args.system_list
    if any(status[name] or not rounds[name] for name in systems):
        return None
    slowest = min(summarize(rounds[name])["ops"] for name in systems)
    connections = BUSY_CLIENTS * args.threads
    rate = max(1, int(slowest * fraction / connections))
    offered = rate * connections
    log(f"   equal load: {rate:,} requests/s on each of {connections} connections "
        f"({offered:,} ops/s, {fraction:.0%} of the slowest median), generator on {driver}")
    failures = {name: None for name in systems}
    measured_rounds = run_rotation(systems, args.equal_load_rounds, failures, "equal load ",
                                   lambda name: bench.measure(scenario, servers[name].port, rate=rate,
                                                              driver=driver),
                                   lambda m: f"{m['ops']:>12,.0f} ops/s")
    return {
        "fraction": fraction,
        "generator_driver": driver,
        "rate_per_connection": rate,
        "offered_ops": offered,
        "systems": {name: {"status": "ok" if not failures[name] else "failed",
                           "reason": failures[name],
                           "rounds": measured_rounds[name],
                           "median": summarize(measured_rounds[name]) if not failures[name] else None}
                    for name in systems},
    }


def p99_no_worse(petrel, redis):
    """Petrel's median p99 against Redis's; None unless both were measured."""
    return petrel["p99"] <= redis["p99"] if petrel and redis else None


def median_for(result, system):
    entry = result["systems"].get(system)
    return entry["median"] if entry else None


def add_ratios(results):
    by_id = {r["id"]: r for r in results}
    for scenario in SCENARIOS:
        r = by_id.get(scenario.sid)
        if not r:
            continue
        petrel, redis = median_for(r, "petrel"), median_for(r, "redis")
        userspace = median_for(r, "petrel-ktls-off")
        pv, rv = metric_value(scenario, petrel), metric_value(scenario, redis)
        uv = metric_value(scenario, userspace)
        r["ratio"] = pv / rv if pv and rv else None
        r["ktls_vs_userspace"] = pv / uv if pv and uv else None
        # The p99 target is "at the same offered load": judged on the
        # equal-load rounds where they ran (at every load level), else on
        # the closed-loop rounds.
        levels = r.get("equal_load")
        if levels:
            verdicts = []
            for level in levels:
                level["p99_no_worse"] = p99_no_worse(level["systems"].get("petrel", {}).get("median"),
                                                     level["systems"].get("redis", {}).get("median"))
                verdicts.append(level["p99_no_worse"])
            # A miss at any level stands even if another level went unmeasured.
            r["p99_no_worse"] = False if False in verdicts else (None if None in verdicts else True)
            r["p99_basis"] = "equal load " + ", ".join(
                level_label(level) for level in levels if level["p99_no_worse"] is False)
        else:
            r["p99_no_worse"] = p99_no_worse(petrel, redis)
            r["p99_basis"] = "closed loop"
        interleaved = r.get("petrel_plain")
        if interleaved is not None:
            twin_petrel = interleaved["median"]
            r["tls_vs_plain_source"] = "interleaved"
        else:
            twin = by_id.get(scenario.plain_twin) if scenario.plain_twin else None
            twin_petrel = median_for(twin, "petrel") if twin else None
            r["tls_vs_plain_source"] = f"scenario ({scenario.plain_twin})" if twin_petrel else None
        r["petrel_tls_vs_plain"] = (petrel["ops"] / twin_petrel["ops"]
                                    if petrel and twin_petrel and twin_petrel["ops"] else None)
        verdict = None
        if scenario.target and r["ratio"] is not None:
            holds = r["ratio"] >= scenario.target[0]
            unchecked = ""
            if scenario.sid in ("b", "b-auth"):
                if r["petrel_tls_vs_plain"] is None:
                    unchecked = "; TLS/plain not measured"
                else:
                    holds = holds and r["petrel_tls_vs_plain"] >= 0.85
            verdict = f"{'holds' if holds else 'missed'} ({scenario.target[1]}){unchecked}"
        elif scenario.target:
            verdict = f"not measured ({scenario.target[1]})"
        if verdict and r["p99_no_worse"] is False:
            verdict += f"; p99 above Redis's ({r['p99_basis']})"
        elif verdict and r["p99_no_worse"] is None and levels:
            verdict += "; p99 at equal load not measured"
        r["target"] = verdict


def fmt(value, spec=",.0f"):
    return "n/a" if value is None else format(value, spec)


def table(results, systems):
    by_id = {s.sid: s for s in SCENARIOS}
    has_userspace = "petrel-ktls-off" in systems
    header = ["scenario", "metric"] + [system_label(s) for s in systems]
    header += ["Petrel/Redis"] + (["kTLS/userspace"] if has_userspace else [])
    header += [f"{system_label(s)} p99 ms, closed loop" for s in systems] + ["Petrel TLS/plain", "target"]
    lines = ["| " + " | ".join(header) + " |",
             "|---|---|" + "---:|" * (len(header) - 3) + "---|"]
    notes = []
    for r in results:
        s = by_id[r["id"]]
        cells = [r["title"], r["metric"]]
        for system in systems:
            entry = r["systems"][system]
            if entry["median"]:
                cells.append(fmt(metric_value(s, entry["median"])))
            else:
                notes.append(f"[{len(notes) + 1}] {r['title']}: {system_label(system)} {entry['status']}: {entry['reason']}")
                cells.append(f"{entry['status']} [{len(notes)}]")
        cells.append(f"{fmt(r.get('ratio'), '.2f')}{'x' if r.get('ratio') else ''}")
        if has_userspace:
            cells.append(f"{fmt(r.get('ktls_vs_userspace'), '.2f')}{'x' if r.get('ktls_vs_userspace') else ''}")
        for system in systems:
            median = r["systems"][system]["median"]
            cells.append(fmt(median["p99"] if median else None, ".3f"))
        twin = r.get("petrel_plain")
        if twin is not None and twin["status"] != "ok":
            notes.append(f"[{len(notes) + 1}] {r['title']}: {system_label(PLAIN_TWIN)} {twin['status']}: "
                         f"{twin['reason']}")
            cells += [f"n/a [{len(notes)}]", r.get("target") or ""]
        else:
            cells += [fmt(r.get("petrel_tls_vs_plain"), ".2f"), r.get("target") or ""]
        lines.append("| " + " | ".join(cells) + " |")
    return lines, notes


def level_label(level):
    """50%, or 50% epoll when the generator ran on epoll."""
    driver = level.get("generator_driver", "io_uring")
    return f"{level['fraction']:.0%}" + ("" if driver == "io_uring" else f" {driver}")


def equal_load_table(results, systems):
    """Latency at the same offered load: one row per scenario that ran it."""
    rows = [(r, level) for r in results for level in r.get("equal_load", [])]
    if not rows:
        return []
    header = ["scenario", "load", "generator", "offered ops/s"] + [f"{system_label(s)} ops/s" for s in systems]
    for metric in ("p50", "p99", "p99.9"):
        header += [f"{system_label(s)} {metric} ms" for s in systems]
    has_pair = "petrel" in systems and "redis" in systems
    header += ["Petrel p99 <= Redis's"] if has_pair else []
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    for r, equal in rows:
        medians = {s: equal["systems"][s]["median"] for s in systems}
        cells = [r["title"], f"{equal['fraction']:.0%}", equal.get("generator_driver", "io_uring"),
                 fmt(equal["offered_ops"])]
        cells += [fmt(medians[s]["ops"]) if medians[s] else equal["systems"][s]["status"] for s in systems]
        for metric in ("p50", "p99", "p99.9"):
            cells += [fmt(medians[s][metric], ".3f") if medians[s] else "n/a" for s in systems]
        if has_pair:
            verdict = equal.get("p99_no_worse")
            cells.append("n/a" if verdict is None else ("yes" if verdict else "no"))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def chart_svg(results, path, systems):
    """Latency by percentile for (a) and (b): x is log10(1/(1-p))."""
    import math
    by_id = {r["id"]: r for r in results}
    palette = {"redis": ("#d62728", "#ff9896"), "petrel": ("#1f77b4", "#aec7e8"),
               "petrel-ktls-off": ("#2ca02c", "#98df8a"), "petrel-epoll": ("#9467bd", "#c5b0d5")}
    series = []
    for sid, label, shade in (("a", "plain", 0), ("b", "TLS", 1)):
        r = by_id.get(sid)
        if not r:
            continue
        for system in systems:
            median = r["systems"][system]["median"]
            if median:
                points = sorted((float(p), v) for p, v in median["percentiles"].items())
                colour = palette.get(system, ("#7f7f7f", "#c7c7c7"))[shade]
                series.append((f"{system_label(system)} {label}", colour, points, shade == 1))
    if not series:
        return False
    width, height, left, right, top, bottom = 800, 440, 70, 210, 40, 60
    xs = lambda p: math.log10(1.0 / (1.0 - p / 100.0)) if p < 100 else 5
    x_max = max(xs(p) for _, _, pts, _ in series for p, _ in pts)
    y_max = max(v for _, _, pts, _ in series for _, v in pts) * 1.1 or 1.0
    px = lambda p: left + xs(p) / x_max * (width - left - right)
    py = lambda v: height - bottom - v / y_max * (height - top - bottom)
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{(left + width - right) / 2}" y="22" text-anchor="middle" font-size="15">'
           'Latency by percentile: (a) plain and (b) TLS, 50 clients, pipeline 1</text>',
           f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}" stroke="black"/>',
           f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" stroke="black"/>']
    for p in (50, 90, 99, 99.9, 99.99):
        if xs(p) <= x_max:
            svg.append(f'<line x1="{px(p):.1f}" y1="{top}" x2="{px(p):.1f}" y2="{height - bottom}" stroke="#ddd"/>')
            svg.append(f'<text x="{px(p):.1f}" y="{height - bottom + 18}" text-anchor="middle">p{p:g}</text>')
    for i in range(6):
        v = y_max * i / 5
        svg.append(f'<line x1="{left}" y1="{py(v):.1f}" x2="{width - right}" y2="{py(v):.1f}" stroke="#eee"/>')
        svg.append(f'<text x="{left - 8}" y="{py(v) + 4:.1f}" text-anchor="end">{v:.2f}</text>')
    svg.append(f'<text x="{(left + width - right) / 2}" y="{height - 15}" text-anchor="middle">percentile</text>')
    middle = (top + height - bottom) / 2
    svg.append(f'<text x="18" y="{middle}" text-anchor="middle" transform="rotate(-90 18 {middle})">latency (ms)</text>')
    for index, (label, colour, points, dashed) in enumerate(series):
        d = " ".join(f"{px(p):.1f},{py(v):.1f}" for p, v in points)
        dash = ' stroke-dasharray="6 3"' if dashed else ""
        svg.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2.5"{dash} points="{d}"/>')
        y = top + 20 + index * 20
        svg.append(f'<line x1="{width - right + 15}" y1="{y}" x2="{width - right + 40}" y2="{y}" stroke="{colour}" stroke-width="3"{dash}/>')
        svg.append(f'<text x="{width - right + 46}" y="{y + 4}">{label}</text>')
    svg.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(svg) + "\n")
    return True


def host_info():
    cpu = "unknown-cpu"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    slug = re.sub(r"[^a-z0-9]+", "-", re.sub(r"\((r|tm)\)", "", cpu.lower())).strip("-")
    return cpu, slug


def binary_info(path):
    """Path and build time of a binary, since HEAD may move during a run."""
    try:
        built = datetime.datetime.fromtimestamp(os.path.getmtime(path)).isoformat(timespec="seconds")
        return f"{path} (built {built})"
    except OSError:
        return f"{path} (missing)"


def read_sysctl(name):
    # Per-packet kernel work (e.g. BBR's per-ACK model) shows in every loopback request.
    try:
        with open(f"/proc/sys/{name}") as f:
            return f.read().strip()
    except OSError:
        return "unknown"


def version_of(argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout.strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "unknown"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--petrel", default=os.environ.get("PETREL_BIN", "target/release/petrel"))
    parser.add_argument("--petrel-bench", default=os.environ.get("PETREL_BENCH", "target/release/petrel-bench"))
    parser.add_argument("--redis-server", default=os.environ.get("REDIS_SERVER", "redis-server"))
    parser.add_argument("--redis-arg", action="append", default=[], help="extra redis-server argument (repeat)")
    parser.add_argument("--petrel-ktls", default=os.environ.get("PETREL_KTLS"),
                        help="[node.tls] ktls of the 'petrel' system (default: Petrel's own default)")
    parser.add_argument("--systems", default=os.environ.get("SYSTEMS", "petrel,redis"),
                        help="comma-separated: petrel, redis, petrel-ktls-off, petrel-epoll")
    parser.add_argument("--server-cores", default=os.environ.get("SERVER_CORES", os.environ.get("SERVER_CORE", "0")),
                        help="taskset list for the servers; Petrel gets one data core per listed core")
    parser.add_argument("--client-cores", default=os.environ.get("CLIENT_CORES", os.environ.get("CLIENT_CORE", "1")),
                        help="taskset list for petrel-bench")
    parser.add_argument("--threads", type=int, default=int(os.environ.get("BENCH_THREADS", 1)),
                        help="petrel-bench threads (-t); clients per thread stay 50")
    parser.add_argument("--rounds", type=int, default=int(os.environ.get("ROUNDS", 3)))
    parser.add_argument("--duration", type=int, default=int(os.environ.get("DURATION", 5)),
                        help="seconds per measurement (petrel-bench --test-time)")
    parser.add_argument("--no-interleave-plain", dest="interleave_plain", action="store_false",
                        default=os.environ.get("INTERLEAVE_PLAIN", "1") != "0",
                        help="compare Petrel TLS with the plaintext scenario run before it, instead of "
                             "Petrel plain rounds interleaved with the TLS rounds (INTERLEAVE_PLAIN=0)")
    parser.add_argument("--equal-load", default=os.environ.get("EQUAL_LOAD", "0.5,0.8"),
                        help="after the throughput rounds, rounds at these fractions (comma-separated) of "
                             "the slowest system's median ops/s, the same rate for every system, for "
                             "latency at equal load (0 skips them; EQUAL_LOAD)")
    parser.add_argument("--equal-load-driver", default=os.environ.get("EQUAL_LOAD_DRIVER", "io_uring"),
                        help="petrel-bench's driver in the equal-load rounds, comma-separated: io_uring "
                             "(as the throughput rounds) and/or epoll (EQUAL_LOAD_DRIVER)")
    parser.add_argument("--equal-load-rounds", type=int, default=None,
                        help="rounds per system at equal load (default: --rounds; EQUAL_LOAD_ROUNDS)")
    parser.add_argument("--idle-warmup", type=int, default=int(os.environ.get("IDLE_WARMUP", 4)),
                        help="seconds for (f)'s idle connections to open before a round")
    parser.add_argument("--port-base", type=int, default=int(os.environ.get("PORT_BASE", 7400)))
    parser.add_argument("--scenarios", default=os.environ.get("SCENARIOS", ",".join(s.sid for s in SCENARIOS)))
    parser.add_argument("--out-dir", default=os.environ.get("OUT_DIR", "bench/results"))
    parser.add_argument("--label", default=os.environ.get("LABEL", ""), help="suffix of the result file names")
    args = parser.parse_args()

    if args.equal_load_rounds is None:
        args.equal_load_rounds = int(os.environ.get("EQUAL_LOAD_ROUNDS", args.rounds))
    try:
        fractions = [float(f) for f in args.equal_load.split(",") if f.strip()]
    except ValueError:
        parser.error(f"--equal-load {args.equal_load!r}: comma-separated fractions, such as 0.5,0.8")
    if any(not 0 <= f < 1 for f in fractions):
        parser.error(f"--equal-load {args.equal_load}: each a fraction from 0 (off) up to, not including, 1")
    args.equal_load = [f for f in fractions if f > 0]
    args.equal_load_driver = [d.strip() for d in args.equal_load_driver.split(",") if d.strip()]
    if not args.equal_load_driver or any(d not in ("io_uring", "epoll") for d in args.equal_load_driver):
        parser.error(f"--equal-load-driver {','.join(args.equal_load_driver)!r}: io_uring, epoll or both")
    wanted = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = [w for w in wanted if w not in {s.sid for s in SCENARIOS}]
    if unknown:
        parser.error(f"unknown scenarios {unknown}; known: {[s.sid for s in SCENARIOS]}")
    args.system_list = [s.strip() for s in args.systems.split(",") if s.strip()]
    if any(s not in ("petrel", "redis", "petrel-ktls-off", "petrel-epoll") for s in args.system_list):
        parser.error(f"unknown system in {args.systems}; known: petrel, redis, petrel-ktls-off, petrel-epoll")

    load_before = open("/proc/loadavg").read().split()[:3] if os.path.exists("/proc/loadavg") else []
    work = tempfile.mkdtemp(prefix="petrel-compare-")
    bench = Bench(args, work)
    started = datetime.datetime.now()
    try:
        cert_source = bench.make_certificates()
        results = [run_scenario(bench, s, args) for s in SCENARIOS if s.sid in wanted]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    add_ratios(results)
    load_after = open("/proc/loadavg").read().split()[:3] if os.path.exists("/proc/loadavg") else []

    cpu, slug = host_info()
    date = started.strftime("%Y-%m-%d")
    label = args.label if not args.label or args.label.startswith("-") else f"-{args.label}"
    stem = os.path.join(args.out_dir, f"{date}-{slug}{label}")
    os.makedirs(args.out_dir, exist_ok=True)
    # A copy of this script outside the repository (the kTLS rehearsal's guest) is told its revision.
    git = os.environ.get("PETREL_GIT_REVISION") or version_of(["git", "rev-parse", "--short", "HEAD"])
    data_cores = len(parse_cores(args.server_cores))
    meta = {
        "date": started.isoformat(timespec="seconds"),
        "cpu": cpu,
        "kernel": platform.release(),
        "tcp_congestion_control": read_sysctl("net/ipv4/tcp_congestion_control"),
        "cores": os.cpu_count(),
        "redis": version_of([args.redis_server, "--version"]),
        "redis_args": args.redis_arg,
        "petrel_commit": git,
        "petrel_binary": binary_info(args.petrel),
        "petrel_bench_binary": binary_info(args.petrel_bench),
        "systems": args.system_list,
        "server_cores": args.server_cores,
        "client_cores": args.client_cores,
        "petrel_data_cores": data_cores,
        "bench_threads": args.threads,
        "rounds": args.rounds,
        "duration_s": args.duration,
        "certificates": cert_source,
        "petrel_ktls": args.petrel_ktls or "default",
        "kernel_tls": read_tls_stat() is not None,
        "load_average_before": " ".join(load_before),
        "load_average_after": " ".join(load_after),
        "petrel_tls_vs_plain": TLS_VS_PLAIN_TEXT[args.interleave_plain],
        "load_generator": f"petrel-bench -t {args.threads} -c 50 (plus 950 rate-limited connections in (f))",
        "equal_load_fractions": args.equal_load,
        "equal_load_generator_drivers": args.equal_load_driver,
        "equal_load_rounds": args.equal_load_rounds if args.equal_load else 0,
    }
    with open(stem + ".json", "w") as f:
        json.dump({"meta": meta, "scenarios": results}, f, indent=2)
    chart = chart_svg(results, stem + "-latency.svg", args.system_list)
    rows, notes = table(results, args.system_list)
    equal_rows = equal_load_table(results, args.system_list)
    # A system that failed at equal load leaves its p99 verdict open; say why.
    for r in results:
        for level in r.get("equal_load", []):
            for system, entry in level["systems"].items():
                if entry["status"] != "ok":
                    notes.append(f"[{len(notes) + 1}] {r['title']} at equal load {level_label(level)}: "
                                 f"{system_label(system)} failed: {entry['reason']}")
    redis_extra = f" (redis-server {' '.join(args.redis_arg)})" if args.redis_arg else ""
    md = [f"# Petrel vs Redis: {date} on {cpu}", "",
          f"Kernel {meta['kernel']} (TCP congestion control {meta['tcp_congestion_control']}), {meta['cores']} cores; "
          f"{meta['redis'].split(' sha=')[0]}{redis_extra}; "
          f"repository at {git}; petrel binary {meta['petrel_binary']}, petrel-bench {meta['petrel_bench_binary']}.",
          f"Servers pinned to cores {args.server_cores} (Petrel with {data_cores} data core"
          f"{'s' if data_cores > 1 else ''}), petrel-bench (-t {args.threads}, 50 clients per thread) pinned to "
          f"cores {args.client_cores}; {args.rounds} rotating rounds of {args.duration} s per system and "
          f"scenario; medians. Certificates from {cert_source}, the same for every server. The key space is "
          "filled before the rounds, so GETs hit. Kernel TLS on this host: "
          f"{'yes' if meta['kernel_tls'] else 'no (userspace TLS only)'}. Load average (1/5/15 min) before: "
          f"{meta['load_average_before']}, after: {meta['load_average_after']}. "
          f"Petrel TLS/plain: {TLS_VS_PLAIN_TEXT[args.interleave_plain]}.", "", *rows, ""]
    if notes:
        md += ["Not run:", "", *[f"- {n}" for n in notes], ""]
    levels_text = " and ".join(f"{f:.0%}" for f in args.equal_load)
    if equal_rows:
        md += [f"Latency at equal load: after the throughput rounds every system carries the same offered "
               f"load, {levels_text} of the slowest system's median ops/s, as a fixed request rate on "
               f"each busy connection (--rate-limiting), {args.equal_load_rounds} rotating rounds each, "
               f"petrel-bench on {' and on '.join(args.equal_load_driver)}; "
               "medians. The target's p99 (\"no worse than Redis's at the same offered load\") is judged "
               "here, at every level; the closed-loop p99 above is taken at whatever load each server "
               "sustained.", "",
               *equal_rows, ""]
    md += ["Core utilisation, median busy % over each round (server cores / generator cores); "
           "a generator near 100% means the load generator, not the server, set the pace:", "",
           "| scenario | " + " | ".join(system_label(s) for s in args.system_list) + " |",
           "|---|" + "---:|" * len(args.system_list)]
    for r in results:
        cells = []
        for system in args.system_list:
            median = r["systems"][system]["median"]
            if median and median.get("server_busy") is not None:
                cells.append(f"{median['server_busy']:.0f} / {median['client_busy']:.0f}")
            else:
                cells.append("")
        md.append(f"| ({r['id']}) | " + " | ".join(cells) + " |")
    md.append("")
    if chart:
        md += [f"![latency percentiles]({os.path.basename(stem)}-latency.svg)", ""]
    md += ["Every round:", "", "```"]
    for r in results:
        for system in args.system_list:
            entry = r["systems"][system]
            figures = ", ".join(
                f"{x['ops']:,.0f} ops/s {x['kbs']:,.0f} KB/s {x['handshakes']:,.0f} conn/s p99 {x['p99']:.3f}"
                + (f" ktls+{x['ktls_sessions']}" if x.get("ktls_sessions") else "")
                for x in entry["rounds"])
            md.append(f"{r['id']:7} {system:16}: {figures or entry['reason']}")
        twin = r.get("petrel_plain")
        if twin is not None:
            figures = ", ".join(f"{x['ops']:,.0f} ops/s {x['kbs']:,.0f} KB/s p99 {x['p99']:.3f}"
                                for x in twin["rounds"])
            md.append(f"{r['id']:7} {PLAIN_TWIN:16}: {figures or twin['reason']}")
        for level in r.get("equal_load", []):
            for system, entry in level["systems"].items():
                figures = ", ".join(f"{x['ops']:,.0f} ops/s p99 {x['p99']:.3f}" for x in entry["rounds"])
                label = f"{system} at {level_label(level)}"
                md.append(f"{r['id']:7} {label:16}: {figures or entry['reason']}")
    md += ["```", "", "Reproduce: `bench/compare.sh` (see bench/README.md for the environment variables)."]
    with open(stem + ".md", "w") as f:
        f.write("\n".join(md) + "\n")
    print("\n".join(rows))
    for note in notes:
        print(note)
    if equal_rows:
        print(f"\nAt equal load ({levels_text} of the slowest median):")
        print("\n".join(equal_rows))
    print(f"\nwrote {stem}.md, {stem}.json" + (f", {stem}-latency.svg" if chart else ""))


if __name__ == "__main__":
    main()
