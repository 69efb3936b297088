//! The generic key commands run in-process against one keyspace with a
//! virtual clock (see the string family's tests for the driver), plus the
//! keyspace's own expiry and scan guarantees.

use std::collections::HashSet;

use bytes::Bytes;
use petrel_resp::Reply;

use crate::family::string::tests::{bulk, err, int, ok, Db};

fn keys_reply(reply: Reply) -> HashSet<String> {
    let Reply::Array(items) = reply else {
        panic!("expected an array, got {reply:?}");
    };
    items
        .into_iter()
        .map(|item| match item {
            Reply::Bulk(key) => String::from_utf8(key.to_vec()).expect("utf-8 key"),
            other => panic!("expected a bulk key, got {other:?}"),
        })
        .collect()
}

fn set_of(keys: &[&str]) -> HashSet<String> {
    keys.iter().map(|key| key.to_string()).collect()
}

/// DEL and UNLINK count keys removed; EXISTS and TOUCH count repeats.
#[test]
fn del_exists_touch() {
    let mut db = Db::new();
    db.run(&["MSET", "a", "1", "b", "2"]);
    assert_eq!(db.run(&["EXISTS", "a", "a", "b", "c"]), int(3));
    assert_eq!(db.run(&["TOUCH", "a", "a", "c"]), int(2));
    assert_eq!(db.run(&["DEL", "a", "a", "c"]), int(1));
    assert_eq!(db.run(&["UNLINK", "b"]), int(1));
    assert_eq!(db.run(&["EXISTS", "a", "b"]), int(0));
    db.put_other("l");
    assert_eq!(db.run(&["EXISTS", "l"]), int(1));
    assert_eq!(db.run(&["DEL", "l"]), int(1));
    assert_eq!(db.keyspace.used_memory_bytes(), 0);
}

#[test]
fn type_names() {
    let mut db = Db::new();
    db.run(&["SET", "s", "v"]);
    db.put_other("l");
    assert_eq!(db.run(&["TYPE", "s"]), Reply::simple("string"));
    assert_eq!(db.run(&["TYPE", "l"]), Reply::simple("list"));
    assert_eq!(db.run(&["TYPE", "missing"]), Reply::simple("none"));
}

/// NX, XX, GT and LT as redis-server 7 applies them; no deadline counts as
/// an infinite one.
#[test]
fn expire_conditions() {
    let mut db = Db::new();
    db.run(&["SET", "k", "v"]);
    assert_eq!(db.run(&["EXPIRE", "k", "100", "XX"]), int(0));
    assert_eq!(db.run(&["EXPIRE", "k", "100", "GT"]), int(0));
    assert_eq!(db.run(&["TTL", "k"]), int(-1));
    assert_eq!(db.run(&["EXPIRE", "k", "50", "LT"]), int(1));
    assert_eq!(db.run(&["EXPIRE", "k", "60", "LT"]), int(0));
    assert_eq!(db.run(&["EXPIRE", "k", "40", "lt"]), int(1));
    assert_eq!(
        db.run(&["EXPIRE", "k", "40", "GT"]),
        int(0),
        "equal is not greater"
    );
    assert_eq!(db.run(&["EXPIRE", "k", "45", "GT", "XX"]), int(1));
    assert_eq!(db.run(&["EXPIRE", "k", "70", "NX"]), int(0));
    assert_eq!(db.run(&["TTL", "k"]), int(45));
    assert_eq!(db.run(&["PERSIST", "k"]), int(1));
    assert_eq!(db.run(&["PERSIST", "k"]), int(0));
    assert_eq!(db.run(&["EXPIRE", "k", "70", "NX"]), int(1));
    assert_eq!(db.run(&["EXPIRE", "k", "80", "XX"]), int(1));
    assert_eq!(db.run(&["TTL", "k"]), int(80));
    assert_eq!(db.run(&["EXPIRE", "missing", "10"]), int(0));
    assert_eq!(db.run(&["PERSIST", "missing"]), int(0));
    db.run(&["SET", "k", "v"]);
    assert_eq!(
        db.run(&["EXPIRE", "k", "0", "GT"]),
        int(0),
        "no deadline is infinite"
    );
    assert_eq!(db.run(&["EXISTS", "k"]), int(1));
    assert_eq!(db.run(&["EXPIRE", "k", "0", "LT"]), int(1));
    assert_eq!(db.run(&["EXISTS", "k"]), int(0));
}

