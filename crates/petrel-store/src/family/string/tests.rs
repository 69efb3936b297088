//! The string commands run in-process against one keyspace with a virtual
//! clock; every command also checks that the memory counter equals a fresh
//! measurement, so accounting drift fails the test that caused it.

use bytes::Bytes;
use petrel_resp::Reply;

use crate::keyspace::{Entry, Keyspace, Value};
use crate::{table, ExecContext};

/// One database with a clock, driven by command lines.
pub(crate) struct Db {
    pub keyspace: Keyspace,
    pub now_ms: u64,
}

impl Db {
    pub fn new() -> Db {
        Db {
            keyspace: Keyspace::default(),
            now_ms: 1_700_000_000_000,
        }
    }

    /// Runs a command as the engine would after routing: arity first.
    pub fn run(&mut self, parts: &[&str]) -> Reply {
        let args: Vec<Bytes> = parts
            .iter()
            .map(|part| Bytes::copy_from_slice(part.as_bytes()))
            .collect();
        self.run_args(&args)
    }

    pub fn run_args(&mut self, args: &[Bytes]) -> Reply {
        let spec = table::lookup(&args[0]).expect("command is in the table");
        if !spec.arity_ok(args.len()) {
            return table::arity_error_reply(&args[0]);
        }
        let handler = spec.handler.expect("command has a shard handler");
        let ctx = ExecContext {
            now_ms: self.now_ms,
            shard_id: 0,
            shard_count: 1,
        };
        let reply = handler(&mut self.keyspace, args, &ctx);
        assert_eq!(
            self.keyspace.used_memory_bytes(),
            self.keyspace.measure_used_memory_bytes(),
            "memory accounting drifted after {args:?}"
        );
        reply
    }

    /// Stores a value of another type, to exercise WRONGTYPE paths.
    pub fn put_other(&mut self, key: &str) {
        self.keyspace.insert(
            Bytes::copy_from_slice(key.as_bytes()),
            Entry::new(Value::Other { type_name: "list" }),
            self.now_ms,
        );
    }
}

pub(crate) fn bulk(text: &str) -> Reply {
    Reply::Bulk(Bytes::copy_from_slice(text.as_bytes()))
}

pub(crate) fn int(n: i64) -> Reply {
    Reply::Integer(n)
}

pub(crate) fn err(text: &'static str) -> Reply {
    Reply::error(text)
}

pub(crate) fn ok() -> Reply {
    Reply::ok()
}

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
const SYNTAX: &str = "ERR syntax error";

/// GET returns what SET stored, nil for a missing key, WRONGTYPE otherwise.
#[test]
fn get_and_set() {
    let mut db = Db::new();
    assert_eq!(db.run(&["GET", "k"]), Reply::Nil);
    assert_eq!(db.run(&["SET", "k", "v"]), ok());
    assert_eq!(db.run(&["GET", "k"]), bulk("v"));
    assert_eq!(db.run(&["set", "k", ""]), ok());
    assert_eq!(db.run(&["GET", "k"]), bulk(""));
    db.put_other("l");
    assert_eq!(db.run(&["GET", "l"]), err(WRONGTYPE));
    assert_eq!(
        db.run(&["SET", "l", "x"]),
        ok(),
        "plain SET overwrites any type"
    );
    assert_eq!(db.run(&["GET", "l"]), bulk("x"));
    assert_eq!(
        db.run(&["GET"]),
        err("ERR wrong number of arguments for 'get' command")
    );
}

