//! Proves that a client sending malformed RESP (bad lengths, unbalanced
//! quotes, a 1 GiB bulk header, an endless inline line) gets Redis's exact
//! `-ERR Protocol error: ...` text and loses only its own connection, while
//! another client connected at the same time keeps getting correct answers
//! and the server stays up; checked with raw sockets on a started server.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use petrel_e2e::{query, wait_until, Config, Reply, Server};
use redis::Value;

/// Malformed inputs and the exact bytes Redis answers before closing.
fn garbage_cases() -> Vec<(&'static str, Vec<u8>, &'static [u8])> {
    vec![
        (
            "non-numeric multibulk length",
            b"*abc\r\n".to_vec(),
            b"-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            "multibulk length above 2^31 - 1",
            b"*2147483648\r\n".to_vec(),
            b"-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            "negative bulk length",
            b"*1\r\n$-5\r\n".to_vec(),
            b"-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            "unbalanced quotes in an inline command",
            b"SET \"foo bar\r\n".to_vec(),
            b"-ERR Protocol error: unbalanced quotes in request\r\n",
        ),
        (
            "closing quote followed by a character",
            b"ECHO \"a\"b\r\n".to_vec(),
            b"-ERR Protocol error: unbalanced quotes in request\r\n",
        ),
        (
            "1 GiB bulk header",
            b"*1\r\n$1073741824\r\n".to_vec(),
            b"-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            "70 KiB inline line without newline",
            vec![b'a'; 70 * 1024],
            b"-ERR Protocol error: too big inline request\r\n",
        ),
        (
            "bulk without its dollar sign",
            b"*1\r\nfoo\r\n".to_vec(),
            b"-ERR Protocol error: expected '$', got 'f'\r\n",
        ),
        (
            "garbage after a good command",
            b"PING\r\n*abc\r\n".to_vec(),
            b"+PONG\r\n-ERR Protocol error: invalid multibulk length\r\n",
        ),
    ]
}

// Each malformed input gets Redis's exact protocol error and a closed
// connection, while a second client running SET/GET/INCR the whole time
// sees only correct answers, and the server still answers afterwards.
#[test]
fn garbage_closes_only_the_offending_connection() {
    let mut server = Server::start_default();
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let worker = {
        let mut con = server.client();
        let (stop, done) = (Arc::clone(&stop), Arc::clone(&done));
        thread::spawn(move || {
            let mut round: u64 = 0;
            while !stop.load(Ordering::Relaxed) {
                round += 1;
                let key = format!("bystander:{}", round % 32);
                let value = format!("value-{round}");
                assert_eq!(
                    query::<Value>(&mut con, &["SET", &key, &value]),
                    Value::Okay
                );
                assert_eq!(query::<String>(&mut con, &["GET", &key]), value);
                let counted = query::<u64>(&mut con, &["INCR", "bystander:counter"]);
                assert_eq!(counted, round, "the bystander's counter skipped");
                done.store(round, Ordering::Relaxed);
            }
        })
    };
    wait_until(
        Duration::from_secs(10),
        "the bystander client got going",
        || done.load(Ordering::Relaxed) >= 20,
    );

    for (what, input, expected) in garbage_cases() {
        let mut raw = server.raw();
        raw.send(&input);
        let answer = raw.read_until_closed();
        assert_eq!(
            String::from_utf8_lossy(&answer),
            String::from_utf8_lossy(expected),
            "answer to {what}"
        );
        server.assert_alive();
    }

    let before = done.load(Ordering::Relaxed);
    wait_until(
        Duration::from_secs(10),
        "the bystander kept working after the abuse",
        || done.load(Ordering::Relaxed) >= before + 20,
    );
    stop.store(true, Ordering::Relaxed);
    worker.join().unwrap_or_else(|_| {
        panic!("the bystander client saw a wrong answer (see its panic above)")
    });

    let mut fresh = server.raw();
    assert_eq!(fresh.command(&["PING"]), Reply::simple("PONG"));
    server.assert_alive();
}

// Many clients sending a 1 GiB bulk header at once cost the server nothing
// visible: each is refused and a normal client is served meanwhile.
#[test]
fn many_huge_bulk_headers_at_once() {
    let mut server = Server::start_default();
    let mut attackers: Vec<_> = (0..20).map(|_| server.raw()).collect();
    for attacker in &mut attackers {
        attacker.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1073741824\r\n");
    }
    let mut con = server.client();
    assert_eq!(
        query::<Value>(&mut con, &["SET", "normal", "ok"]),
        Value::Okay
    );
    for attacker in &mut attackers {
        assert_eq!(
            attacker.read_until_closed(),
            b"-ERR Protocol error: invalid bulk length\r\n"
        );
    }
    assert_eq!(query::<String>(&mut con, &["GET", "normal"]), "ok");
    assert_eq!(query::<i64>(&mut con, &["EXISTS", "k"]), 0);
    server.assert_alive();
}

// proto_max_bulk_len = "1mb" admits a value just under 1 MiB and refuses a
// 2 MB bulk header with the protocol error, closing that connection only.
#[test]
fn configured_bulk_limit_is_enforced() {
    let server = Server::start(Config::new().proto_max_bulk_len("1mb"));
    let mut con = server.client();
    let value = "v".repeat(1_000_000);
    assert_eq!(
        query::<Value>(&mut con, &["SET", "big", &value]),
        Value::Okay
    );
    assert_eq!(query::<i64>(&mut con, &["STRLEN", "big"]), 1_000_000);

    let mut raw = server.raw();
    raw.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000000\r\n");
    assert_eq!(
        raw.read_until_closed(),
        b"-ERR Protocol error: invalid bulk length\r\n"
    );
    assert_eq!(query::<i64>(&mut con, &["STRLEN", "big"]), 1_000_000);
}

// Before AUTH on a database with a password, Redis caps a request at 10
// arguments and 16 KiB bulks, so an unauthenticated peer cannot make the
// server allocate; after AUTH the normal limits apply.
#[test]
fn unauthenticated_clients_get_tight_limits() {
    let server = Server::start(Config::new().password("pw"));
    let mut raw = server.raw();
    raw.send(b"*11\r\n");
    assert_eq!(
        raw.read_until_closed(),
        b"-ERR Protocol error: unauthenticated multibulk length\r\n"
    );
    let mut raw = server.raw();
    raw.send(b"*1\r\n$16385\r\n");
    assert_eq!(
        raw.read_until_closed(),
        b"-ERR Protocol error: unauthenticated bulk length\r\n"
    );
    let mut raw = server.raw();
    assert_eq!(raw.command(&["AUTH", "pw"]), Reply::simple("OK"));
    let value = "u".repeat(100_000);
    let mut args = vec!["MSET"];
    for _ in 0..6 {
        args.extend(["key", value.as_str()]);
    }
    assert_eq!(raw.command(&args), Reply::simple("OK"));
    assert_eq!(raw.command(&["STRLEN", "key"]), Reply::Integer(100_000));
}