/// Option errors and time errors, with Redis's texts and precedence.
#[test]
fn expire_errors() {
    let mut db = Db::new();
    db.run(&["SET", "k", "v"]);
    let nx_with = "ERR NX and XX, GT or LT options at the same time are not compatible";
    assert_eq!(db.run(&["EXPIRE", "k", "100", "NX", "XX"]), err(nx_with));
    assert_eq!(db.run(&["EXPIRE", "k", "100", "NX", "GT"]), err(nx_with));
    assert_eq!(db.run(&["EXPIRE", "k", "100", "LT", "NX"]), err(nx_with));
    assert_eq!(
        db.run(&["EXPIRE", "k", "100", "GT", "LT"]),
        err("ERR GT and LT options at the same time are not compatible")
    );
    assert_eq!(
        db.run(&["EXPIRE", "k", "100", "foo"]),
        err("ERR Unsupported option foo")
    );
    assert_eq!(
        db.run(&["EXPIRE", "k", "abc", "foo"]),
        err("ERR Unsupported option foo"),
        "options are checked before the time"
    );
    assert_eq!(
        db.run(&["EXPIRE", "k", "abc"]),
        err("ERR value is not an integer or out of range")
    );
    let cases = [
        ("EXPIRE", "9223372036854775807", "expire"),
        ("EXPIRE", "9223372036854775", "expire"),
        ("EXPIRE", "-9223372036854776", "expire"),
        ("PEXPIRE", "9223372036854775807", "pexpire"),
        ("EXPIREAT", "9223372036854775807", "expireat"),
    ];
    for (command, time, name) in cases {
        assert_eq!(
            db.run(&[command, "k", time]),
            Reply::error_owned(format!("ERR invalid expire time in '{name}' command")),
            "{command} {time}"
        );
    }
    assert_eq!(db.run(&["PEXPIREAT", "k", "9223372036854775807"]), int(1));
    assert_eq!(db.run(&["PEXPIRETIME", "k"]), int(i64::MAX));
    assert_eq!(
        db.run(&["EXPIRE", "k"]),
        err("ERR wrong number of arguments for 'expire' command")
    );
}

/// A deadline now or in the past deletes the key at once and answers 1;
/// the four commands agree on units and bases.
#[test]
fn expire_units_and_past_deadlines() {
    let mut db = Db::new();
    let now = db.now_ms;
    db.run(&["SET", "k", "v"]);
    assert_eq!(db.run(&["PEXPIRE", "k", "1500"]), int(1));
    assert_eq!(db.run(&["PTTL", "k"]), int(1500));
    assert_eq!(db.run(&["TTL", "k"]), int(2), "seconds round to nearest");
    assert_eq!(
        db.run(&["EXPIREAT", "k", &(now / 1000 + 10).to_string()]),
        int(1)
    );
    assert_eq!(db.run(&["EXPIRETIME", "k"]), int((now / 1000 + 10) as i64));
    assert_eq!(db.run(&["PEXPIREAT", "k", &(now + 10).to_string()]), int(1));
    assert_eq!(db.run(&["PEXPIRETIME", "k"]), int((now + 10) as i64));
    assert_eq!(
        db.run(&["EXPIRETIME", "k"]),
        int(((now + 10 + 500) / 1000) as i64)
    );
    assert_eq!(db.run(&["PEXPIREAT", "k", &now.to_string()]), int(1));
    assert_eq!(
        db.run(&["EXISTS", "k"]),
        int(0),
        "a deadline of exactly now deletes"
    );
    db.run(&["SET", "k", "v"]);
    assert_eq!(db.run(&["EXPIRE", "k", "-1"]), int(1));
    assert_eq!(db.run(&["EXISTS", "k"]), int(0));
    db.run(&["SET", "k", "v"]);
    assert_eq!(db.run(&["PEXPIRE", "k", "0"]), int(1));
    assert_eq!(db.run(&["EXISTS", "k"]), int(0));
    for command in ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"] {
        assert_eq!(db.run(&[command, "missing"]), int(-2), "{command}");
        db.run(&["SET", "p", "v"]);
        assert_eq!(db.run(&[command, "p"]), int(-1), "{command}");
    }
    assert_eq!(db.keyspace.expires_count(), 0);
}