/// NX and XX decide on existence; GET returns the old value either way.
#[test]
fn set_conditions_and_get() {
    let mut db = Db::new();
    assert_eq!(db.run(&["SET", "k", "1", "XX"]), Reply::Nil);
    assert_eq!(db.run(&["GET", "k"]), Reply::Nil);
    assert_eq!(db.run(&["SET", "k", "1", "NX"]), ok());
    assert_eq!(db.run(&["SET", "k", "2", "NX"]), Reply::Nil);
    assert_eq!(db.run(&["SET", "k", "3", "XX"]), ok());
    assert_eq!(db.run(&["SET", "k", "4", "GET"]), bulk("3"));
    assert_eq!(db.run(&["SET", "k", "5", "NX", "GET"]), bulk("4"));
    assert_eq!(db.run(&["GET", "k"]), bulk("4"), "NX refused the write");
    assert_eq!(db.run(&["SET", "new", "v", "NX", "GET"]), Reply::Nil);
    assert_eq!(db.run(&["GET", "new"]), bulk("v"));
    assert_eq!(db.run(&["SET", "gone", "v", "XX", "GET"]), Reply::Nil);
    assert_eq!(db.run(&["SET", "k", "6", "get", "get"]), bulk("4"));
    assert_eq!(db.run(&["SET", "k", "7", "NX", "NX"]), Reply::Nil);
    db.put_other("l");
    for options in [&["GET"][..], &["GET", "NX"], &["NX", "GET"], &["XX", "GET"]] {
        let mut line = vec!["SET", "l", "v"];
        line.extend_from_slice(options);
        assert_eq!(db.run(&line), err(WRONGTYPE), "{line:?}");
    }
    assert_eq!(
        db.keyspace
            .get(b"l", db.now_ms)
            .map(|e| e.value.type_name()),
        Some("list")
    );
}

/// SET's option grammar and its error texts, as redis-server 7 answers.
#[test]
fn set_option_errors() {
    let mut db = Db::new();
    for line in [
        &["SET", "k", "v", "NX", "XX"][..],
        &["SET", "k", "v", "XX", "NX"],
        &["SET", "k", "v", "EX", "10", "PX", "100"],
        &["SET", "k", "v", "KEEPTTL", "EX", "10"],
        &["SET", "k", "v", "EX", "10", "KEEPTTL"],
        &["SET", "k", "v", "EX"],
        &["SET", "k", "v", "PERSIST"],
        &["SET", "k", "v", "FOO"],
        &["SET", "k", "v", "EXAT", "1", "PXAT", "1"],
    ] {
        assert_eq!(db.run(line), err(SYNTAX), "{line:?}");
    }
    assert_eq!(db.run(&["SET", "k", "v", "EX", "abc"]), err(NOT_INTEGER));
    assert_eq!(db.run(&["SET", "k", "v", "EX", "+1"]), err(NOT_INTEGER));
    let invalid = "ERR invalid expire time in 'set' command";
    for time in ["0", "-1", "9223372036854775", "9223372036854775807"] {
        let reply = db.run(&["SET", "k", "v", "EX", time]);
        assert_eq!(reply, Reply::error(invalid), "EX {time}");
    }
    assert_eq!(
        db.run(&["SET", "k", "v", "PX", "9223372036854775807"]),
        Reply::error(invalid)
    );
    db.put_other("l");
    assert_eq!(
        db.run(&["SET", "l", "x", "GET", "EX", "abc"]),
        err(NOT_INTEGER),
        "the time is checked before the type"
    );
    assert_eq!(db.run(&["GET", "k"]), Reply::Nil, "no failed SET wrote");
}

/// EX, PX, EXAT and PXAT set the deadline; a repeated EX takes the last;
/// a deadline at or before now leaves no key.
#[test]
fn set_expiry_options() {
    let mut db = Db::new();
    let now = db.now_ms;
    db.run(&["SET", "k", "v", "EX", "10", "EX", "20"]);
    assert_eq!(db.run(&["PTTL", "k"]), int(20_000));
    db.run(&["SET", "k", "v", "PX", "1500"]);
    assert_eq!(db.run(&["PTTL", "k"]), int(1500));
    let at_seconds = (now / 1000 + 100).to_string();
    db.run(&["SET", "k", "v", "EXAT", &at_seconds]);
    assert_eq!(
        db.run(&["PEXPIRETIME", "k"]),
        int((now / 1000 + 100) as i64 * 1000)
    );
    let at_ms = (now + 1234).to_string();
    db.run(&["SET", "k", "v", "PXAT", &at_ms]);
    assert_eq!(db.run(&["PTTL", "k"]), int(1234));
    assert_eq!(db.run(&["SET", "k", "v", "PXAT", &now.to_string()]), ok());
    assert_eq!(
        db.run(&["EXISTS", "k"]),
        int(0),
        "a deadline of exactly now is past"
    );
    assert_eq!(db.run(&["SET", "k", "v", "EXAT", "1"]), ok());
    assert_eq!(db.run(&["GET", "k"]), Reply::Nil);
    db.run(&["SET", "k", "v", "PXAT", "9223372036854775807"]);
    assert_eq!(
        db.run(&["PEXPIRETIME", "k"]),
        int(9_223_372_036_854_775_807)
    );
    assert_eq!(
        db.keyspace.used_memory_bytes(),
        db.keyspace.measure_used_memory_bytes()
    );
}

