//! Proves that the TLS data path carries real traffic intact: deep
//! pipelines sent in one write, values from 1 byte to 4 MiB (across TLS
//! record boundaries) and redis-benchmark's load, all on a `tls_mode =
//! "enabled"` database, with INFO's `# TLS` counters showing only completed
//! handshakes.

use std::time::Duration;

use petrel_e2e::tls::{
    byte_pattern, client_config, expect_counted, tls_client, tls_only_server, Pki, TlsConn, TlsInfo,
};
use petrel_e2e::{encode_command, run_tool, skip_under_redis, Reply};

const PIPELINE_DEPTH: usize = 1000;
const MIB: usize = 1024 * 1024;

// 1,000 commands (SET, GET and INCR interleaved) encoded back to back and
// handed to rustls in one write are all answered, in order, with the
// replies each implies; the same depth through the redis crate's pipeline
// gets 1,000 replies in order too. INFO counts two completed handshakes and
// no failure.
#[test]
fn a_thousand_pipelined_commands_in_one_write_are_answered_in_order() {
    if skip_under_redis("Petrel's TLS") {
        return;
    }
    let pki = Pki::generate();
    let server = tls_only_server(&pki);
    let port = server.port();
    let mut observer = tls_client(port, &pki, Some("client1"));
    let before = TlsInfo::read(&mut observer);

    let mut conn =
        TlsConn::connect(port, client_config(&pki, Some("client1"), None)).expect("handshake");
    let mut bytes = Vec::new();
    let mut expected = Vec::with_capacity(PIPELINE_DEPTH);
    let mut counter = 0;
    for index in 0..PIPELINE_DEPTH {
        let key = format!("pipe:{}", index / 3);
        match index % 3 {
            0 => {
                bytes.extend(encode_command(&["SET", &key, &format!("value-{index}")]));
                expected.push(Reply::simple("OK"));
            }
            1 => {
                bytes.extend(encode_command(&["GET", &key]));
                expected.push(Reply::bulk(&format!("value-{}", index - 1)));
            }
            _ => {
                bytes.extend(encode_command(&["INCR", "pipe:counter"]));
                counter += 1;
                expected.push(Reply::Integer(counter));
            }
        }
    }
    conn.send(&bytes);
    for (index, want) in expected.iter().enumerate() {
        let got = conn.read_reply();
        assert_eq!(&got, want, "reply {index} of {PIPELINE_DEPTH}");
    }
    assert_eq!(conn.command(&["PING"]), Reply::simple("PONG"));

    let mut crate_client = tls_client(port, &pki, Some("client1"));
    let mut pipe = redis::pipe();
    for index in 0..PIPELINE_DEPTH {
        pipe.cmd("APPEND").arg("pipe:log").arg(index % 10);
    }
    let lengths: Vec<i64> = pipe
        .query(&mut crate_client)
        .unwrap_or_else(|error| panic!("redis crate pipeline over TLS: {error}"));
    // Each APPEND adds one digit, so the replies count 1, 2, 3, ...
    let wanted: Vec<i64> = (1..=PIPELINE_DEPTH as i64).collect();
    assert_eq!(lengths, wanted, "APPEND replies out of order or missing");
    expect_counted(&mut observer, &before, 2, &[], "two pipelining TLS clients");
}