/// A key is gone exactly when the clock reaches its deadline.
#[test]
fn lazy_expiry_at_exactly_now() {
    let mut db = Db::new();
    db.run(&["SET", "k", "v", "PX", "100"]);
    db.now_ms += 99;
    assert_eq!(db.run(&["GET", "k"]), bulk("v"));
    assert_eq!(db.run(&["PTTL", "k"]), int(1));
    db.now_ms += 1;
    assert_eq!(db.run(&["GET", "k"]), Reply::Nil);
    assert_eq!(db.keyspace.len(), 0, "the read reclaimed it");
    assert_eq!(db.keyspace.expired_keys_total(), 1);
    assert_eq!(db.keyspace.used_memory_bytes(), 0);
}

/// The active cycle deletes due keys earliest first within its budget and
/// leaves the rest; next_deadline_ms tells when to come back.
#[test]
fn active_expiry_cycle() {
    let mut db = Db::new();
    for (key, ms) in [("a", "30"), ("b", "10"), ("c", "20"), ("d", "1000")] {
        db.run(&["SET", key, "v", "PX", ms]);
    }
    db.run(&["SET", "forever", "v"]);
    assert_eq!(db.keyspace.next_deadline_ms(), Some(db.now_ms + 10));
    db.now_ms += 30;
    assert_eq!(db.keyspace.expire_due(db.now_ms, 2), 2);
    // Looked at directly: a command would reclaim "a" lazily.
    assert_eq!(
        db.keyspace.len(),
        3,
        "the latest due key waits for the next round"
    );
    assert_eq!(
        db.keyspace.next_deadline_ms(),
        Some(db.now_ms),
        "\"a\" is due now"
    );
    assert_eq!(db.keyspace.expire_due(db.now_ms, 10), 1);
    assert_eq!(db.keyspace.expire_due(db.now_ms, 10), 0);
    assert_eq!(db.keyspace.next_deadline_ms(), Some(db.now_ms - 30 + 1000));
    assert_eq!(db.keyspace.len(), 2);
    assert_eq!(db.keyspace.expired_keys_total(), 3);
    assert_eq!(
        db.keyspace.used_memory_bytes(),
        db.keyspace.measure_used_memory_bytes()
    );
}

/// RENAME on one shard moves the value and its deadline, replacing the
/// destination and its deadline; RENAMENX refuses an existing destination.
#[test]
fn rename_and_renamenx() {
    let mut db = Db::new();
    assert_eq!(db.run(&["RENAME", "a", "b"]), err("ERR no such key"));
    assert_eq!(db.run(&["RENAMENX", "a", "b"]), err("ERR no such key"));
    db.run(&["SET", "b", "old", "EX", "500"]);
    assert_eq!(db.run(&["RENAMENX", "a", "b"]), err("ERR no such key"));
    db.run(&["SET", "a", "1", "EX", "100"]);
    assert_eq!(db.run(&["RENAME", "a", "b"]), ok());
    assert_eq!(db.run(&["GET", "b"]), bulk("1"));
    assert_eq!(db.run(&["TTL", "b"]), int(100));
    assert_eq!(db.run(&["EXISTS", "a"]), int(0));
    db.run(&["SET", "c", "2"]);
    assert_eq!(db.run(&["RENAME", "c", "b"]), ok());
    assert_eq!(
        db.run(&["TTL", "b"]),
        int(-1),
        "the destination's deadline is gone"
    );
    assert_eq!(db.run(&["RENAME", "b", "b"]), ok());
    assert_eq!(db.run(&["RENAMENX", "b", "b"]), int(0));
    db.run(&["SET", "d", "3"]);
    assert_eq!(db.run(&["RENAMENX", "d", "b"]), int(0));
    assert_eq!(db.run(&["RENAMENX", "d", "e"]), int(1));
    assert_eq!(
        db.run(&["MGET", "b", "d", "e"]),
        Reply::Array(vec![bulk("2"), Reply::Nil, bulk("3")])
    );
    assert_eq!(db.keyspace.expires_count(), 0);
}

