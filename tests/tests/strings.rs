//! Proves that every string command of the engine issue answers as Redis 7
//! does, with its options and Redis's exact error texts, by starting a server
//! (two data cores) and driving it through the redis crate.

use std::time::{SystemTime, UNIX_EPOCH};

use petrel_e2e::{query, query_error, Server};
use redis::Value;

fn now_ms() -> i64 {
    let elapsed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970");
    i64::try_from(elapsed.as_millis()).expect("milliseconds fit i64")
}

// SET with each of EX PX EXAT PXAT NX XX KEEPTTL GET sets, refuses or
// returns exactly what Redis does, seen through GET, TTL and PTTL.
#[test]
fn set_honours_every_option() {
    let server = Server::start_default();
    let mut con = server.client();

    assert_eq!(query::<Value>(&mut con, &["SET", "k", "v1"]), Value::Okay);
    assert_eq!(query::<String>(&mut con, &["GET", "k"]), "v1");
    assert_eq!(query::<i64>(&mut con, &["TTL", "k"]), -1);

    // NX refuses an existing key, XX a missing one; both answer nil.
    assert_eq!(
        query::<Value>(&mut con, &["SET", "k", "v2", "NX"]),
        Value::Nil
    );
    assert_eq!(query::<String>(&mut con, &["GET", "k"]), "v1");
    assert_eq!(
        query::<Value>(&mut con, &["SET", "missing", "v", "XX"]),
        Value::Nil
    );
    assert_eq!(query::<i64>(&mut con, &["EXISTS", "missing"]), 0);
    assert_eq!(
        query::<Value>(&mut con, &["SET", "k", "v2", "XX"]),
        Value::Okay
    );
    assert_eq!(
        query::<Value>(&mut con, &["SET", "fresh", "v", "NX"]),
        Value::Okay
    );
    assert_eq!(query::<String>(&mut con, &["GET", "fresh"]), "v");

    // EX / PX / EXAT / PXAT set a TTL.
    assert_eq!(
        query::<Value>(&mut con, &["SET", "k", "v", "EX", "100"]),
        Value::Okay
    );
    let ttl = query::<i64>(&mut con, &["TTL", "k"]);
    assert!((99..=100).contains(&ttl), "TTL after EX 100 was {ttl}");
    assert_eq!(
        query::<Value>(&mut con, &["SET", "k", "v", "PX", "100000"]),
        Value::Okay
    );
    let pttl = query::<i64>(&mut con, &["PTTL", "k"]);
    assert!(
        (90_000..=100_000).contains(&pttl),
        "PTTL after PX 100000 was {pttl}"
    );
    let at_seconds = (now_ms() / 1000 + 200).to_string();
    assert_eq!(
        query::<Value>(&mut con, &["SET", "k", "v", "EXAT", &at_seconds]),
        Value::Okay
    );
    let ttl = query::<i64>(&mut con, &["TTL", "k"]);
    assert!(
        (198..=200).contains(&ttl),
        "TTL after EXAT now+200 was {ttl}"
    );
    let at_ms = (now_ms() + 300_000).to_string();
    assert_eq!(
        query::<Value>(&mut con, &["SET", "k", "v", "PXAT", &at_ms]),
        Value::Okay
    );
    let ttl = query::<i64>(&mut con, &["TTL", "k"]);
    assert!(
        (298..=300).contains(&ttl),
        "TTL after PXAT now+300s was {ttl}"
    );

    // KEEPTTL keeps it; a plain SET clears it.
    assert_eq!(
        query::<Value>(&mut con, &["SET", "k", "kept", "KEEPTTL"]),
        Value::Okay
    );
    let ttl = query::<i64>(&mut con, &["TTL", "k"]);
    assert!((298..=300).contains(&ttl), "TTL after KEEPTTL was {ttl}");
    assert_eq!(query::<String>(&mut con, &["GET", "k"]), "kept");
    assert_eq!(
        query::<Value>(&mut con, &["SET", "k", "plain"]),
        Value::Okay
    );
    assert_eq!(query::<i64>(&mut con, &["TTL", "k"]), -1);

    // GET returns the old value (nil if none) and still sets.
    assert_eq!(
        query::<String>(&mut con, &["SET", "k", "new", "GET"]),
        "plain"
    );
    assert_eq!(query::<String>(&mut con, &["GET", "k"]), "new");
    assert_eq!(
        query::<Value>(&mut con, &["SET", "k2", "first", "GET"]),
        Value::Nil
    );
    assert_eq!(query::<String>(&mut con, &["GET", "k2"]), "first");
    // NX with GET: an existing key keeps its value and the old one comes back.
    assert_eq!(
        query::<String>(&mut con, &["SET", "k2", "second", "NX", "GET"]),
        "first"
    );
    assert_eq!(query::<String>(&mut con, &["GET", "k2"]), "first");
    assert_eq!(
        query::<String>(&mut con, &["SET", "k2", "third", "XX", "GET", "EX", "50"]),
        "first"
    );
    assert_eq!(query::<String>(&mut con, &["GET", "k2"]), "third");
    assert!(query::<i64>(&mut con, &["TTL", "k2"]) > 0);

    // Options are case-insensitive, and a value may be any bytes.
    assert_eq!(
        query::<Value>(&mut con, &["set", "k3", "v", "ex", "10", "nx"]),
        Value::Okay
    );
    let binary: Vec<u8> = (0u8..=255).collect();
    let _: () = redis::cmd("SET")
        .arg("bin")
        .arg(&binary)
        .query(&mut con)
        .expect("SET of binary value");
    let back: Vec<u8> = redis::cmd("GET")
        .arg("bin")
        .query(&mut con)
        .expect("GET of binary value");
    assert_eq!(back, binary);
}

