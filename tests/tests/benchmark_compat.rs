//! Proves redis-benchmark compatibility: `redis-benchmark -q -n 100000 -P 16
//! -t ping,set,get,incr,mset` against the server under test finishes, prints
//! no error, leaves the data those commands imply, and prints the same set of
//! test names as the same run against a real redis-server started beside it.
//! Speeds are not compared. PETREL_E2E_BENCH_REQUESTS overrides -n.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use petrel_e2e::{query, run_tool, Config, Server, Target};

const TESTS: &str = "ping,set,get,incr,mset";

fn requests() -> u64 {
    std::env::var("PETREL_E2E_BENCH_REQUESTS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(100_000)
}

struct BenchmarkRun {
    names: BTreeSet<String>,
    elapsed: Duration,
}

/// Runs redis-benchmark against a port and returns the names of the tests
/// that printed a final "requests per second" line.
fn run_benchmark(port: u16, requests: u64) -> BenchmarkRun {
    let port = port.to_string();
    let requests = requests.to_string();
    let started = Instant::now();
    let out = run_tool(
        "redis-benchmark",
        &[
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-q",
            "-n",
            &requests,
            "-P",
            "16",
            "-t",
            TESTS,
        ],
        None,
        Duration::from_secs(150),
    );
    let elapsed = started.elapsed();
    assert!(out.status.success(), "redis-benchmark failed: {out:?}");
    let lines: Vec<&str> = out
        .stdout
        .split(['\r', '\n'])
        .chain(out.stderr.split(['\r', '\n']))
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect();
    let bad: Vec<&&str> = lines
        .iter()
        .filter(|line| {
            let lower = line.to_ascii_lowercase();
            lower.contains("error") || lower.contains("err ") || lower.contains("warning")
        })
        .collect();
    assert!(bad.is_empty(), "redis-benchmark printed errors: {bad:?}");
    let names = lines
        .iter()
        .filter_map(|line| {
            let (name, rest) = line.split_once(": ")?;
            rest.contains("requests per second")
                .then(|| name.to_owned())
        })
        .collect();
    BenchmarkRun { names, elapsed }
}

// redis-benchmark runs clean against the server and prints the same tests
// as against redis-server; its SET and INCR traffic left the expected data.
#[test]
fn redis_benchmark_matches_redis_server() {
    let requests = requests();
    let server = Server::start_default();
    let ours = run_benchmark(server.port(), requests);
    eprintln!(
        "redis-benchmark -n {requests} against {:?} took {:?}",
        server.target(),
        ours.elapsed
    );

    let expected: BTreeSet<String> = [
        "PING_INLINE",
        "PING_MBULK",
        "SET",
        "GET",
        "INCR",
        "MSET (10 keys)",
    ]
    .iter()
    .map(|name| (*name).to_owned())
    .collect();
    assert_eq!(
        ours.names,
        expected,
        "tests printed against {:?}",
        server.target()
    );

    // Without -r every INCR hits one key, and SET and MSET write 3-byte values.
    let mut con = server.client();
    assert_eq!(
        query::<u64>(&mut con, &["GET", "counter:__rand_int__"]),
        requests
    );
    assert_eq!(query::<i64>(&mut con, &["STRLEN", "key:__rand_int__"]), 3);
    drop(con);
    drop(server);

    let reference = Server::start_target(Target::Redis, Config::new());
    let theirs = run_benchmark(reference.port(), requests);
    assert_eq!(
        ours.names, theirs.names,
        "test names differ from redis-server's"
    );
}