// SET then GET of values of 1 byte, around the 16 KiB TLS record size,
// 64 KiB, 1 MiB and 4 MiB (binary, with CR/LF/NUL) through the redis crate
// over TLS return exactly the bytes sent, and so does a 4 MiB SET and GET
// pipelined in one write on a raw rustls connection; STRLEN agrees.
#[test]
fn values_from_one_byte_to_four_mib_round_trip_over_tls() {
    if skip_under_redis("Petrel's TLS") {
        return;
    }
    let pki = Pki::generate();
    let server = tls_only_server(&pki);
    let port = server.port();
    let mut client = tls_client(port, &pki, Some("client1"));
    let before = TlsInfo::read(&mut client);
    let sizes = [
        1,
        2,
        100,
        16 * 1024 - 1,
        16 * 1024,
        16 * 1024 + 1,
        64 * 1024,
        MIB,
        4 * MIB - 1,
        4 * MIB,
    ];
    for (seed, size) in sizes.into_iter().enumerate() {
        let key = format!("value:{size}");
        let value = byte_pattern(size, seed);
        let _: () = redis::cmd("SET")
            .arg(&key)
            .arg(&value)
            .query(&mut client)
            .unwrap_or_else(|error| panic!("SET {size} bytes: {error}"));
        let back: Vec<u8> = redis::cmd("GET")
            .arg(&key)
            .query(&mut client)
            .unwrap_or_else(|error| panic!("GET {size} bytes: {error}"));
        assert!(
            back == value,
            "{size}-byte value came back changed ({} bytes)",
            back.len()
        );
        let length: usize = redis::cmd("STRLEN")
            .arg(&key)
            .query(&mut client)
            .unwrap_or_else(|error| panic!("STRLEN: {error}"));
        assert_eq!(length, size);
    }

    let mut raw =
        TlsConn::connect(port, client_config(&pki, Some("client1"), None)).expect("handshake");
    let big = byte_pattern(4 * MIB, 99);
    let mut bytes = encode_command(&[&b"SET"[..], b"raw:big", &big]);
    bytes.extend(encode_command(&["GET", "raw:big"]));
    raw.send(&bytes);
    assert_eq!(raw.read_reply(), Reply::simple("OK"));
    assert!(
        raw.read_reply() == Reply::Bulk(big),
        "the 4 MiB value pipelined over raw rustls came back changed"
    );
    expect_counted(&mut client, &before, 1, &[], "large values over TLS");
}

// `redis-benchmark --tls` with client1's certificate, -n 20000 -P 16 -t
// set,get, finishes, prints a requests-per-second line for SET and GET and
// no error; every one of its connections completed its handshake and none
// failed.
#[test]
fn redis_benchmark_over_tls_runs_clean() {
    if skip_under_redis("Petrel's TLS") {
        return;
    }
    let pki = Pki::generate();
    let server = tls_only_server(&pki);
    let port = server.port();
    let mut observer = tls_client(port, &pki, Some("client1"));
    let before = TlsInfo::read(&mut observer);
    let port_text = port.to_string();
    let ca = pki.cert("ca").display().to_string();
    let cert = pki.cert("client1").display().to_string();
    let key = pki.key("client1").display().to_string();
    let out = run_tool(
        "redis-benchmark",
        &[
            "--tls",
            "--cacert",
            &ca,
            "--cert",
            &cert,
            "--key",
            &key,
            "-h",
            "127.0.0.1",
            "-p",
            &port_text,
            "-q",
            "-n",
            "20000",
            "-P",
            "16",
            "-t",
            "set,get",
        ],
        None,
        Duration::from_secs(90),
    );
    assert!(
        out.status.success(),
        "redis-benchmark --tls failed: {out:?}"
    );
    let text = format!("{}\n{}", out.stdout, out.stderr);
    let lines: Vec<&str> = text
        .split(['\r', '\n'])
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect();
    let bad: Vec<&&str> = lines
        .iter()
        .filter(|line| {
            let lower = line.to_ascii_lowercase();
            lower.contains("error") || lower.contains("err ") || lower.contains("ssl")
        })
        .collect();
    assert!(bad.is_empty(), "redis-benchmark printed errors: {bad:?}");
    for test in ["SET", "GET"] {
        assert!(
            lines
                .iter()
                .any(|line| line.starts_with(&format!("{test}: "))
                    && line.contains("requests per second")),
            "no {test} result in: {lines:?}"
        );
    }

    let after = TlsInfo::read(&mut observer);
    let completed = after.number("handshakes_completed") - before.number("handshakes_completed");
    assert!(
        completed >= 50,
        "redis-benchmark's 50 clients should each complete a handshake; {completed} did"
    );
    assert_eq!(
        after.number("handshakes_failed"),
        before.number("handshakes_failed"),
        "a redis-benchmark handshake failed: {after:?}"
    );
}