/// KEEPTTL keeps the deadline; any other SET clears it.
#[test]
fn set_keepttl() {
    let mut db = Db::new();
    db.run(&["SET", "k", "v", "EX", "100"]);
    assert_eq!(db.run(&["SET", "k", "w", "KEEPTTL"]), ok());
    assert_eq!(db.run(&["TTL", "k"]), int(100));
    assert_eq!(db.run(&["GET", "k"]), bulk("w"));
    db.run(&["SET", "k", "x"]);
    assert_eq!(db.run(&["TTL", "k"]), int(-1));
    assert_eq!(db.run(&["SET", "fresh", "v", "KEEPTTL"]), ok());
    assert_eq!(db.run(&["TTL", "fresh"]), int(-1));
    assert_eq!(db.keyspace.expires_count(), 0);
}

/// SETNX, SETEX and PSETEX, with their own command names in errors.
#[test]
fn setnx_setex_psetex() {
    let mut db = Db::new();
    assert_eq!(db.run(&["SETNX", "k", "1"]), int(1));
    assert_eq!(db.run(&["SETNX", "k", "2"]), int(0));
    assert_eq!(db.run(&["GET", "k"]), bulk("1"));
    assert_eq!(db.run(&["SETEX", "k", "10", "v"]), ok());
    assert_eq!(db.run(&["TTL", "k"]), int(10));
    assert_eq!(db.run(&["PSETEX", "k", "10", "w"]), ok());
    assert_eq!(db.run(&["PTTL", "k"]), int(10));
    assert_eq!(db.run(&["GET", "k"]), bulk("w"));
    assert_eq!(
        db.run(&["SETEX", "k", "0", "v"]),
        err("ERR invalid expire time in 'setex' command")
    );
    assert_eq!(
        db.run(&["PSETEX", "k", "-5", "v"]),
        err("ERR invalid expire time in 'psetex' command")
    );
    assert_eq!(db.run(&["SETEX", "k", "abc", "v"]), err(NOT_INTEGER));
    assert_eq!(db.run(&["GET", "k"]), bulk("w"));
}

/// GETSET returns the old value and clears the deadline; GETDEL deletes.
#[test]
fn getset_and_getdel() {
    let mut db = Db::new();
    assert_eq!(db.run(&["GETSET", "k", "1"]), Reply::Nil);
    db.run(&["EXPIRE", "k", "100"]);
    assert_eq!(db.run(&["GETSET", "k", "2"]), bulk("1"));
    assert_eq!(db.run(&["TTL", "k"]), int(-1));
    assert_eq!(db.run(&["GETDEL", "k"]), bulk("2"));
    assert_eq!(db.run(&["GETDEL", "k"]), Reply::Nil);
    assert_eq!(db.run(&["EXISTS", "k"]), int(0));
    db.put_other("l");
    assert_eq!(db.run(&["GETSET", "l", "x"]), err(WRONGTYPE));
    assert_eq!(db.run(&["GETDEL", "l"]), err(WRONGTYPE));
    assert_eq!(db.run(&["TYPE", "l"]), Reply::simple("list"));
}

/// GETEX sets or removes the deadline; EXAT in the past deletes the key;
/// a missing key answers nil before its time argument is read.
#[test]
fn getex() {
    let mut db = Db::new();
    db.run(&["SET", "k", "v"]);
    assert_eq!(db.run(&["GETEX", "k"]), bulk("v"));
    assert_eq!(db.run(&["GETEX", "k", "EX", "50"]), bulk("v"));
    assert_eq!(db.run(&["TTL", "k"]), int(50));
    assert_eq!(db.run(&["GETEX", "k", "PERSIST"]), bulk("v"));
    assert_eq!(db.run(&["TTL", "k"]), int(-1));
    assert_eq!(db.run(&["GETEX", "k", "PX", "1500"]), bulk("v"));
    assert_eq!(db.run(&["PTTL", "k"]), int(1500));
    assert_eq!(db.run(&["GETEX", "k", "persist", "ex", "10"]), err(SYNTAX));
    assert_eq!(db.run(&["GETEX", "k", "KEEPTTL"]), err(SYNTAX));
    assert_eq!(db.run(&["GETEX", "k", "NX"]), err(SYNTAX));
    assert_eq!(db.run(&["GETEX", "k", "GET"]), err(SYNTAX));
    assert_eq!(db.run(&["GETEX", "nokey", "EX", "abc"]), Reply::Nil);
    assert_eq!(db.run(&["GETEX", "k", "EX", "abc"]), err(NOT_INTEGER));
    assert_eq!(
        db.run(&["GETEX", "k", "EX", "0"]),
        err("ERR invalid expire time in 'getex' command")
    );
    db.put_other("l");
    assert_eq!(db.run(&["GETEX", "l", "EX", "abc"]), err(WRONGTYPE));
    assert_eq!(db.run(&["GETEX", "k", "EXAT", "1"]), bulk("v"));
    assert_eq!(db.run(&["EXISTS", "k"]), int(0));
}

