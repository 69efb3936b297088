//! Proves that the key commands of the engine issue (DEL UNLINK EXISTS TOUCH
//! TYPE, the EXPIRE family with NX XX GT LT, TTL PTTL EXPIRETIME PEXPIRETIME
//! PERSIST, RENAME RENAMENX across shards, KEYS, SCAN, RANDOMKEY, DBSIZE,
//! FLUSHDB, FLUSHALL, MEMORY USAGE) answer as Redis 7 does, by starting a
//! server with two data cores and driving it through the redis crate with
//! keys spread over both shards.

use std::collections::{HashMap, HashSet};
use std::time::{SystemTime, UNIX_EPOCH};

use petrel_e2e::{query, query_error, Server};
use redis::Value;

fn now_seconds() -> i64 {
    let elapsed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970");
    i64::try_from(elapsed.as_secs()).expect("seconds fit i64")
}

fn set_many(con: &mut redis::Connection, keys: &[String]) {
    let mut pipe = redis::pipe();
    for key in keys {
        pipe.cmd("SET")
            .arg(key)
            .arg(format!("value-of-{key}"))
            .ignore();
    }
    pipe.query::<()>(con).expect("pipelined SETs");
}

// DEL, UNLINK, EXISTS and TOUCH over many keys (so both shards answer) count
// each existing key, repeated keys included for EXISTS and TOUCH.
#[test]
fn del_unlink_exists_touch_count_across_shards() {
    let server = Server::start_default();
    let mut con = server.client();
    let keys: Vec<String> = (0..40).map(|i| format!("multi:{i}")).collect();
    set_many(&mut con, &keys);

    let mut exists = vec!["EXISTS"];
    exists.extend(keys.iter().map(String::as_str));
    exists.extend(["nope:1", "multi:0", "multi:0"]);
    assert_eq!(query::<i64>(&mut con, &exists), 42);

    let mut touch = vec!["TOUCH"];
    touch.extend(keys.iter().map(String::as_str));
    touch.extend(["nope:2", "multi:1"]);
    assert_eq!(query::<i64>(&mut con, &touch), 41);

    let mut del = vec!["DEL"];
    del.extend(keys[..20].iter().map(String::as_str));
    del.extend(["multi:0", "nope:3"]);
    assert_eq!(query::<i64>(&mut con, &del), 20);
    let mut unlink = vec!["UNLINK"];
    unlink.extend(keys[10..].iter().map(String::as_str));
    assert_eq!(query::<i64>(&mut con, &unlink), 20);
    assert_eq!(query::<i64>(&mut con, &exists), 0);
    assert_eq!(query::<i64>(&mut con, &["DBSIZE"]), 0);

    assert_eq!(
        query_error(&mut con, &["DEL"]),
        "ERR wrong number of arguments for 'del' command"
    );
    assert_eq!(
        query_error(&mut con, &["EXISTS"]),
        "ERR wrong number of arguments for 'exists' command"
    );
}

// TYPE names a string value "string" and a missing key "none".
#[test]
fn type_of_string_and_missing_key() {
    let server = Server::start_default();
    let mut con = server.client();
    assert_eq!(query::<Value>(&mut con, &["SET", "s", "v"]), Value::Okay);
    assert_eq!(query::<String>(&mut con, &["TYPE", "s"]), "string");
    assert_eq!(query::<String>(&mut con, &["TYPE", "missing"]), "none");
}