// SET's option errors carry Redis's exact texts.
#[test]
fn set_rejects_bad_options_with_redis_errors() {
    let server = Server::start_default();
    let mut con = server.client();
    let syntax = "ERR syntax error";
    let invalid_expire = "ERR invalid expire time in 'set' command";
    let not_integer = "ERR value is not an integer or out of range";
    let cases: &[(&[&str], &str)] = &[
        (&["SET", "k", "v", "NX", "XX"], syntax),
        (&["SET", "k", "v", "EX", "10", "PX", "10"], syntax),
        (&["SET", "k", "v", "KEEPTTL", "EX", "10"], syntax),
        (&["SET", "k", "v", "FOO"], syntax),
        (&["SET", "k", "v", "EX"], syntax),
        (&["SET", "k", "v", "EX", "0"], invalid_expire),
        (&["SET", "k", "v", "EX", "-1"], invalid_expire),
        (&["SET", "k", "v", "PX", "0"], invalid_expire),
        (&["SET", "k", "v", "EXAT", "0"], invalid_expire),
        (
            &["SET", "k", "v", "EX", "9223372036854775807"],
            invalid_expire,
        ),
        (
            &["SET", "k", "v", "PX", "9223372036854775807"],
            invalid_expire,
        ),
        (&["SET", "k", "v", "PX", "abc"], not_integer),
        (&["SET", "k", "v", "EX", "1.5"], not_integer),
        (
            &["SET", "k"],
            "ERR wrong number of arguments for 'set' command",
        ),
    ];
    for (args, expected) in cases {
        assert_eq!(query_error(&mut con, args), *expected, "for {args:?}");
    }
    // None of the refused commands wrote anything.
    assert_eq!(query::<i64>(&mut con, &["EXISTS", "k"]), 0);
}