/// KEYS filters by pattern, skips expired keys, and "*" finds the empty key.
#[test]
fn keys_command() {
    let mut db = Db::new();
    db.run(&[
        "MSET", "user:1", "a", "user:2", "b", "other", "c", "", "empty",
    ]);
    db.run(&["SET", "user:3", "d", "PX", "10"]);
    assert_eq!(
        keys_reply(db.run(&["KEYS", "user:*"])),
        set_of(&["user:1", "user:2", "user:3"])
    );
    db.now_ms += 10;
    assert_eq!(
        keys_reply(db.run(&["KEYS", "user:*"])),
        set_of(&["user:1", "user:2"])
    );
    assert_eq!(
        keys_reply(db.run(&["KEYS", "user:[^1]"])),
        set_of(&["user:2"])
    );
    assert_eq!(
        keys_reply(db.run(&["KEYS", "*"])),
        set_of(&["user:1", "user:2", "other", ""])
    );
    assert_eq!(keys_reply(db.run(&["KEYS", "nothing*"])), set_of(&[]));
}

/// DBSIZE counts keys; FLUSHDB and FLUSHALL take ASYNC or SYNC and clear.
#[test]
fn dbsize_and_flush() {
    let mut db = Db::new();
    assert_eq!(db.run(&["DBSIZE"]), int(0));
    db.run(&["MSET", "a", "1", "b", "2"]);
    db.run(&["SET", "c", "3", "EX", "10"]);
    assert_eq!(db.run(&["DBSIZE"]), int(3));
    assert_eq!(db.run(&["FLUSHDB", "now"]), err("ERR syntax error"));
    assert_eq!(
        db.run(&["FLUSHALL", "ASYNC", "SYNC"]),
        err("ERR syntax error")
    );
    assert_eq!(db.run(&["DBSIZE"]), int(3));
    assert_eq!(db.run(&["FLUSHDB", "async"]), ok());
    assert_eq!(db.run(&["DBSIZE"]), int(0));
    assert_eq!(db.keyspace.expires_count(), 0);
    db.run(&["SET", "a", "1"]);
    assert_eq!(db.run(&["FLUSHALL", "SYNC"]), ok());
    db.run(&["SET", "a", "1"]);
    assert_eq!(db.run(&["FLUSHALL"]), ok());
    assert_eq!(db.keyspace.used_memory_bytes(), 0);
}

/// OBJECT answers ENCODING and HELP, with Redis's errors for the rest.
#[test]
fn object_command() {
    let mut db = Db::new();
    db.run(&["SET", "k", "123"]);
    assert_eq!(db.run(&["OBJECT", "encoding", "k"]), bulk("int"));
    assert_eq!(db.run(&["OBJECT", "ENCODING", "missing"]), Reply::Nil);
    assert_eq!(
        db.run(&["OBJECT", "ENCODING"]),
        err("ERR wrong number of arguments for 'object|encoding' command")
    );
    assert_eq!(
        db.run(&["OBJECT", "ENCODING", "a", "b"]),
        err("ERR wrong number of arguments for 'object|encoding' command")
    );
    assert_eq!(
        db.run(&["OBJECT", "foo", "k"]),
        err("ERR unknown subcommand 'foo'. Try OBJECT HELP.")
    );
    let Reply::Array(lines) = db.run(&["OBJECT", "HELP"]) else {
        panic!("HELP answers an array");
    };
    assert_eq!(
        lines[0],
        Reply::simple("OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")
    );
}