// EXPIRE, PEXPIRE, EXPIREAT and PEXPIREAT set a TTL only when NX, XX, GT or
// LT allow it, treating "no TTL" as infinite, as Redis 7 does.
#[test]
fn expire_family_with_nx_xx_gt_lt() {
    let server = Server::start_default();
    let mut con = server.client();
    assert_eq!(query::<Value>(&mut con, &["SET", "k", "v"]), Value::Okay);

    assert_eq!(query::<i64>(&mut con, &["EXPIRE", "missing", "100"]), 0);
    // No TTL yet: XX and GT refuse, NX and LT set.
    assert_eq!(query::<i64>(&mut con, &["EXPIRE", "k", "100", "XX"]), 0);
    assert_eq!(query::<i64>(&mut con, &["EXPIRE", "k", "100", "GT"]), 0);
    assert_eq!(query::<i64>(&mut con, &["TTL", "k"]), -1);
    assert_eq!(query::<i64>(&mut con, &["EXPIRE", "k", "100", "NX"]), 1);
    assert!((99..=100).contains(&query::<i64>(&mut con, &["TTL", "k"])));
    assert_eq!(query::<i64>(&mut con, &["EXPIRE", "k", "200", "NX"]), 0);
    assert_eq!(query::<i64>(&mut con, &["EXPIRE", "k", "200", "XX"]), 1);
    assert!((199..=200).contains(&query::<i64>(&mut con, &["TTL", "k"])));
    assert_eq!(query::<i64>(&mut con, &["EXPIRE", "k", "100", "GT"]), 0);
    assert_eq!(query::<i64>(&mut con, &["EXPIRE", "k", "300", "GT"]), 1);
    assert_eq!(query::<i64>(&mut con, &["EXPIRE", "k", "400", "LT"]), 0);
    assert_eq!(query::<i64>(&mut con, &["EXPIRE", "k", "150", "LT"]), 1);
    assert!((149..=150).contains(&query::<i64>(&mut con, &["TTL", "k"])));
    // GT and LT go with XX.
    assert_eq!(
        query::<i64>(&mut con, &["EXPIRE", "k", "250", "XX", "GT"]),
        1
    );
    assert!((249..=250).contains(&query::<i64>(&mut con, &["TTL", "k"])));

    assert_eq!(query::<i64>(&mut con, &["PEXPIRE", "k", "500000", "GT"]), 1);
    let pttl = query::<i64>(&mut con, &["PTTL", "k"]);
    assert!((490_000..=500_000).contains(&pttl), "PTTL {pttl}");
    let at = (now_seconds() + 1000).to_string();
    assert_eq!(query::<i64>(&mut con, &["EXPIREAT", "k", &at, "LT"]), 0);
    assert_eq!(query::<i64>(&mut con, &["EXPIREAT", "k", &at, "GT"]), 1);
    assert!((998..=1000).contains(&query::<i64>(&mut con, &["TTL", "k"])));
    let at_ms = ((now_seconds() + 600) * 1000).to_string();
    assert_eq!(query::<i64>(&mut con, &["PEXPIREAT", "k", &at_ms, "NX"]), 0);
    assert_eq!(query::<i64>(&mut con, &["PEXPIREAT", "k", &at_ms, "LT"]), 1);
    assert!((598..=600).contains(&query::<i64>(&mut con, &["TTL", "k"])));

    // Without options an expiry overwrites any TTL.
    assert_eq!(query::<i64>(&mut con, &["EXPIRE", "k", "5000"]), 1);
    assert!((4998..=5000).contains(&query::<i64>(&mut con, &["TTL", "k"])));
}

// The EXPIRE family's errors carry Redis's exact texts.
#[test]
fn expire_family_errors() {
    let server = Server::start_default();
    let mut con = server.client();
    assert_eq!(query::<Value>(&mut con, &["SET", "k", "v"]), Value::Okay);
    let cases: &[(&[&str], &str)] = &[
        (
            &["EXPIRE", "k", "100", "NX", "XX"],
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        ),
        (
            &["EXPIRE", "k", "100", "NX", "GT"],
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        ),
        (
            &["PEXPIRE", "k", "100", "GT", "LT"],
            "ERR GT and LT options at the same time are not compatible",
        ),
        (&["EXPIRE", "k", "100", "FOO"], "ERR Unsupported option FOO"),
        (
            &["EXPIRE", "k", "abc"],
            "ERR value is not an integer or out of range",
        ),
        (
            &["PEXPIREAT", "k", "1.5"],
            "ERR value is not an integer or out of range",
        ),
        (
            &["EXPIRE", "k", "9223372036854775807"],
            "ERR invalid expire time in 'expire' command",
        ),
        (
            &["EXPIREAT", "k", "9223372036854775807"],
            "ERR invalid expire time in 'expireat' command",
        ),
        (
            &["EXPIRE", "k"],
            "ERR wrong number of arguments for 'expire' command",
        ),
        (&["TTL"], "ERR wrong number of arguments for 'ttl' command"),
        (
            &["PERSIST"],
            "ERR wrong number of arguments for 'persist' command",
        ),
    ];
    for (args, expected) in cases {
        assert_eq!(query_error(&mut con, args), *expected, "for {args:?}");
    }
    assert_eq!(
        query::<i64>(&mut con, &["TTL", "k"]),
        -1,
        "a refused EXPIRE changed nothing"
    );
}

