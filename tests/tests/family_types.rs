//! Proves the rules every value type shares, through the redis crate:
//! WRONGTYPE with Redis's exact text between every pair of types, TYPE and
//! OBJECT ENCODING (including the conversions at Redis's size limits), an
//! emptied hash, list, set or sorted set deleting its key, the memory limit
//! refusing writes of every type with Redis's OOM text while reads and
//! removals go on, and the active expiry cycle removing keys of every type
//! that nobody touches. Run with PETREL_E2E_TARGET=redis to check the
//! expectations against redis-server.

use std::time::Duration;

use petrel_e2e::{error_text, query, query_error, wait_until, Config, Server};
use redis::Value;

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";

fn make_one_of_each(con: &mut redis::Connection) {
    query::<String>(con, &["SET", "string", "v"]);
    query::<i64>(con, &["HSET", "hash", "f", "v"]);
    query::<i64>(con, &["RPUSH", "list", "a"]);
    query::<i64>(con, &["SADD", "set", "a"]);
    query::<i64>(con, &["ZADD", "zset", "1", "a"]);
}

// A command of each family on a key of each other type answers WRONGTYPE
// and changes nothing; TYPE names each type and "none" for a missing key.
#[test]
fn wrong_type_between_every_pair() {
    let server = Server::start_default();
    let mut con = server.client();
    make_one_of_each(&mut con);
    let commands: [(&str, &[&str]); 5] = [
        ("string", &["APPEND", "KEY", "x"]),
        ("hash", &["HSET", "KEY", "f", "x"]),
        ("list", &["LPUSH", "KEY", "x"]),
        ("set", &["SADD", "KEY", "x"]),
        ("zset", &["ZADD", "KEY", "1", "x"]),
    ];
    let reads: [(&str, &[&str]); 5] = [
        ("string", &["GET", "KEY"]),
        ("hash", &["HGETALL", "KEY"]),
        ("list", &["LRANGE", "KEY", "0", "-1"]),
        ("set", &["SMEMBERS", "KEY"]),
        ("zset", &["ZRANGE", "KEY", "0", "-1"]),
    ];
    for key in ["string", "hash", "list", "set", "zset"] {
        for (family, line) in commands.iter().chain(reads.iter()) {
            if *family == key {
                continue;
            }
            let args: Vec<&str> = line
                .iter()
                .map(|arg| if *arg == "KEY" { key } else { arg })
                .collect();
            assert_eq!(query_error(&mut con, &args), WRONGTYPE, "{args:?}");
        }
        assert_eq!(query::<String>(&mut con, &["TYPE", key]), key);
    }
    assert_eq!(query::<String>(&mut con, &["TYPE", "missing"]), "none");
    assert_eq!(query::<String>(&mut con, &["GET", "string"]), "v");
    assert_eq!(query::<i64>(&mut con, &["HLEN", "hash"]), 1);
    assert_eq!(query::<i64>(&mut con, &["LLEN", "list"]), 1);
    assert_eq!(query::<i64>(&mut con, &["SCARD", "set"]), 1);
    assert_eq!(query::<i64>(&mut con, &["ZCARD", "zset"]), 1);
}

// OBJECT ENCODING names Redis 7.0's encodings and converts where Redis
// does: a hash and a sorted set leave listpack past 128 entries or a
// 64-byte value, a set leaves intset for a non-integer member, a string is
// int, embstr or raw by its content and length.
#[test]
fn object_encoding_of_every_type() {
    let server = Server::start_default();
    let mut con = server.client();
    make_one_of_each(&mut con);
    let encoding =
        |con: &mut redis::Connection, key: &str| query::<String>(con, &["OBJECT", "ENCODING", key]);
    assert_eq!(encoding(&mut con, "string"), "embstr");
    assert_eq!(encoding(&mut con, "hash"), "listpack");
    assert_eq!(encoding(&mut con, "list"), "quicklist");
    assert_eq!(encoding(&mut con, "set"), "hashtable");
    assert_eq!(encoding(&mut con, "zset"), "listpack");
    query::<String>(&mut con, &["SET", "number", "12345"]);
    assert_eq!(encoding(&mut con, "number"), "int");
    query::<String>(&mut con, &["SET", "long", &"x".repeat(45)]);
    assert_eq!(encoding(&mut con, "long"), "raw");
    query::<i64>(&mut con, &["SADD", "ints", "1", "2", "3"]);
    assert_eq!(encoding(&mut con, "ints"), "intset");
    query::<i64>(&mut con, &["SADD", "ints", "word"]);
    assert_eq!(encoding(&mut con, "ints"), "hashtable");
    let long = "y".repeat(65);
    query::<i64>(&mut con, &["HSET", "hash", "long", &long]);
    assert_eq!(encoding(&mut con, "hash"), "hashtable");
    query::<i64>(&mut con, &["ZADD", "zset", "2", &long]);
    assert_eq!(encoding(&mut con, "zset"), "skiplist");
    let mut pipe = redis::pipe();
    for i in 0..129 {
        pipe.cmd("ZADD").arg("many").arg(i).arg(i).ignore();
    }
    pipe.query::<()>(&mut con).expect("pipelined ZADD");
    assert_eq!(encoding(&mut con, "many"), "skiplist");
    assert_eq!(
        query::<Value>(&mut con, &["OBJECT", "ENCODING", "missing"]),
        Value::Nil
    );
}