/// A scan that pages through the keyspace while keys are removed between
/// pages returns every key that stayed, at least once.
#[test]
fn scan_survives_removals() {
    let mut db = Db::new();
    for i in 0..500 {
        db.run(&["SET", &format!("key:{i}"), "v"]);
    }
    let mut seen = HashSet::new();
    let mut cursor = 0;
    let mut page = 0;
    loop {
        cursor = db.keyspace.scan(cursor, 7, db.now_ms, |key, _| {
            seen.insert(key.clone());
        });
        // Remove keys spread over the map, some already seen, some not.
        page += 1;
        for victim in [page * 3, page * 3 + 250] {
            if victim % 5 == 0 {
                db.run(&["DEL", &format!("key:{victim}")]);
            }
        }
        if cursor == 0 {
            break;
        }
    }
    for i in 0..500 {
        let key = format!("key:{i}");
        if db.keyspace.contains(key.as_bytes(), db.now_ms) {
            assert!(
                seen.contains(&Bytes::from(key.clone())),
                "{key} was never returned"
            );
        }
    }
}

/// A full scan of a keyspace that does not change returns each key once.
#[test]
fn scan_without_changes_returns_each_key_once() {
    let mut db = Db::new();
    for i in 0..100 {
        db.run(&["SET", &format!("k{i}"), "v"]);
    }
    let mut seen = Vec::new();
    let mut cursor = 0;
    loop {
        cursor = db
            .keyspace
            .scan(cursor, 9, db.now_ms, |key, _| seen.push(key.clone()));
        if cursor == 0 {
            break;
        }
    }
    let unique: HashSet<_> = seen.iter().collect();
    assert_eq!(seen.len(), 100);
    assert_eq!(unique.len(), 100);
}

/// MEMORY USAGE answers what a key counts against the memory limit (the
/// whole keyspace's gauge is the sum of its keys'), nil for a missing or
/// expired key, and Redis 7.0's errors for bad options.
#[test]
fn memory_usage() {
    let mut db = Db::new();
    db.run(&["SET", "small", "v"]);
    db.run(&["SET", "big", &"x".repeat(10_000)]);
    let (Reply::Integer(small), Reply::Integer(big)) = (
        db.run(&["MEMORY", "USAGE", "small"]),
        db.run(&["memory", "usage", "big", "SAMPLES", "0"]),
    ) else {
        panic!("MEMORY USAGE answers integers");
    };
    assert!(
        small > 1 && (10_000..11_000).contains(&big),
        "{small} {big}"
    );
    assert_eq!(
        (small + big) as usize,
        db.keyspace.used_memory_bytes(),
        "the keys' usages add up to the database's gauge"
    );
    assert_eq!(db.run(&["MEMORY", "USAGE", "missing"]), Reply::Nil);
    db.run(&["SET", "brief", "v", "PX", "10"]);
    db.now_ms += 20;
    assert_eq!(db.run(&["MEMORY", "USAGE", "brief"]), Reply::Nil);

    for (line, expected) in [
        (
            &["MEMORY", "USAGE", "small", "SAMPLES", "-1"][..],
            "ERR syntax error",
        ),
        (
            &["MEMORY", "USAGE", "small", "SAMPLES", "x"],
            "ERR value is not an integer or out of range",
        ),
        (&["MEMORY", "USAGE", "small", "SAMPLES"], "ERR syntax error"),
        (
            &["MEMORY", "USAGE", "small", "FOO", "1"],
            "ERR syntax error",
        ),
        (
            &["MEMORY", "USAGE"],
            "ERR wrong number of arguments for 'memory|usage' command",
        ),
        (
            &["MEMORY", "STATS"],
            "ERR unknown subcommand 'STATS'. Try MEMORY HELP.",
        ),
    ] {
        assert_eq!(db.run(line), err(expected), "{line:?}");
    }
    assert_eq!(
        db.run(&["MEMORY", "USAGE", "small", "samples", "5", "SAMPLES", "2"]),
        int(small)
    );
}