// An expiry in the past (negative TTL, or a past timestamp) deletes the key
// at once and answers 1.
#[test]
fn expire_in_the_past_deletes() {
    let server = Server::start_default();
    let mut con = server.client();
    for (key, args) in [
        ("a", vec!["EXPIRE", "a", "-1"]),
        ("b", vec!["PEXPIRE", "b", "0"]),
        ("c", vec!["EXPIREAT", "c", "1"]),
        ("d", vec!["PEXPIREAT", "d", "1000"]),
    ] {
        assert_eq!(query::<Value>(&mut con, &["SET", key, "v"]), Value::Okay);
        assert_eq!(query::<i64>(&mut con, &args), 1, "{args:?}");
        assert_eq!(
            query::<i64>(&mut con, &["EXISTS", key]),
            0,
            "{args:?} left the key"
        );
        assert_eq!(query::<Value>(&mut con, &["GET", key]), Value::Nil);
    }
}

// TTL, PTTL, EXPIRETIME and PEXPIRETIME answer -2 for a missing key, -1
// without TTL, else the remaining time or the absolute deadline; PERSIST
// removes a TTL and says whether it did.
#[test]
fn ttl_expiretime_and_persist() {
    let server = Server::start_default();
    let mut con = server.client();
    for command in ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"] {
        assert_eq!(
            query::<i64>(&mut con, &[command, "missing"]),
            -2,
            "{command}"
        );
    }
    assert_eq!(query::<Value>(&mut con, &["SET", "k", "v"]), Value::Okay);
    for command in ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"] {
        assert_eq!(query::<i64>(&mut con, &[command, "k"]), -1, "{command}");
    }
    let deadline = now_seconds() + 1000;
    assert_eq!(
        query::<i64>(&mut con, &["EXPIREAT", "k", &deadline.to_string()]),
        1
    );
    assert_eq!(query::<i64>(&mut con, &["EXPIRETIME", "k"]), deadline);
    assert_eq!(
        query::<i64>(&mut con, &["PEXPIRETIME", "k"]),
        deadline * 1000
    );
    let deadline_ms = deadline * 1000 + 123;
    assert_eq!(
        query::<i64>(&mut con, &["PEXPIREAT", "k", &deadline_ms.to_string()]),
        1
    );
    assert_eq!(query::<i64>(&mut con, &["PEXPIRETIME", "k"]), deadline_ms);
    assert_eq!(query::<i64>(&mut con, &["EXPIRETIME", "k"]), deadline);
    let pttl = query::<i64>(&mut con, &["PTTL", "k"]);
    assert!((990_000..=1_000_123).contains(&pttl), "PTTL {pttl}");

    assert_eq!(query::<i64>(&mut con, &["PERSIST", "k"]), 1);
    assert_eq!(query::<i64>(&mut con, &["TTL", "k"]), -1);
    assert_eq!(query::<i64>(&mut con, &["PERSIST", "k"]), 0);
    assert_eq!(query::<i64>(&mut con, &["PERSIST", "missing"]), 0);
    assert_eq!(query::<String>(&mut con, &["GET", "k"]), "v");
}