// Every way of removing the last element deletes the key: HDEL, LPOP,
// RPOP with a count, LREM, LTRIM, SREM, SPOP, SMOVE, ZREM, ZPOPMIN,
// ZREMRANGEBYSCORE, and a STORE form with an empty result.
#[test]
fn emptied_aggregates_delete_their_key() {
    let server = Server::start_default();
    let mut con = server.client();
    let cases: &[(&[&str], &[&str])] = &[
        (&["HSET", "k", "f", "v"], &["HDEL", "k", "f"]),
        (&["RPUSH", "k", "a"], &["LPOP", "k"]),
        (&["RPUSH", "k", "a", "b"], &["RPOP", "k", "5"]),
        (&["RPUSH", "k", "a", "a"], &["LREM", "k", "0", "a"]),
        (&["RPUSH", "k", "a", "b"], &["LTRIM", "k", "2", "-1"]),
        (
            &["RPUSH", "k", "a"],
            &["LMOVE", "k", "other-list", "LEFT", "LEFT"],
        ),
        (&["SADD", "k", "a"], &["SREM", "k", "a"]),
        (&["SADD", "k", "a", "b"], &["SPOP", "k", "2"]),
        (&["SADD", "k", "a"], &["SMOVE", "k", "other-set", "a"]),
        (&["SADD", "k", "a"], &["SINTERSTORE", "k", "k", "missing"]),
        (&["ZADD", "k", "1", "a"], &["ZREM", "k", "a"]),
        (&["ZADD", "k", "1", "a"], &["ZPOPMIN", "k"]),
        (
            &["ZADD", "k", "1", "a", "2", "b"],
            &["ZREMRANGEBYSCORE", "k", "-inf", "+inf"],
        ),
        (
            &["ZADD", "k", "1", "a"],
            &["ZREMRANGEBYRANK", "k", "0", "-1"],
        ),
        (&["ZADD", "k", "1", "a"], &["ZREMRANGEBYLEX", "k", "-", "+"]),
        (
            &["ZADD", "k", "1", "a"],
            &["ZINTERSTORE", "k", "2", "k", "missing"],
        ),
    ];
    for (create, empty) in cases {
        query::<Value>(&mut con, create);
        assert_eq!(query::<i64>(&mut con, &["EXISTS", "k"]), 1, "{create:?}");
        query::<Value>(&mut con, empty);
        assert_eq!(
            query::<i64>(&mut con, &["EXISTS", "k"]),
            0,
            "after {empty:?}"
        );
        assert_eq!(query::<String>(&mut con, &["TYPE", "k"]), "none");
    }
}

