//! Proves the non-blocking list commands answer through the redis crate as
//! Redis 7 does: pushes, pops with counts, ranges and indexes from either
//! end, LPOS, and LMOVE/RPOPLPUSH between keys on different shards of a
//! two-core server, including many clients moving elements between two
//! lists on different shards at once without losing or duplicating one.
//! Run with PETREL_E2E_TARGET=redis to check the expectations against
//! redis-server.

use std::collections::HashSet;
use std::thread;

use petrel_e2e::{key_on_shard, query, query_error, Server};
use redis::Value;

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

// Pushes keep argument order at each end; LRANGE, LINDEX, LSET, LTRIM take
// negative indexes and clip ranges past the end; pops with a count answer
// arrays and the last pop deletes the key.
#[test]
fn pushes_pops_and_ranges() {
    let server = Server::start_default();
    let mut con = server.client();
    assert_eq!(query::<i64>(&mut con, &["LPUSH", "l", "c", "b", "a"]), 3);
    assert_eq!(query::<i64>(&mut con, &["RPUSH", "l", "d", "e", "f"]), 6);
    assert_eq!(query::<i64>(&mut con, &["LPUSHX", "missing", "x"]), 0);
    assert_eq!(query::<i64>(&mut con, &["EXISTS", "missing"]), 0);
    let range = |con: &mut redis::Connection, start: &str, stop: &str| -> Vec<String> {
        query(con, &["LRANGE", "l", start, stop])
    };
    assert_eq!(range(&mut con, "0", "-1"), ["a", "b", "c", "d", "e", "f"]);
    assert_eq!(range(&mut con, "-2", "100"), ["e", "f"]);
    assert_eq!(range(&mut con, "-100", "0"), ["a"]);
    assert!(range(&mut con, "4", "2").is_empty());
    assert!(range(&mut con, "6", "10").is_empty());
    assert_eq!(query::<String>(&mut con, &["LINDEX", "l", "-1"]), "f");
    assert_eq!(query::<Value>(&mut con, &["LINDEX", "l", "6"]), Value::Nil);
    assert_eq!(query::<String>(&mut con, &["LSET", "l", "-6", "A"]), "OK");
    assert_eq!(
        query_error(&mut con, &["LSET", "l", "6", "x"]),
        "ERR index out of range"
    );
    assert_eq!(
        query_error(&mut con, &["LSET", "missing", "0", "x"]),
        "ERR no such key"
    );
    assert_eq!(query::<String>(&mut con, &["LTRIM", "l", "-5", "-2"]), "OK");
    assert_eq!(range(&mut con, "0", "-1"), ["b", "c", "d", "e"]);
    assert_eq!(query::<String>(&mut con, &["LPOP", "l"]), "b");
    assert_eq!(
        query::<Vec<String>>(&mut con, &["RPOP", "l", "2"]),
        ["e", "d"]
    );
    assert_eq!(query::<Vec<String>>(&mut con, &["LPOP", "l", "10"]), ["c"]);
    assert_eq!(query::<i64>(&mut con, &["EXISTS", "l"]), 0);
    assert_eq!(query::<Value>(&mut con, &["LPOP", "l"]), Value::Nil);
    assert_eq!(query::<Value>(&mut con, &["LPOP", "l", "2"]), Value::Nil);
    assert_eq!(
        query_error(&mut con, &["LPOP", "l", "-1"]),
        "ERR value is out of range, must be positive"
    );
}

// LREM from either end, LINSERT around a pivot, and LPOS with RANK, COUNT
// and MAXLEN.
#[test]
fn rem_insert_and_positions() {
    let server = Server::start_default();
    let mut con = server.client();
    query::<i64>(&mut con, &["RPUSH", "l", "a", "b", "a", "c", "a"]);
    assert_eq!(query::<i64>(&mut con, &["LREM", "l", "-1", "a"]), 1);
    assert_eq!(
        query::<i64>(&mut con, &["LINSERT", "l", "BEFORE", "c", "X"]),
        5
    );
    assert_eq!(
        query::<i64>(&mut con, &["LINSERT", "l", "AFTER", "zz", "Y"]),
        -1
    );
    assert_eq!(
        query::<Vec<String>>(&mut con, &["LRANGE", "l", "0", "-1"]),
        ["a", "b", "a", "X", "c"]
    );
    assert_eq!(query::<i64>(&mut con, &["LPOS", "l", "a"]), 0);
    assert_eq!(query::<i64>(&mut con, &["LPOS", "l", "a", "RANK", "-1"]), 2);
    assert_eq!(
        query::<Vec<i64>>(&mut con, &["LPOS", "l", "a", "COUNT", "0"]),
        [0, 2]
    );
    assert_eq!(
        query::<Value>(&mut con, &["LPOS", "l", "c", "MAXLEN", "3"]),
        Value::Nil
    );
    assert_eq!(
        query_error(&mut con, &["LPOS", "l", "a", "RANK", "0"]),
        "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list"
    );
    assert_eq!(query::<i64>(&mut con, &["LREM", "l", "0", "a"]), 2);
    assert_eq!(query::<i64>(&mut con, &["LLEN", "l"]), 3);
}