// RENAME moves value and TTL between keys of any two shards (50 pairs, so
// pairs on different shards are certain), replaces an existing target and
// fails on a missing source.
#[test]
fn rename_across_shards_keeps_value_and_ttl() {
    let server = Server::start_default();
    let mut con = server.client();
    for i in 0..50 {
        let source = format!("rename-src-{i}");
        let target = format!("rename-dst-{i}");
        let value = format!("value-{i}");
        if i % 2 == 0 {
            assert_eq!(
                query::<Value>(&mut con, &["SET", &source, &value, "EX", "1000"]),
                Value::Okay
            );
        } else {
            assert_eq!(
                query::<Value>(&mut con, &["SET", &source, &value]),
                Value::Okay
            );
            // An existing target is overwritten, its own TTL dropped.
            assert_eq!(
                query::<Value>(&mut con, &["SET", &target, "old", "EX", "77"]),
                Value::Okay
            );
        }
        assert_eq!(
            query::<Value>(&mut con, &["RENAME", &source, &target]),
            Value::Okay
        );
        assert_eq!(
            query::<i64>(&mut con, &["EXISTS", &source]),
            0,
            "{source} still exists"
        );
        assert_eq!(query::<String>(&mut con, &["GET", &target]), value);
        let ttl = query::<i64>(&mut con, &["TTL", &target]);
        if i % 2 == 0 {
            assert!(
                (990..=1000).contains(&ttl),
                "TTL of {target} after RENAME was {ttl}"
            );
        } else {
            assert_eq!(ttl, -1, "{target} kept the overwritten key's TTL");
        }
    }
    assert_eq!(query::<i64>(&mut con, &["DBSIZE"]), 50);
    assert_eq!(
        query_error(&mut con, &["RENAME", "missing", "x"]),
        "ERR no such key"
    );
    assert_eq!(
        query::<Value>(&mut con, &["RENAME", "rename-dst-0", "rename-dst-0"]),
        Value::Okay
    );
    assert_eq!(
        query::<String>(&mut con, &["GET", "rename-dst-0"]),
        "value-0"
    );
}

// RENAMENX renames only onto a missing key, across shards too, keeping the
// TTL; it answers 0 onto an existing key or itself.
#[test]
fn renamenx_across_shards() {
    let server = Server::start_default();
    let mut con = server.client();
    for i in 0..50 {
        let source = format!("nx-src-{i}");
        let target = format!("nx-dst-{i}");
        assert_eq!(
            query::<Value>(&mut con, &["SET", &source, "moved", "PX", "900000"]),
            Value::Okay
        );
        assert_eq!(query::<i64>(&mut con, &["RENAMENX", &source, &target]), 1);
        assert_eq!(query::<String>(&mut con, &["GET", &target]), "moved");
        assert_eq!(query::<i64>(&mut con, &["EXISTS", &source]), 0);
        let ttl = query::<i64>(&mut con, &["TTL", &target]);
        assert!(
            (890..=900).contains(&ttl),
            "TTL of {target} after RENAMENX was {ttl}"
        );

        assert_eq!(
            query::<Value>(&mut con, &["SET", &source, "stays"]),
            Value::Okay
        );
        assert_eq!(query::<i64>(&mut con, &["RENAMENX", &source, &target]), 0);
        assert_eq!(query::<String>(&mut con, &["GET", &source]), "stays");
        assert_eq!(query::<String>(&mut con, &["GET", &target]), "moved");
    }
    assert_eq!(
        query::<i64>(&mut con, &["RENAMENX", "nx-src-0", "nx-src-0"]),
        0
    );
    assert_eq!(
        query_error(&mut con, &["RENAMENX", "missing", "x"]),
        "ERR no such key"
    );
}