// With memory_size = 2mb, a hash filled to the limit ends in the OOM
// error; then growing writes of every type are refused with the same text
// while reads and removals still work, and deleting the hash makes room.
#[test]
fn memory_limit_refuses_writes_of_every_type() {
    let server = Server::start(Config::new().memory_size("2mb"));
    let mut con = server.client();
    make_one_of_each(&mut con);
    let value = "m".repeat(1024);
    let mut fields = 0usize;
    let refusal = loop {
        assert!(fields < 100_000, "100,000 KiB fit in a 2 MB database");
        match redis::cmd("HSET")
            .arg("filler")
            .arg(format!("f{fields}"))
            .arg(&value)
            .query::<Value>(&mut con)
        {
            Ok(_) => fields += 1,
            Err(error) => break error_text(&error),
        }
    };
    assert_eq!(refusal, OOM);
    assert!(fields >= 100, "only {fields} KiB fit before OOM");
    // redis-server counts a command's own arguments (and client buffers,
    // which shrink now and then) as used memory, so right at the limit a
    // smaller command than the one refused may pass. Before each check,
    // small SADDs (smaller than any command checked) top the data up until
    // one of them is refused.
    let mut member = 0u64;
    let mut top_up = |con: &mut redis::Connection| loop {
        member += 1;
        assert!(member < 1_000_000, "small writes are never refused");
        match redis::cmd("SADD").arg("f").arg(member).query::<Value>(con) {
            Ok(_) => continue,
            Err(error) => {
                assert_eq!(error_text(&error), OOM);
                break;
            }
        }
    };
    let refused: &[&[&str]] = &[
        &["SET", "string", "w"],
        &["HSET", "hash", "g", "v"],
        &["HSETNX", "hash", "g", "v"],
        &["HINCRBY", "hash", "n", "1"],
        &["LPUSH", "list", "b"],
        &["RPUSH", "list", "b"],
        &["LINSERT", "list", "BEFORE", "a", "b"],
        &["LMOVE", "list", "list2", "LEFT", "LEFT"],
        &["SADD", "set", "b"],
        &["SUNIONSTORE", "set2", "set"],
        &["ZADD", "zset", "2", "b"],
        &["ZINCRBY", "zset", "1", "a"],
        &["ZUNIONSTORE", "zset2", "1", "zset"],
    ];
    for args in refused {
        top_up(&mut con);
        assert_eq!(query_error(&mut con, args), OOM, "{args:?}");
    }
    assert_eq!(query::<String>(&mut con, &["HGET", "hash", "f"]), "v");
    assert_eq!(
        query::<Vec<String>>(&mut con, &["LRANGE", "list", "0", "-1"]),
        ["a"]
    );
    assert_eq!(query::<i64>(&mut con, &["SISMEMBER", "set", "a"]), 1);
    assert_eq!(query::<f64>(&mut con, &["ZSCORE", "zset", "a"]), 1.0);
    assert_eq!(query::<i64>(&mut con, &["HDEL", "hash", "f"]), 1);
    assert_eq!(query::<String>(&mut con, &["LPOP", "list"]), "a");
    assert_eq!(query::<i64>(&mut con, &["SREM", "set", "a"]), 1);
    assert_eq!(query::<i64>(&mut con, &["ZREM", "zset", "a"]), 1);
    assert_eq!(query::<i64>(&mut con, &["DEL", "filler"]), 1);
    assert_eq!(query::<i64>(&mut con, &["HSET", "hash", "g", "v"]), 1);
    assert_eq!(query::<i64>(&mut con, &["RPUSH", "list", "b"]), 1);
    assert_eq!(query::<i64>(&mut con, &["SADD", "set", "b"]), 1);
    assert_eq!(query::<i64>(&mut con, &["ZADD", "zset", "2", "b"]), 1);
}

// 200 keys of each type with a 100 ms deadline, never touched again, leave
// DBSIZE within seconds, while one key of each type without a deadline
// stays with its contents.
#[test]
fn active_expiry_removes_keys_of_every_type() {
    let server = Server::start_default();
    let mut con = server.client();
    make_one_of_each(&mut con);
    let mut pipe = redis::pipe();
    for i in 0..200 {
        for (kind, line) in [
            ("string", vec!["SET", "KEY", "v"]),
            ("hash", vec!["HSET", "KEY", "f", "v"]),
            ("list", vec!["RPUSH", "KEY", "a", "b"]),
            ("set", vec!["SADD", "KEY", "a", "b"]),
            ("zset", vec!["ZADD", "KEY", "1", "a"]),
        ] {
            let key = format!("expiring:{kind}:{i}");
            let mut command = redis::cmd(line[0]);
            for arg in &line[1..] {
                command.arg(if *arg == "KEY" { key.as_str() } else { arg });
            }
            pipe.add_command(command).ignore();
            pipe.cmd("PEXPIRE").arg(&key).arg(100).ignore();
        }
    }
    pipe.query::<()>(&mut con)
        .expect("pipelined writes with deadlines");
    assert_eq!(query::<i64>(&mut con, &["DBSIZE"]), 1005);
    wait_until(
        Duration::from_secs(15),
        "DBSIZE drops to the 5 keys without a deadline",
        || query::<i64>(&mut con, &["DBSIZE"]) == 5,
    );
    assert_eq!(query::<String>(&mut con, &["GET", "string"]), "v");
    assert_eq!(query::<i64>(&mut con, &["HLEN", "hash"]), 1);
    assert_eq!(query::<i64>(&mut con, &["LLEN", "list"]), 1);
    assert_eq!(query::<i64>(&mut con, &["SCARD", "set"]), 1);
    assert_eq!(query::<i64>(&mut con, &["ZCARD", "zset"]), 1);
}
