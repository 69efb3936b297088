#!/usr/bin/env python3
"""Client latency on a Petrel source while replicas full-sync 1M keys.

Starts Petrel (its data rings on DATA_CORES, its sync ring on SYNC_CORE),
fills KEYS keys with petrel-bench, then measures client latency with
petrel-bench (CLIENT_CORE) twice:

  idle    no replica;
  sync    a redis-server replica (REPLICA_CORE) full-syncs again and again
          for the whole run: REPLICAOF NO ONE, then REPLICAOF the source,
          which answers the replica's unknown history with a full sync.

It reports ops/s, p50, p99 and p99.9 of both runs, how many full syncs
completed during the sync run and how long each took, and writes
bench/results/<date>-replication-sync.md. Target (issue 7): p99 during the
sync at most 2x the idle p99. Nothing is asserted: it is a measurement.

Usage: bench/replication_sync.py [--keys 1000000] [--duration 20]
Environment: PETREL_BIN, PETREL_BENCH (default target/release/...),
DATA_CORES=0 SYNC_CORE=1 CLIENT_CORE=1 REPLICA_CORE=1 PORT_BASE=7600.
"""

import argparse
import datetime
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def env(name, default):
    return os.environ.get(name, default)


def command(port, *args, timeout=30):
    """One RESP command over a fresh socket; the reply's first line and body."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        out = b"*%d\r\n" % len(args)
        for arg in args:
            arg = str(arg).encode()
            out += b"$%d\r\n%s\r\n" % (len(arg), arg)
        sock.sendall(out)
        data = b""
        while b"\r\n" not in data:
            data += sock.recv(65536)
        if data.startswith(b"$"):
            length = int(data.split(b"\r\n", 1)[0][1:])
            while len(data) < len(data.split(b"\r\n", 1)[0]) + 2 + max(length, 0):
                data += sock.recv(65536)
        return data.decode(errors="replace")


def info_field(port, field):
    text = command(port, "INFO", "replication")
    for line in text.splitlines():
        if line.startswith(field + ":"):
            return line.split(":", 1)[1].strip()
    return None


def wait_port(port, deadline=20):
    end = time.time() + deadline
    while time.time() < end:
        try:
            if "PONG" in command(port, "PING", timeout=1):
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"nothing answers on port {port}")


def bench(petrel_bench, core, port, extra, work, name):
    out = os.path.join(work, name + ".json")
    argv = ["taskset", "-c", core, petrel_bench, "-s", "127.0.0.1", "-p", str(port),
            "--hide-histogram", "--json-out-file", out] + extra
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(out) as f:
        report = json.load(f)
    totals = report["ALL STATS"]["Totals"]
    p = totals["Percentile Latencies"]
    return {"ops": totals["Ops/sec"], "p50": p["p50.000"], "p99": p["p99.000"], "p99.9": p["p99.900"]}


def resync_loop(replica_port, source_port, stop, syncs):
    """Keeps the replica full-syncing until `stop` is set."""
    while not stop.is_set():
        command(replica_port, "REPLICAOF", "NO", "ONE")
        started = time.time()
        command(replica_port, "REPLICAOF", "127.0.0.1", source_port)
        while not stop.is_set():
            time.sleep(0.05)
            if (info_field(replica_port, "master_link_status") == "up"
                    and info_field(replica_port, "master_sync_in_progress") == "0"):
                syncs.append(time.time() - started)
                break


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--out-dir", default=os.path.join(ROOT, "bench", "results"))
    args = parser.parse_args()

    petrel = env("PETREL_BIN", os.path.join(ROOT, "target", "release", "petrel"))
    petrel_bench = env("PETREL_BENCH", os.path.join(ROOT, "target", "release", "petrel-bench"))
    data_cores, sync_core = env("DATA_CORES", "0"), env("SYNC_CORE", "1")
    client_core, replica_core = env("CLIENT_CORE", "1"), env("REPLICA_CORE", "1")
    base = int(env("PORT_BASE", "7600"))
    source_port, replica_port = base, base + 1
    work = tempfile.mkdtemp(prefix="petrel-repl-bench-")
    config = os.path.join(work, "source.toml")
    cores = "[" + ", ".join(data_cores.split(",")) + "]"
    with open(config, "w") as f:
        f.write(f"[node]\nbind = \"127.0.0.1\"\ndata_cores = {cores}\nsync_core = {sync_core}\n"
                f"repl_backlog_size = \"512mb\"\n\n[[databases]]\nname = \"source\"\nport = {source_port}\n")
    processes = []
    try:
        processes.append(subprocess.Popen([petrel, "serve", "--config", config],
                                          stdout=open(os.path.join(work, "petrel.log"), "w"),
                                          stderr=subprocess.STDOUT))
        wait_port(source_port)
        print(f"filling {args.keys:,} keys ...", flush=True)
        bench(petrel_bench, client_core, source_port,
              ["-t", "1", "-c", "50", "--ratio", "1:0", "--key-pattern", "P:P", "-n", "allkeys",
               "--key-maximum", str(args.keys), "--pipeline", "32", "-d", "32"], work, "fill")
        load = ["-t", "1", "-c", str(args.clients), "--ratio", "1:10", "--test-time", str(args.duration),
                "--key-maximum", str(args.keys), "-d", "32"]
        print("idle run ...", flush=True)
        idle = bench(petrel_bench, client_core, source_port, load, work, "idle")

        replica_dir = os.path.join(work, "replica")
        os.makedirs(replica_dir)
        processes.append(subprocess.Popen(
            ["taskset", "-c", replica_core, "redis-server", "--port", str(replica_port),
             "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", replica_dir,
             "--repl-diskless-load", "swapdb"],
            stdout=open(os.path.join(work, "redis.log"), "w"), stderr=subprocess.STDOUT))
        wait_port(replica_port)
        stop, syncs = threading.Event(), []
        looper = threading.Thread(target=resync_loop, args=(replica_port, source_port, stop, syncs))
        looper.start()
        print("run with full syncs ...", flush=True)
        during = bench(petrel_bench, client_core, source_port, load, work, "sync")
        stop.set()
        looper.join()
    finally:
        for process in processes:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()

    ratio = during["p99"] / idle["p99"] if idle["p99"] else float("nan")
    mean_sync = sum(syncs) / len(syncs) if syncs else float("nan")
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    lines = [
        f"# Client latency during full syncs of {args.keys:,} keys ({date})",
        "",
        f"Host: {platform.node()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; "
        f"data cores {data_cores}, sync core {sync_core}, client core {client_core}, "
        f"replica core {replica_core}; {args.clients} clients, SET:GET 1:10, 32 B values, "
        f"{args.duration} s per run.",
        "",
        "| run | ops/s | p50 ms | p99 ms | p99.9 ms |",
        "|---|---|---|---|---|",
        f"| idle | {idle['ops']:,.0f} | {idle['p50']:.3f} | {idle['p99']:.3f} | {idle['p99.9']:.3f} |",
        f"| full syncs running | {during['ops']:,.0f} | {during['p50']:.3f} | {during['p99']:.3f} | {during['p99.9']:.3f} |",
        "",
        f"Full syncs completed during the run: {len(syncs)} (mean {mean_sync:.2f} s each).",
        f"p99 during / idle: {ratio:.2f}x (target: at most 2x) -> {'holds' if ratio <= 2 else 'missed'}.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    os.makedirs(args.out_dir, exist_ok=True)
    path = os.path.join(args.out_dir, f"{date}-replication-sync.md")
    with open(path, "w") as f:
        f.write(text)
    print(f"written {path}")


if __name__ == "__main__":
    sys.exit(main())