// KEYS matches Redis glob patterns (* ? [set] [^set] [a-z] and escapes)
// over every shard.
#[test]
fn keys_matches_glob_patterns() {
    let server = Server::start_default();
    let mut con = server.client();
    let names = [
        "hello", "hallo", "hxllo", "hllo", "heeeello", "hbllo", "h*llo", "user:1", "user:2",
        "user:10", "other",
    ];
    let keys: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
    set_many(&mut con, &keys);
    let cases: &[(&str, &[&str])] = &[
        ("h?llo", &["hello", "hallo", "hxllo", "hbllo", "h*llo"]),
        (
            "h*llo",
            &[
                "hello", "hallo", "hxllo", "hllo", "heeeello", "hbllo", "h*llo",
            ],
        ),
        ("h[ae]llo", &["hello", "hallo"]),
        ("h[^e]llo", &["hallo", "hxllo", "hbllo", "h*llo"]),
        ("h[a-b]llo", &["hallo", "hbllo"]),
        ("h\\*llo", &["h*llo"]),
        ("user:?", &["user:1", "user:2"]),
        ("user:*", &["user:1", "user:2", "user:10"]),
        ("nothing*", &[]),
    ];
    for (pattern, expected) in cases {
        let found: HashSet<String> = query::<Vec<String>>(&mut con, &["KEYS", pattern])
            .into_iter()
            .collect();
        let expected: HashSet<String> = expected.iter().map(|key| (*key).to_owned()).collect();
        assert_eq!(found, expected, "KEYS {pattern}");
    }
    let all = query::<Vec<String>>(&mut con, &["KEYS", "*"]);
    assert_eq!(
        all.len(),
        names.len(),
        "KEYS * returned duplicates or missed keys: {all:?}"
    );
}

fn scan_all(con: &mut redis::Connection, extra: &[&str]) -> Vec<String> {
    let mut cursor = "0".to_owned();
    let mut found = Vec::new();
    let mut rounds = 0;
    loop {
        let mut args = vec!["SCAN", cursor.as_str()];
        args.extend_from_slice(extra);
        let (next, keys): (String, Vec<String>) = query(con, &args);
        found.extend(keys);
        rounds += 1;
        assert!(rounds < 100_000, "SCAN never returned cursor 0");
        if next == "0" {
            return found;
        }
        cursor = next;
    }
}