/// MGET answers nil for missing keys and keys of other types.
#[test]
fn mget_mset_msetnx() {
    let mut db = Db::new();
    db.put_other("l");
    assert_eq!(db.run(&["MSET", "a", "1", "b", "2"]), ok());
    assert_eq!(
        db.run(&["MGET", "a", "l", "missing", "b", "a"]),
        Reply::Array(vec![
            bulk("1"),
            Reply::Nil,
            Reply::Nil,
            bulk("2"),
            bulk("1")
        ])
    );
    db.run(&["EXPIRE", "a", "100"]);
    db.run(&["MSET", "a", "3"]);
    assert_eq!(db.run(&["TTL", "a"]), int(-1), "MSET clears the deadline");
    assert_eq!(
        db.run(&["MSET", "a", "1", "b"]),
        err("ERR wrong number of arguments for 'mset' command")
    );
    assert_eq!(db.run(&["MSETNX", "c", "1", "a", "9"]), int(0));
    assert_eq!(
        db.run(&["MGET", "c", "a"]),
        Reply::Array(vec![Reply::Nil, bulk("3")])
    );
    assert_eq!(db.run(&["MSETNX", "c", "1", "d", "2"]), int(1));
    assert_eq!(
        db.run(&["MGET", "c", "d"]),
        Reply::Array(vec![bulk("1"), bulk("2")])
    );
    assert_eq!(db.run(&["MSETNX", "e", "1", "e", "2"]), int(1));
    assert_eq!(
        db.run(&["GET", "e"]),
        bulk("2"),
        "the last of repeated keys wins"
    );
    assert_eq!(
        db.run(&["MSETNX", "x", "1", "y"]),
        err("ERR wrong number of arguments for 'msetnx' command")
    );
    assert_eq!(db.run(&["EXISTS", "x"]), int(0));
}

/// APPEND creates, extends, keeps the deadline, and refuses other types.
#[test]
fn append_and_strlen() {
    let mut db = Db::new();
    assert_eq!(db.run(&["APPEND", "k", "Hello"]), int(5));
    assert_eq!(db.run(&["APPEND", "k", " World"]), int(11));
    assert_eq!(db.run(&["GET", "k"]), bulk("Hello World"));
    assert_eq!(db.run(&["STRLEN", "k"]), int(11));
    assert_eq!(db.run(&["STRLEN", "missing"]), int(0));
    db.run(&["EXPIRE", "k", "100"]);
    db.run(&["APPEND", "k", "!"]);
    assert_eq!(db.run(&["TTL", "k"]), int(100));
    db.put_other("l");
    assert_eq!(db.run(&["APPEND", "l", "x"]), err(WRONGTYPE));
    assert_eq!(db.run(&["STRLEN", "l"]), err(WRONGTYPE));
}

/// Repeated appends reserve room geometrically: the buffer never holds
/// more than twice the string, and memory accounting follows capacity.
#[test]
fn append_grows_geometrically() {
    let mut db = Db::new();
    let chunk = Bytes::from_static(b"0123456789");
    let args = [
        Bytes::from_static(b"APPEND"),
        Bytes::from_static(b"k"),
        chunk,
    ];
    let mut reallocations = 0;
    let mut last_usage = 0;
    for round in 1..=20_000 {
        db.run_args(&args);
        let usage = db
            .keyspace
            .get(b"k", db.now_ms)
            .expect("key")
            .value
            .memory_usage();
        if usage != last_usage {
            reallocations += 1;
            last_usage = usage;
        }
        assert!(
            usage <= 2 * round * 10 + 20,
            "capacity {usage} at round {round}"
        );
    }
    assert!(
        reallocations < 40,
        "{reallocations} reallocations for 20000 appends"
    );
    assert_eq!(db.run(&["STRLEN", "k"]), int(200_000));
    db.run(&["DEL", "k"]);
    assert_eq!(db.keyspace.used_memory_bytes(), 0);
}