// SETNX, SETEX, PSETEX, GETSET and GETDEL behave and fail as in Redis.
#[test]
fn setnx_setex_psetex_getset_getdel() {
    let server = Server::start_default();
    let mut con = server.client();

    assert_eq!(query::<i64>(&mut con, &["SETNX", "n", "1"]), 1);
    assert_eq!(query::<i64>(&mut con, &["SETNX", "n", "2"]), 0);
    assert_eq!(query::<String>(&mut con, &["GET", "n"]), "1");

    assert_eq!(
        query::<Value>(&mut con, &["SETEX", "e", "100", "v"]),
        Value::Okay
    );
    let ttl = query::<i64>(&mut con, &["TTL", "e"]);
    assert!((99..=100).contains(&ttl), "TTL after SETEX 100 was {ttl}");
    assert_eq!(
        query::<Value>(&mut con, &["PSETEX", "p", "100000", "v"]),
        Value::Okay
    );
    let pttl = query::<i64>(&mut con, &["PTTL", "p"]);
    assert!(
        (90_000..=100_000).contains(&pttl),
        "PTTL after PSETEX was {pttl}"
    );
    assert_eq!(
        query_error(&mut con, &["SETEX", "e", "0", "v"]),
        "ERR invalid expire time in 'setex' command"
    );
    assert_eq!(
        query_error(&mut con, &["PSETEX", "e", "-1", "v"]),
        "ERR invalid expire time in 'psetex' command"
    );
    assert_eq!(
        query_error(&mut con, &["SETEX", "e", "abc", "v"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        query_error(&mut con, &["SETEX", "e", "10"]),
        "ERR wrong number of arguments for 'setex' command"
    );

    // GETSET returns the old value and drops the TTL.
    assert_eq!(query::<String>(&mut con, &["GETSET", "e", "w"]), "v");
    assert_eq!(query::<i64>(&mut con, &["TTL", "e"]), -1);
    assert_eq!(query::<String>(&mut con, &["GET", "e"]), "w");
    assert_eq!(
        query::<Value>(&mut con, &["GETSET", "none", "x"]),
        Value::Nil
    );
    assert_eq!(query::<String>(&mut con, &["GET", "none"]), "x");

    assert_eq!(query::<String>(&mut con, &["GETDEL", "e"]), "w");
    assert_eq!(query::<Value>(&mut con, &["GETDEL", "e"]), Value::Nil);
    assert_eq!(query::<i64>(&mut con, &["EXISTS", "e"]), 0);
}

// GETEX reads the value and changes or removes its TTL per option.
#[test]
fn getex_changes_ttl_per_option() {
    let server = Server::start_default();
    let mut con = server.client();
    assert_eq!(query::<Value>(&mut con, &["SET", "g", "v"]), Value::Okay);

    assert_eq!(query::<String>(&mut con, &["GETEX", "g"]), "v");
    assert_eq!(query::<i64>(&mut con, &["TTL", "g"]), -1);
    assert_eq!(query::<String>(&mut con, &["GETEX", "g", "EX", "100"]), "v");
    assert!((99..=100).contains(&query::<i64>(&mut con, &["TTL", "g"])));
    assert_eq!(
        query::<String>(&mut con, &["GETEX", "g", "PX", "200000"]),
        "v"
    );
    assert!((190..=200).contains(&query::<i64>(&mut con, &["TTL", "g"])));
    let at_seconds = (now_ms() / 1000 + 300).to_string();
    assert_eq!(
        query::<String>(&mut con, &["GETEX", "g", "EXAT", &at_seconds]),
        "v"
    );
    assert!((298..=300).contains(&query::<i64>(&mut con, &["TTL", "g"])));
    let at_ms = (now_ms() + 400_000).to_string();
    assert_eq!(
        query::<String>(&mut con, &["GETEX", "g", "PXAT", &at_ms]),
        "v"
    );
    assert!((398..=400).contains(&query::<i64>(&mut con, &["TTL", "g"])));
    assert_eq!(query::<String>(&mut con, &["GETEX", "g", "PERSIST"]), "v");
    assert_eq!(query::<i64>(&mut con, &["TTL", "g"]), -1);

    assert_eq!(
        query::<Value>(&mut con, &["GETEX", "missing", "EX", "10"]),
        Value::Nil
    );
    assert_eq!(query::<i64>(&mut con, &["EXISTS", "missing"]), 0);

    assert_eq!(
        query_error(&mut con, &["GETEX", "g", "PERSIST", "EX", "10"]),
        "ERR syntax error"
    );
    assert_eq!(
        query_error(&mut con, &["GETEX", "g", "FOO"]),
        "ERR syntax error"
    );
    assert_eq!(
        query_error(&mut con, &["GETEX", "g", "EX", "0"]),
        "ERR invalid expire time in 'getex' command"
    );
    assert_eq!(
        query_error(&mut con, &["GETEX", "g", "EX", "x"]),
        "ERR value is not an integer or out of range"
    );
}

// MGET, MSET and MSETNX over keys of every shard: MSETNX sets all or none.
#[test]
fn mget_mset_msetnx() {
    let server = Server::start_default();
    let mut con = server.client();
    assert_eq!(
        query::<Value>(&mut con, &["MSET", "a", "1", "b", "2", "c", "3"]),
        Value::Okay
    );
    assert_eq!(
        query::<Vec<Option<String>>>(&mut con, &["MGET", "c", "missing", "a", "b", "a"]),
        vec![
            Some("3".to_owned()),
            None,
            Some("1".to_owned()),
            Some("2".to_owned()),
            Some("1".to_owned())
        ]
    );
    // A repeated key in MSET: the last value wins.
    assert_eq!(
        query::<Value>(&mut con, &["MSET", "d", "x", "d", "y"]),
        Value::Okay
    );
    assert_eq!(query::<String>(&mut con, &["GET", "d"]), "y");

    assert_eq!(query::<i64>(&mut con, &["MSETNX", "e", "5", "a", "9"]), 0);
    assert_eq!(query::<i64>(&mut con, &["EXISTS", "e"]), 0);
    assert_eq!(query::<String>(&mut con, &["GET", "a"]), "1");
    // Twenty new keys over both shards and one existing key: nothing is set.
    let mut msetnx = vec!["MSETNX".to_owned()];
    for i in 0..20 {
        msetnx.extend([format!("nx:{i}"), "new".to_owned()]);
    }
    msetnx.extend(["b".to_owned(), "new".to_owned()]);
    let msetnx_args: Vec<&str> = msetnx.iter().map(String::as_str).collect();
    assert_eq!(query::<i64>(&mut con, &msetnx_args), 0);
    let mut exists = vec!["EXISTS".to_owned()];
    exists.extend((0..20).map(|i| format!("nx:{i}")));
    let exists_args: Vec<&str> = exists.iter().map(String::as_str).collect();
    assert_eq!(
        query::<i64>(&mut con, &exists_args),
        0,
        "MSETNX set some keys"
    );
    assert_eq!(query::<String>(&mut con, &["GET", "b"]), "2");
    assert_eq!(query::<i64>(&mut con, &msetnx_args[..41]), 1);
    assert_eq!(query::<i64>(&mut con, &exists_args), 20);
    assert_eq!(query::<i64>(&mut con, &["MSETNX", "e", "5", "f", "6"]), 1);
    assert_eq!(
        query::<Vec<String>>(&mut con, &["MGET", "e", "f"]),
        vec!["5".to_owned(), "6".to_owned()]
    );

    assert_eq!(
        query_error(&mut con, &["MSET", "a"]),
        "ERR wrong number of arguments for 'mset' command"
    );
    assert_eq!(
        query_error(&mut con, &["MSET", "a", "1", "b"]),
        "ERR wrong number of arguments for 'mset' command"
    );
    assert_eq!(
        query_error(&mut con, &["MSETNX", "a", "1", "b"]),
        "ERR wrong number of arguments for 'msetnx' command"
    );
    assert_eq!(
        query_error(&mut con, &["MGET"]),
        "ERR wrong number of arguments for 'mget' command"
    );
}

// APPEND creates or extends a value and returns the new length; STRLEN
// answers 0 for a missing key.
#[test]
fn append_and_strlen() {
    let server = Server::start_default();
    let mut con = server.client();
    assert_eq!(query::<i64>(&mut con, &["APPEND", "s", "hello"]), 5);
    assert_eq!(query::<i64>(&mut con, &["APPEND", "s", " world"]), 11);
    assert_eq!(query::<String>(&mut con, &["GET", "s"]), "hello world");
    assert_eq!(query::<i64>(&mut con, &["STRLEN", "s"]), 11);
    assert_eq!(query::<i64>(&mut con, &["STRLEN", "missing"]), 0);
    assert_eq!(query::<i64>(&mut con, &["APPEND", "s", ""]), 11);
    // APPEND keeps the TTL.
    assert_eq!(
        query::<Value>(&mut con, &["SET", "t", "a", "EX", "100"]),
        Value::Okay
    );
    assert_eq!(query::<i64>(&mut con, &["APPEND", "t", "b"]), 2);
    assert!(query::<i64>(&mut con, &["TTL", "t"]) > 0);
    // An integer counts as its decimal text.
    assert_eq!(query::<i64>(&mut con, &["INCRBY", "i", "12345"]), 12345);
    assert_eq!(query::<i64>(&mut con, &["STRLEN", "i"]), 5);
    assert_eq!(query::<i64>(&mut con, &["APPEND", "i", "6"]), 6);
    assert_eq!(query::<i64>(&mut con, &["INCR", "i"]), 123457);
}

// INCR, DECR, INCRBY and DECRBY count from 0, accept only canonical 64-bit
// integers, and refuse to overflow with Redis's texts.
#[test]
fn integer_counters() {
    let server = Server::start_default();
    let mut con = server.client();
    assert_eq!(query::<i64>(&mut con, &["INCR", "c"]), 1);
    assert_eq!(query::<i64>(&mut con, &["INCRBY", "c", "41"]), 42);
    assert_eq!(query::<i64>(&mut con, &["DECR", "c"]), 41);
    assert_eq!(query::<i64>(&mut con, &["DECRBY", "c", "50"]), -9);
    assert_eq!(query::<i64>(&mut con, &["DECR", "fresh"]), -1);
    assert_eq!(query::<String>(&mut con, &["GET", "c"]), "-9");
    // INCR keeps the TTL.
    assert_eq!(
        query::<Value>(&mut con, &["SET", "t", "1", "EX", "100"]),
        Value::Okay
    );
    assert_eq!(query::<i64>(&mut con, &["INCR", "t"]), 2);
    assert!(query::<i64>(&mut con, &["TTL", "t"]) > 0);

    let not_integer = "ERR value is not an integer or out of range";
    for stored in ["abc", "010", "+1", "-0", " 1", "1 ", "0x10", "1.0", ""] {
        assert_eq!(
            query::<Value>(&mut con, &["SET", "bad", stored]),
            Value::Okay
        );
        assert_eq!(
            query_error(&mut con, &["INCR", "bad"]),
            not_integer,
            "INCR of {stored:?}"
        );
        assert_eq!(
            query::<String>(&mut con, &["GET", "bad"]),
            stored,
            "value kept after failed INCR"
        );
    }
    assert_eq!(query_error(&mut con, &["INCRBY", "c", "abc"]), not_integer);
    assert_eq!(
        query_error(&mut con, &["INCRBY", "c", "9223372036854775808"]),
        not_integer
    );
    assert_eq!(query_error(&mut con, &["DECRBY", "c", "1.5"]), not_integer);

    assert_eq!(
        query::<Value>(&mut con, &["SET", "max", "9223372036854775807"]),
        Value::Okay
    );
    assert_eq!(
        query_error(&mut con, &["INCR", "max"]),
        "ERR increment or decrement would overflow"
    );
    assert_eq!(
        query::<Value>(&mut con, &["SET", "min", "-9223372036854775808"]),
        Value::Okay
    );
    assert_eq!(
        query_error(&mut con, &["DECR", "min"]),
        "ERR increment or decrement would overflow"
    );
    assert_eq!(
        query_error(&mut con, &["DECRBY", "c", "-9223372036854775808"]),
        "ERR decrement would overflow"
    );
    assert_eq!(
        query::<i64>(&mut con, &["INCR", "min"]),
        -9223372036854775807
    );
    assert_eq!(
        query_error(&mut con, &["INCR", "c", "1"]),
        "ERR wrong number of arguments for 'incr' command"
    );
}

// INCRBYFLOAT prints results in Redis's plain decimal form (no exponent, no
// trailing zeros) and refuses non-floats and infinities.
#[test]
fn incrbyfloat_formatting() {
    let server = Server::start_default();
    let mut con = server.client();
    assert_eq!(
        query::<String>(&mut con, &["INCRBYFLOAT", "f", "10.5"]),
        "10.5"
    );
    assert_eq!(
        query::<String>(&mut con, &["INCRBYFLOAT", "f", "0.1"]),
        "10.6"
    );
    assert_eq!(query::<String>(&mut con, &["GET", "f"]), "10.6");
    assert_eq!(
        query::<String>(&mut con, &["INCRBYFLOAT", "g", "5.0e3"]),
        "5000"
    );
    assert_eq!(
        query::<Value>(&mut con, &["SET", "h", "3.0e3"]),
        Value::Okay
    );
    assert_eq!(
        query::<String>(&mut con, &["INCRBYFLOAT", "h", "1"]),
        "3001"
    );
    assert_eq!(query::<Value>(&mut con, &["SET", "i", "1"]), Value::Okay);
    assert_eq!(query::<String>(&mut con, &["INCRBYFLOAT", "i", "1"]), "2");
    assert_eq!(
        query::<String>(&mut con, &["INCRBYFLOAT", "i", "-3.5"]),
        "-1.5"
    );
    assert_eq!(query::<String>(&mut con, &["INCRBYFLOAT", "i", "1.5"]), "0");
    assert_eq!(query::<Value>(&mut con, &["SET", "j", "5"]), Value::Okay);
    assert_eq!(
        query::<String>(&mut con, &["INCRBYFLOAT", "j", "0.0000001"]),
        "5.0000001"
    );
    assert_eq!(query::<Value>(&mut con, &["SET", "k", "1"]), Value::Okay);
    assert_eq!(
        query::<String>(&mut con, &["INCRBYFLOAT", "k", "1e20"]),
        "100000000000000000000"
    );
    assert_eq!(query::<Value>(&mut con, &["SET", "l", "1e5"]), Value::Okay);
    assert_eq!(
        query::<String>(&mut con, &["INCRBYFLOAT", "l", "0"]),
        "100000"
    );
    // INCRBYFLOAT keeps the TTL.
    assert_eq!(
        query::<Value>(&mut con, &["SET", "t", "1", "EX", "100"]),
        Value::Okay
    );
    assert_eq!(
        query::<String>(&mut con, &["INCRBYFLOAT", "t", "0.5"]),
        "1.5"
    );
    assert!(query::<i64>(&mut con, &["TTL", "t"]) > 0);

    let not_float = "ERR value is not a valid float";
    assert_eq!(query::<Value>(&mut con, &["SET", "s", "abc"]), Value::Okay);
    assert_eq!(query_error(&mut con, &["INCRBYFLOAT", "s", "1"]), not_float);
    assert_eq!(
        query_error(&mut con, &["INCRBYFLOAT", "f", "abc"]),
        not_float
    );
    assert_eq!(
        query_error(&mut con, &["INCRBYFLOAT", "f", "nan"]),
        not_float
    );
    assert_eq!(
        query::<Value>(&mut con, &["SET", "sp", "1.5 "]),
        Value::Okay
    );
    assert_eq!(
        query_error(&mut con, &["INCRBYFLOAT", "sp", "1"]),
        not_float
    );
    assert_eq!(
        query_error(&mut con, &["INCRBYFLOAT", "f", "inf"]),
        "ERR increment would produce NaN or Infinity"
    );
    assert_eq!(query::<String>(&mut con, &["GET", "f"]), "10.6");
}

// GETRANGE clamps and counts from the end as Redis does, including empty
// and inverted ranges and a missing key.
#[test]
fn getrange_edge_cases() {
    let server = Server::start_default();
    let mut con = server.client();
    assert_eq!(
        query::<Value>(&mut con, &["SET", "s", "helloworld"]),
        Value::Okay
    );
    let cases: &[(&str, &str, &str)] = &[
        ("0", "4", "hello"),
        ("0", "-1", "helloworld"),
        ("-3", "-1", "rld"),
        ("5", "1", ""),
        ("0", "-100", "h"),
        ("-100", "2", "hel"),
        ("-100", "-100", "h"),
        ("9", "100", "d"),
        ("10", "20", ""),
        ("100", "200", ""),
        ("-1", "-2", ""),
        ("3", "3", "l"),
    ];
    for (start, end, expected) in cases {
        assert_eq!(
            query::<String>(&mut con, &["GETRANGE", "s", start, end]),
            *expected,
            "GETRANGE s {start} {end}"
        );
    }
    assert_eq!(
        query::<String>(&mut con, &["GETRANGE", "missing", "0", "-1"]),
        ""
    );
    assert_eq!(
        query_error(&mut con, &["GETRANGE", "s", "a", "b"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        query_error(&mut con, &["GETRANGE", "s", "0"]),
        "ERR wrong number of arguments for 'getrange' command"
    );
}

// SETRANGE pads with zero bytes, creates keys only for non-empty values,
// and refuses negative or too-large offsets with Redis's texts.
#[test]
fn setrange_edge_cases() {
    let server = Server::start_default();
    let mut con = server.client();
    assert_eq!(
        query::<Value>(&mut con, &["SET", "s", "Hello World"]),
        Value::Okay
    );
    assert_eq!(query::<i64>(&mut con, &["SETRANGE", "s", "6", "Redis"]), 11);
    assert_eq!(query::<String>(&mut con, &["GET", "s"]), "Hello Redis");
    assert_eq!(query::<i64>(&mut con, &["SETRANGE", "s", "0", ""]), 11);
    assert_eq!(query::<i64>(&mut con, &["SETRANGE", "s", "13", "!"]), 14);
    let padded: Vec<u8> = redis::cmd("GET")
        .arg("s")
        .query(&mut con)
        .expect("GET after SETRANGE");
    assert_eq!(padded, b"Hello Redis\0\0!".to_vec());

    // A missing key: created with zero padding for a non-empty value only.
    assert_eq!(query::<i64>(&mut con, &["SETRANGE", "n", "3", "ab"]), 5);
    let created: Vec<u8> = redis::cmd("GET")
        .arg("n")
        .query(&mut con)
        .expect("GET new key");
    assert_eq!(created, b"\0\0\0ab".to_vec());
    assert_eq!(query::<i64>(&mut con, &["SETRANGE", "empty", "0", ""]), 0);
    assert_eq!(query::<i64>(&mut con, &["SETRANGE", "empty", "10", ""]), 0);
    assert_eq!(query::<i64>(&mut con, &["EXISTS", "empty"]), 0);

    // SETRANGE keeps the TTL.
    assert_eq!(
        query::<Value>(&mut con, &["SET", "t", "abc", "EX", "100"]),
        Value::Okay
    );
    assert_eq!(query::<i64>(&mut con, &["SETRANGE", "t", "1", "X"]), 3);
    assert_eq!(query::<String>(&mut con, &["GET", "t"]), "aXc");
    assert!(query::<i64>(&mut con, &["TTL", "t"]) > 0);

    assert_eq!(
        query_error(&mut con, &["SETRANGE", "s", "-1", "x"]),
        "ERR offset is out of range"
    );
    assert_eq!(
        query_error(&mut con, &["SETRANGE", "s", "536870912", "x"]),
        "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
    );
    assert_eq!(
        query_error(&mut con, &["SETRANGE", "s", "x", "x"]),
        "ERR value is not an integer or out of range"
    );
}

// Every string command answers Redis's arity error, naming the command in
// lower case whatever case the client used.
#[test]
fn arity_errors_name_the_command() {
    let server = Server::start_default();
    let mut con = server.client();
    let cases: &[&[&str]] = &[
        &["GET"],
        &["GET", "a", "b"],
        &["SET", "a"],
        &["SETNX", "a"],
        &["SETEX", "a", "1"],
        &["PSETEX", "a", "1"],
        &["GETSET", "a"],
        &["GETDEL"],
        &["GETEX"],
        &["APPEND", "a"],
        &["STRLEN"],
        &["INCR"],
        &["DECR"],
        &["INCRBY", "a"],
        &["DECRBY", "a"],
        &["INCRBYFLOAT", "a"],
        &["GETRANGE", "a", "0"],
        &["SETRANGE", "a", "0"],
    ];
    for args in cases {
        let name = args[0].to_ascii_lowercase();
        assert_eq!(
            query_error(&mut con, args),
            format!("ERR wrong number of arguments for '{name}' command"),
            "for {args:?}"
        );
    }
}