// A full SCAN cursor walk over 2,000 keys returns every key exactly once
// when nothing changes; MATCH, COUNT and TYPE filter as in Redis.
#[test]
fn scan_walks_every_shard_exactly_once() {
    let server = Server::start_default();
    let mut con = server.client();
    let keys: Vec<String> = (0..2000).map(|i| format!("scan:{i}")).collect();
    set_many(&mut con, &keys);
    assert_eq!(query::<i64>(&mut con, &["DBSIZE"]), 2000);

    let mut seen: HashMap<String, usize> = HashMap::new();
    for key in scan_all(&mut con, &[]) {
        *seen.entry(key).or_default() += 1;
    }
    let repeated: Vec<_> = seen.iter().filter(|(_, count)| **count > 1).collect();
    assert!(
        repeated.is_empty(),
        "keys returned more than once: {repeated:?}"
    );
    let seen_keys: HashSet<String> = seen.into_keys().collect();
    let expected: HashSet<String> = keys.iter().cloned().collect();
    assert_eq!(seen_keys, expected);

    let with_count = scan_all(&mut con, &["COUNT", "500"]);
    assert_eq!(with_count.iter().collect::<HashSet<_>>().len(), 2000);

    let matched: HashSet<String> = scan_all(&mut con, &["MATCH", "scan:1??", "COUNT", "100"])
        .into_iter()
        .collect();
    let expected: HashSet<String> = (100..200).map(|i| format!("scan:{i}")).collect();
    assert_eq!(matched, expected);

    assert_eq!(scan_all(&mut con, &["TYPE", "string"]).len(), 2000);
    assert!(scan_all(&mut con, &["TYPE", "list"]).is_empty());
    assert!(scan_all(&mut con, &["MATCH", "nothing*"]).is_empty());

    assert_eq!(
        query_error(&mut con, &["SCAN", "abc"]),
        "ERR invalid cursor"
    );
    assert_eq!(
        query_error(&mut con, &["SCAN", "0", "COUNT", "0"]),
        "ERR syntax error"
    );
    assert_eq!(
        query_error(&mut con, &["SCAN", "0", "COUNT", "x"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        query_error(&mut con, &["SCAN", "0", "FOO", "bar"]),
        "ERR syntax error"
    );
    assert_eq!(
        query_error(&mut con, &["SCAN", "0", "MATCH"]),
        "ERR syntax error"
    );
}

// RANDOMKEY answers nil on an empty database and otherwise a key that
// exists, eventually keys of both shards.
#[test]
fn randomkey_returns_existing_keys() {
    let server = Server::start_default();
    let mut con = server.client();
    assert_eq!(query::<Value>(&mut con, &["RANDOMKEY"]), Value::Nil);
    let keys: Vec<String> = (0..20).map(|i| format!("random:{i}")).collect();
    set_many(&mut con, &keys);
    let mut seen = HashSet::new();
    for _ in 0..200 {
        let key = query::<String>(&mut con, &["RANDOMKEY"]);
        assert!(keys.contains(&key), "RANDOMKEY gave unknown key {key}");
        seen.insert(key);
    }
    assert!(
        seen.len() > 2,
        "RANDOMKEY returned only {seen:?} in 200 calls"
    );
}

// DBSIZE counts keys of every shard; FLUSHDB and FLUSHALL (with ASYNC or
// SYNC) empty all of them.
#[test]
fn dbsize_flushdb_flushall() {
    let server = Server::start_default();
    let mut con = server.client();
    assert_eq!(query::<i64>(&mut con, &["DBSIZE"]), 0);
    let keys: Vec<String> = (0..100).map(|i| format!("flush:{i}")).collect();
    set_many(&mut con, &keys);
    assert_eq!(query::<i64>(&mut con, &["DBSIZE"]), 100);
    assert_eq!(query::<Value>(&mut con, &["FLUSHDB"]), Value::Okay);
    assert_eq!(query::<i64>(&mut con, &["DBSIZE"]), 0);
    assert_eq!(query::<Value>(&mut con, &["GET", "flush:1"]), Value::Nil);

    set_many(&mut con, &keys);
    assert_eq!(query::<Value>(&mut con, &["FLUSHALL"]), Value::Okay);
    assert_eq!(query::<i64>(&mut con, &["DBSIZE"]), 0);
    set_many(&mut con, &keys);
    assert_eq!(query::<Value>(&mut con, &["FLUSHDB", "ASYNC"]), Value::Okay);
    assert_eq!(query::<i64>(&mut con, &["DBSIZE"]), 0);
    set_many(&mut con, &keys);
    assert_eq!(query::<Value>(&mut con, &["FLUSHALL", "SYNC"]), Value::Okay);
    assert_eq!(query::<i64>(&mut con, &["DBSIZE"]), 0);
    assert!(query::<Vec<String>>(&mut con, &["KEYS", "*"]).is_empty());

    assert_eq!(
        query_error(&mut con, &["FLUSHDB", "FOO"]),
        "ERR syntax error"
    );
    assert_eq!(
        query_error(&mut con, &["DBSIZE", "x"]),
        "ERR wrong number of arguments for 'dbsize' command"
    );
}

// Keys that Redis allows (any bytes, CR LF and NUL included) work in SET,
// GET, RENAME, EXISTS and KEYS like any other key.
#[test]
fn binary_keys() {
    let server = Server::start_default();
    let mut con = server.client();
    let keys: Vec<Vec<u8>> = vec![
        b"with\0nul".to_vec(),
        b"with\r\ncrlf".to_vec(),
        b"with space".to_vec(),
        vec![0xff, 0xfe, 0x00, 0x80],
        Vec::new(),
    ];
    for (index, key) in keys.iter().enumerate() {
        let _: () = redis::cmd("SET")
            .arg(key)
            .arg(index)
            .query(&mut con)
            .expect("SET of a binary key");
    }
    for (index, key) in keys.iter().enumerate() {
        let value: usize = redis::cmd("GET")
            .arg(key)
            .query(&mut con)
            .expect("GET of a binary key");
        assert_eq!(value, index, "key {key:?}");
    }
    let all: Vec<Vec<u8>> = redis::cmd("KEYS").arg("*").query(&mut con).expect("KEYS *");
    let all: HashSet<Vec<u8>> = all.into_iter().collect();
    assert_eq!(all, keys.iter().cloned().collect::<HashSet<_>>());
    let _: () = redis::cmd("RENAME")
        .arg(&keys[0])
        .arg(&keys[1])
        .query(&mut con)
        .expect("RENAME of binary keys");
    let moved: usize = redis::cmd("GET")
        .arg(&keys[1])
        .query(&mut con)
        .expect("GET renamed key");
    assert_eq!(moved, 0);
    let left: i64 = redis::cmd("EXISTS")
        .arg(&keys[0])
        .query(&mut con)
        .expect("EXISTS");
    assert_eq!(left, 0);
}

// A SCAN walk while other keys are being added still returns every key
// that existed for the whole walk (Redis's guarantee), as shards grow.
#[test]
fn scan_returns_every_stable_key_while_keys_are_added() {
    let server = Server::start_default();
    let mut con = server.client();
    let keys: Vec<String> = (0..2000).map(|i| format!("stable:{i}")).collect();
    set_many(&mut con, &keys);
    let mut writer = server.client();
    let mut cursor = "0".to_owned();
    let mut seen = HashSet::new();
    let mut added = 0;
    loop {
        let (next, found): (String, Vec<String>) =
            query(&mut con, &["SCAN", &cursor, "COUNT", "50"]);
        seen.extend(found);
        // Grow the keyspace between calls (up to 20,000 more keys) so that
        // tables resize mid-walk.
        if added < 20_000 {
            let burst: Vec<String> = (added..added + 500)
                .map(|i| format!("growing:{i}"))
                .collect();
            set_many(&mut writer, &burst);
            added += 500;
        }
        if next == "0" {
            break;
        }
        cursor = next;
        assert!(
            added < 1_000_000,
            "SCAN never finished while keys were added"
        );
    }
    let missing: Vec<&String> = keys.iter().filter(|key| !seen.contains(*key)).collect();
    assert!(
        missing.is_empty(),
        "SCAN missed {} stable keys, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
}

// MEMORY USAGE answers a size for a key of every type (larger for a larger
// value), nil for a missing key, and Redis's errors; `redis-cli --memkeys`
// then reports non-zero bytes for every type instead of zeros.
#[test]
fn memory_usage_and_redis_cli_memkeys() {
    let server = Server::start_default();
    let mut con = server.client();
    let _: () = query(&mut con, &["SET", "s:small", "v"]);
    let _: () = query(&mut con, &["SET", "s:big", &"x".repeat(5_000)]);
    let _: i64 = query(&mut con, &["RPUSH", "l", "a", "b", "c"]);
    let _: i64 = query(&mut con, &["HSET", "h", "f", "v"]);
    let _: i64 = query(&mut con, &["SADD", "set", "m"]);
    let _: i64 = query(&mut con, &["ZADD", "z", "1", "m"]);
    let usage =
        |con: &mut redis::Connection, key: &str| -> i64 { query(con, &["MEMORY", "USAGE", key]) };
    for key in ["s:small", "l", "h", "set", "z"] {
        assert!(usage(&mut con, key) > 0, "{key}");
    }
    let (small, big) = (usage(&mut con, "s:small"), usage(&mut con, "s:big"));
    assert!(big > small + 4_900, "{small} {big}");
    let missing: Option<i64> = query(&mut con, &["MEMORY", "USAGE", "missing"]);
    assert_eq!(missing, None);
    assert_eq!(
        query_error(&mut con, &["MEMORY", "USAGE", "l", "SAMPLES", "-1"]),
        "ERR syntax error"
    );
    assert_eq!(
        query_error(&mut con, &["MEMORY", "USAGE", "l", "SAMPLES", "x"]),
        "ERR value is not an integer or out of range"
    );

    let memkeys = server.redis_cli(&["--memkeys"], None);
    assert!(memkeys.status.success(), "{memkeys:?}");
    for kind in ["strings", "lists", "hashs", "sets", "zsets"] {
        let line = memkeys
            .stdout
            .lines()
            .find(|line| line.contains(&format!(" {kind} with ")))
            .unwrap_or_else(|| panic!("no summary for {kind}: {}", memkeys.stdout));
        assert!(
            !line.contains(" with 0 bytes"),
            "--memkeys should size {kind}: {line}"
        );
    }
}