/// Counters: missing keys count from 0, text is refused, overflow is
/// refused both ways, and the deadline survives.
#[test]
fn incr_decr() {
    let mut db = Db::new();
    assert_eq!(db.run(&["INCR", "n"]), int(1));
    assert_eq!(db.run(&["INCRBY", "n", "41"]), int(42));
    assert_eq!(db.run(&["DECR", "n"]), int(41));
    assert_eq!(db.run(&["DECRBY", "n", "-9"]), int(50));
    assert_eq!(db.run(&["GET", "n"]), bulk("50"));
    db.run(&["EXPIRE", "n", "100"]);
    db.run(&["INCR", "n"]);
    assert_eq!(db.run(&["TTL", "n"]), int(100), "INCR keeps the deadline");
    for text in [
        "abc",
        "01",
        "-0",
        " 1",
        "+1",
        "1.0",
        "",
        "123456789012345678901",
    ] {
        db.run(&["SET", "t", text]);
        assert_eq!(db.run(&["INCR", "t"]), err(NOT_INTEGER), "{text:?}");
    }
    assert_eq!(db.run(&["INCRBY", "n", "abc"]), err(NOT_INTEGER));
    assert_eq!(
        db.run(&["INCRBY", "n", "9223372036854775808"]),
        err(NOT_INTEGER)
    );
    let overflow = "ERR increment or decrement would overflow";
    db.run(&["SET", "max", "9223372036854775807"]);
    assert_eq!(db.run(&["INCR", "max"]), err(overflow));
    db.run(&["SET", "min", "-9223372036854775808"]);
    assert_eq!(db.run(&["DECR", "min"]), err(overflow));
    assert_eq!(db.run(&["INCRBY", "min", "-1"]), err(overflow));
    assert_eq!(
        db.run(&["DECRBY", "n", "-9223372036854775808"]),
        err("ERR decrement would overflow")
    );
    assert_eq!(db.run(&["GET", "max"]), bulk("9223372036854775807"));
    db.put_other("l");
    assert_eq!(db.run(&["INCR", "l"]), err(WRONGTYPE));
    assert_eq!(db.run(&["OBJECT", "ENCODING", "n"]), bulk("int"));
}

/// INCRBYFLOAT prints as Redis does on x86-64 (80-bit long double).
#[test]
fn incrbyfloat() {
    let mut db = Db::new();
    assert_eq!(db.run(&["INCRBYFLOAT", "f", "10.5"]), bulk("10.5"));
    assert_eq!(db.run(&["INCRBYFLOAT", "f", "0.1"]), bulk("10.6"));
    assert_eq!(db.run(&["INCRBYFLOAT", "f", "-5"]), bulk("5.6"));
    assert_eq!(
        db.run(&["INCRBYFLOAT", "f", "5.0e3"]),
        bulk("5005.60000000000000009")
    );
    assert_eq!(db.run(&["GET", "f"]), bulk("5005.60000000000000009"));
    db.run(&["SET", "f", "10"]);
    assert_eq!(db.run(&["INCRBYFLOAT", "f", "1"]), bulk("11"));
    assert_eq!(db.run(&["OBJECT", "ENCODING", "f"]), bulk("embstr"));
    db.run(&["EXPIRE", "f", "100"]);
    db.run(&["INCRBYFLOAT", "f", "1"]);
    assert_eq!(db.run(&["TTL", "f"]), int(100));
    let not_float = "ERR value is not a valid float";
    assert_eq!(db.run(&["INCRBYFLOAT", "f", "abc"]), err(not_float));
    assert_eq!(db.run(&["INCRBYFLOAT", "f", " 1"]), err(not_float));
    assert_eq!(db.run(&["INCRBYFLOAT", "f", "nan"]), err(not_float));
    db.run(&["SET", "t", "abc"]);
    assert_eq!(db.run(&["INCRBYFLOAT", "t", "1"]), err(not_float));
    let infinite = "ERR increment would produce NaN or Infinity";
    assert_eq!(db.run(&["INCRBYFLOAT", "f", "inf"]), err(infinite));
    db.run(&["SET", "t", "1.18973149535723176502e+4932"]);
    assert_eq!(db.run(&["INCRBYFLOAT", "t", "1e4913"]), err(infinite));
    assert_eq!(
        db.run(&["GET", "f"]),
        bulk("12"),
        "failed calls wrote nothing"
    );
    db.put_other("l");
    assert_eq!(db.run(&["INCRBYFLOAT", "l", "1"]), err(WRONGTYPE));
}