// LMOVE and RPOPLPUSH between a list on shard 0 and one on shard 1 in every
// direction; a missing source answers nil; a destination of another type
// on the other shard answers WRONGTYPE and the source keeps its element;
// the moved-out last element deletes the source.
#[test]
fn moves_between_shards() {
    let server = Server::start_default();
    let mut con = server.client();
    let source = key_on_shard("src", 0, 2);
    let destination = key_on_shard("dst", 1, 2);
    assert_eq!(
        query::<Value>(&mut con, &["LMOVE", &source, &destination, "LEFT", "LEFT"]),
        Value::Nil
    );
    query::<i64>(&mut con, &["RPUSH", &source, "a", "b", "c", "d"]);
    assert_eq!(
        query::<String>(&mut con, &["LMOVE", &source, &destination, "LEFT", "RIGHT"]),
        "a"
    );
    assert_eq!(
        query::<String>(&mut con, &["LMOVE", &source, &destination, "RIGHT", "LEFT"]),
        "d"
    );
    assert_eq!(
        query::<String>(&mut con, &["RPOPLPUSH", &source, &destination]),
        "c"
    );
    assert_eq!(
        query::<Vec<String>>(&mut con, &["LRANGE", &destination, "0", "-1"]),
        ["c", "d", "a"]
    );
    assert_eq!(
        query::<String>(&mut con, &["LMOVE", &destination, &source, "RIGHT", "LEFT"]),
        "a"
    );
    assert_eq!(
        query::<Vec<String>>(&mut con, &["LRANGE", &source, "0", "-1"]),
        ["a", "b"]
    );
    let string = key_on_shard("str", 1, 2);
    query::<String>(&mut con, &["SET", &string, "v"]);
    assert_eq!(
        query_error(&mut con, &["LMOVE", &source, &string, "LEFT", "LEFT"]),
        WRONGTYPE
    );
    assert_eq!(
        query_error(&mut con, &["RPOPLPUSH", &source, &string]),
        WRONGTYPE
    );
    assert_eq!(
        query::<Vec<String>>(&mut con, &["LRANGE", &source, "0", "-1"]),
        ["a", "b"],
        "a refused move leaves the source whole"
    );
    assert_eq!(query::<String>(&mut con, &["GET", &string]), "v");
    query::<String>(&mut con, &["RPOPLPUSH", &source, &destination]);
    query::<String>(&mut con, &["RPOPLPUSH", &source, &destination]);
    assert_eq!(query::<i64>(&mut con, &["EXISTS", &source]), 0);
    assert_eq!(
        query::<Vec<String>>(&mut con, &["LRANGE", &destination, "0", "-1"]),
        ["a", "b", "c", "d"]
    );
}

// Eight clients move elements back and forth between a list on shard 0
// and one on shard 1 with LMOVE and RPOPLPUSH, 200 moves each: afterwards
// the two lists hold exactly the 100 elements they started with.
#[test]
fn concurrent_moves_between_shards_lose_nothing() {
    let server = Server::start_default();
    let left = key_on_shard("left", 0, 2);
    let right = key_on_shard("right", 1, 2);
    let mut con = server.client();
    let elements: Vec<String> = (0..100).map(|i| format!("e{i}")).collect();
    let mut push = vec!["RPUSH", left.as_str()];
    push.extend(elements.iter().map(String::as_str));
    query::<i64>(&mut con, &push);

    let workers: Vec<_> = (0..8)
        .map(|worker| {
            let url = server.url();
            let (left, right) = (left.clone(), right.clone());
            thread::spawn(move || {
                let mut con = petrel_e2e::connect_url(&url);
                for step in 0..200 {
                    let (from, to) = if (worker + step) % 2 == 0 {
                        (&left, &right)
                    } else {
                        (&right, &left)
                    };
                    let moved: Value = if step % 3 == 0 {
                        query(&mut con, &["RPOPLPUSH", from, to])
                    } else {
                        query(&mut con, &["LMOVE", from, to, "LEFT", "RIGHT"])
                    };
                    assert!(
                        matches!(moved, Value::BulkString(_) | Value::Nil),
                        "a move answers an element or nil: {moved:?}"
                    );
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("a mover thread panicked");
    }
    let mut all: Vec<String> = query(&mut con, &["LRANGE", &left, "0", "-1"]);
    all.extend(query::<Vec<String>>(
        &mut con,
        &["LRANGE", &right, "0", "-1"],
    ));
    assert_eq!(all.len(), 100, "no element lost or duplicated");
    let distinct: HashSet<&String> = all.iter().collect();
    assert_eq!(distinct, elements.iter().collect::<HashSet<_>>());
}