/// GETRANGE's index arithmetic, checked against redis-server 7.
#[test]
fn getrange() {
    let mut db = Db::new();
    db.run(&["SET", "s", "Hello World"]);
    let cases = [
        ("0", "-1", "Hello World"),
        ("-3", "-1", "rld"),
        ("5", "2", ""),
        ("-100", "3", "Hell"),
        ("3", "100", "lo World"),
        ("100", "200", ""),
        ("-1", "-5", ""),
        ("0", "0", "H"),
        ("0", "9223372036854775807", "Hello World"),
        ("-9223372036854775808", "-1", "Hello World"),
    ];
    for (start, end, expected) in cases {
        assert_eq!(
            db.run(&["GETRANGE", "s", start, end]),
            bulk(expected),
            "{start} {end}"
        );
    }
    assert_eq!(db.run(&["SUBSTR", "s", "0", "4"]), bulk("Hello"));
    assert_eq!(db.run(&["GETRANGE", "missing", "0", "-1"]), bulk(""));
    db.run(&["SET", "e", ""]);
    assert_eq!(db.run(&["GETRANGE", "e", "0", "-1"]), bulk(""));
    assert_eq!(db.run(&["GETRANGE", "e", "-1", "0"]), bulk(""));
    assert_eq!(db.run(&["GETRANGE", "s", "a", "1"]), err(NOT_INTEGER));
    db.put_other("l");
    assert_eq!(db.run(&["GETRANGE", "l", "0", "1"]), err(WRONGTYPE));
    assert_eq!(db.run(&["GETRANGE", "l", "x", "1"]), err(NOT_INTEGER));
}

/// SETRANGE overwrites, pads with zero bytes, and enforces the size limit.
#[test]
fn setrange() {
    let mut db = Db::new();
    db.run(&["SET", "s", "Hello World"]);
    assert_eq!(db.run(&["SETRANGE", "s", "6", "Redis"]), int(11));
    assert_eq!(db.run(&["GET", "s"]), bulk("Hello Redis"));
    assert_eq!(db.run(&["SETRANGE", "s", "11", "!"]), int(12));
    assert_eq!(db.run(&["SETRANGE", "pad", "5", "ab"]), int(7));
    assert_eq!(db.run(&["GET", "pad"]), bulk("\0\0\0\0\0ab"));
    assert_eq!(db.run(&["SETRANGE", "none", "0", ""]), int(0));
    assert_eq!(
        db.run(&["EXISTS", "none"]),
        int(0),
        "empty SETRANGE creates nothing"
    );
    assert_eq!(db.run(&["SETRANGE", "s", "20", ""]), int(12));
    assert_eq!(db.run(&["SETRANGE", "none", "536870912", ""]), int(0));
    assert_eq!(
        db.run(&["SETRANGE", "s", "-1", "x"]),
        err("ERR offset is out of range")
    );
    assert_eq!(db.run(&["SETRANGE", "s", "abc", "x"]), err(NOT_INTEGER));
    let too_long = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
    assert_eq!(db.run(&["SETRANGE", "s", "536870912", "x"]), err(too_long));
    assert_eq!(
        db.run(&["SETRANGE", "s", "9223372036854775807", "x"]),
        err(too_long)
    );
    db.run(&["EXPIRE", "s", "100"]);
    db.run(&["SETRANGE", "s", "0", "J"]);
    assert_eq!(db.run(&["GET", "s"]), bulk("Jello Redis!"));
    assert_eq!(db.run(&["TTL", "s"]), int(100));
    db.put_other("l");
    assert_eq!(db.run(&["SETRANGE", "l", "0", "x"]), err(WRONGTYPE));
    assert_eq!(db.run(&["SETRANGE", "l", "0", ""]), err(WRONGTYPE));
}

/// OBJECT ENCODING follows Redis: int, embstr up to 44 bytes, raw after
/// APPEND or SETRANGE or above 44 bytes.
#[test]
fn object_encoding_of_strings() {
    let mut db = Db::new();
    let cases = [
        ("10", "int"),
        ("-9223372036854775808", "int"),
        ("12345678901234567890", "embstr"),
        ("-0", "embstr"),
        (" 1", "embstr"),
        ("abc", "embstr"),
        ("01234567890123456789012345678901234567890123", "embstr"),
        ("012345678901234567890123456789012345678901234", "raw"),
    ];
    for (value, encoding) in cases {
        db.run(&["SET", "k", value]);
        assert_eq!(
            db.run(&["OBJECT", "ENCODING", "k"]),
            bulk(encoding),
            "{value}"
        );
    }
    db.run(&["SET", "k", "10"]);
    db.run(&["APPEND", "k", "5"]);
    assert_eq!(db.run(&["OBJECT", "ENCODING", "k"]), bulk("raw"));
    db.run(&["APPEND", "fresh", "123"]);
    assert_eq!(db.run(&["OBJECT", "ENCODING", "fresh"]), bulk("int"));
    db.run(&["SETRANGE", "range", "0", "123"]);
    assert_eq!(db.run(&["OBJECT", "ENCODING", "range"]), bulk("raw"));
}

/// A small value sliced from a large read buffer is copied out of it; a
/// large one keeps pointing into the buffer.
#[test]
fn small_values_do_not_pin_read_buffers() {
    let mut db = Db::new();
    let buffer = Bytes::from(vec![b'x'; 64 * 1024]);
    let inside = |ptr: *const u8| {
        let start = buffer.as_ptr() as usize;
        (start..start + buffer.len()).contains(&(ptr as usize))
    };
    let small = buffer.slice(100..132);
    let large = buffer.slice(0..20 * 1024);
    db.run_args(&[
        Bytes::from_static(b"SET"),
        Bytes::from_static(b"small"),
        small,
    ]);
    db.run_args(&[
        Bytes::from_static(b"SET"),
        Bytes::from_static(b"large"),
        large,
    ]);
    let stored = |db: &mut Db, key: &[u8]| {
        let entry = db.keyspace.get(key, db.now_ms).expect("stored");
        entry.value.as_string().expect("string").as_bytes().as_ptr()
    };
    assert!(!inside(stored(&mut db, b"small")));
    assert!(inside(stored(&mut db, b"large")));
}

/// Memory accounting returns to zero once every key is gone, whatever
/// changed the values on the way.
#[test]
fn memory_returns_to_zero() {
    let mut db = Db::new();
    db.run(&["SET", "a", "1", "EX", "10"]);
    db.run(&["SET", "a", "a much longer value than before"]);
    db.run(&["APPEND", "a", "and more"]);
    db.run(&["SETRANGE", "b", "100", "x"]);
    db.run(&["INCR", "c"]);
    db.run(&["INCRBYFLOAT", "d", "1.5"]);
    db.run(&["MSET", "e", "1", "f", "2"]);
    db.run(&["GETSET", "e", "22222222"]);
    db.run(&["SETEX", "g", "1", "v"]);
    db.run(&["PEXPIRE", "f", "1"]);
    db.run(&["RENAME", "b", "h"]);
    assert!(db.keyspace.used_memory_bytes() > 0);
    db.now_ms += 1000;
    db.keyspace.expire_due(db.now_ms, 100);
    assert_eq!(
        db.keyspace.used_memory_bytes(),
        db.keyspace.measure_used_memory_bytes()
    );
    assert_eq!(db.run(&["GETDEL", "c"]), bulk("1"));
    assert_eq!(db.run(&["DEL", "a", "d", "e", "h"]), int(4));
    assert_eq!(db.keyspace.len(), 0);
    assert_eq!(db.keyspace.used_memory_bytes(), 0);
    db.run(&["MSET", "x", "1", "y", "2"]);
    db.run(&["FLUSHDB"]);
    assert_eq!(db.keyspace.used_memory_bytes(), 0);
}
