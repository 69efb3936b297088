//! Proves the hash commands answer through a real client library (the
//! redis crate) as Redis 7 does: writes and reads on hashes spread over
//! both shards, the integer and float increments with their limits and
//! error texts, HRANDFIELD and a full HSCAN walk. Run with
//! PETREL_E2E_TARGET=redis to check every expectation against redis-server.

use std::collections::{HashMap, HashSet};

use petrel_e2e::{query, query_error, Server};
use redis::{Commands, Value};

// Fifty hashes (so both shards hold some) written with HSET and HMSET in one
// pipeline come back whole through HGETALL, HMGET, HKEYS, HVALS, HLEN,
// HSTRLEN and HEXISTS; HSETNX and HDEL count what they change and the last
// HDEL deletes the key.
#[test]
fn hashes_on_both_shards_read_back_whole() {
    let server = Server::start_default();
    let mut con = server.client();
    let mut pipe = redis::pipe();
    for i in 0..50 {
        let key = format!("user:{i}");
        pipe.cmd("HSET")
            .arg(&key)
            .arg("name")
            .arg(format!("name-{i}"))
            .arg("visits")
            .arg(i)
            .ignore();
        pipe.cmd("HMSET")
            .arg(&key)
            .arg("email")
            .arg(format!("{i}@example.org"))
            .ignore();
    }
    pipe.query::<()>(&mut con)
        .expect("pipelined HSET and HMSET");

    for i in 0..50 {
        let key = format!("user:{i}");
        let all: HashMap<String, String> = con.hgetall(&key).expect("HGETALL");
        let expected: HashMap<String, String> = [
            ("name".to_owned(), format!("name-{i}")),
            ("visits".to_owned(), i.to_string()),
            ("email".to_owned(), format!("{i}@example.org")),
        ]
        .into();
        assert_eq!(all, expected, "{key}");
    }
    let picked: Vec<Option<String>> =
        query(&mut con, &["HMGET", "user:7", "email", "nope", "name"]);
    assert_eq!(
        picked,
        vec![
            Some("7@example.org".to_owned()),
            None,
            Some("name-7".to_owned())
        ]
    );
    let mut keys: Vec<String> = con.hkeys("user:3").expect("HKEYS");
    keys.sort();
    assert_eq!(keys, ["email", "name", "visits"]);
    let mut values: Vec<String> = con.hvals("user:3").expect("HVALS");
    values.sort();
    assert_eq!(values, ["3", "3@example.org", "name-3"]);
    assert_eq!(query::<i64>(&mut con, &["HLEN", "user:3"]), 3);
    assert_eq!(query::<i64>(&mut con, &["HSTRLEN", "user:3", "name"]), 6);
    assert_eq!(query::<i64>(&mut con, &["HSTRLEN", "user:3", "nope"]), 0);
    assert_eq!(query::<i64>(&mut con, &["HEXISTS", "user:3", "email"]), 1);
    assert_eq!(query::<i64>(&mut con, &["HEXISTS", "missing", "email"]), 0);
    assert_eq!(
        query::<i64>(&mut con, &["HSETNX", "user:3", "name", "x"]),
        0
    );
    assert_eq!(
        query::<i64>(&mut con, &["HSETNX", "user:3", "city", "Oslo"]),
        1
    );
    assert_eq!(
        query::<String>(&mut con, &["HGET", "user:3", "name"]),
        "name-3"
    );
    assert_eq!(
        query::<i64>(&mut con, &["HDEL", "user:3", "name", "name", "nope"]),
        1
    );
    assert_eq!(
        query::<i64>(&mut con, &["HDEL", "user:3", "visits", "email", "city"]),
        3
    );
    assert_eq!(query::<i64>(&mut con, &["EXISTS", "user:3"]), 0);
    assert_eq!(
        query::<Value>(&mut con, &["HGET", "user:3", "name"]),
        Value::Nil
    );
    let empty: HashMap<String, String> = con.hgetall("user:3").expect("HGETALL");
    assert!(empty.is_empty());
}

// HINCRBY counts from a missing field, stops at the edges of i64 with
// Redis's overflow error and leaves the field as it was; HINCRBYFLOAT
// answers as Redis's long double arithmetic prints (10.5 + 0.1 is 10.6) and
// refuses infinities; both name a field that does not hold a number.
#[test]
fn increments_with_their_limits() {
    let server = Server::start_default();
    let mut con = server.client();
    assert_eq!(query::<i64>(&mut con, &["HINCRBY", "h", "n", "5"]), 5);
    assert_eq!(query::<i64>(&mut con, &["HINCRBY", "h", "n", "-7"]), -2);
    assert_eq!(
        query::<i64>(&mut con, &["HINCRBY", "h", "max", "9223372036854775807"]),
        i64::MAX
    );
    assert_eq!(
        query_error(&mut con, &["HINCRBY", "h", "max", "1"]),
        "ERR increment or decrement would overflow"
    );
    assert_eq!(
        query::<String>(&mut con, &["HGET", "h", "max"]),
        "9223372036854775807"
    );
    assert_eq!(
        query_error(&mut con, &["HINCRBY", "h", "n", "9223372036854775808"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        query::<String>(&mut con, &["HINCRBYFLOAT", "h", "f", "10.50"]),
        "10.5"
    );
    assert_eq!(
        query::<String>(&mut con, &["HINCRBYFLOAT", "h", "f", "0.1"]),
        "10.6"
    );
    assert_eq!(
        query::<String>(&mut con, &["HINCRBYFLOAT", "h", "f", "5.0e3"]),
        "5010.60000000000000009",
        "long double, as Redis prints it"
    );
    assert_eq!(
        query_error(&mut con, &["HINCRBYFLOAT", "h", "f", "inf"]),
        "ERR value is NaN or Infinity"
    );
    assert_eq!(
        query_error(&mut con, &["HINCRBYFLOAT", "h", "f", "nan"]),
        "ERR value is not a valid float"
    );
    assert_eq!(query::<i64>(&mut con, &["HSET", "h", "word", "abc"]), 1);
    assert_eq!(
        query_error(&mut con, &["HINCRBY", "h", "word", "1"]),
        "ERR hash value is not an integer"
    );
    assert_eq!(
        query_error(&mut con, &["HINCRBYFLOAT", "h", "word", "1"]),
        "ERR hash value is not a float"
    );
    assert_eq!(
        query_error(&mut con, &["HINCRBY", "fresh", "n", "x"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(query::<i64>(&mut con, &["EXISTS", "fresh"]), 0);
}

// HRANDFIELD picks distinct fields for a positive count (at most the whole
// hash), repeats for a negative one, pairs fields with their values
// WITHVALUES, and answers nil or an empty array without the key.
#[test]
fn hrandfield_counts() {
    let server = Server::start_default();
    let mut con = server.client();
    for i in 0..10 {
        let _: i64 = con
            .hset("h", format!("f{i}"), format!("v{i}"))
            .expect("HSET");
    }
    let one: String = query(&mut con, &["HRANDFIELD", "h"]);
    assert!(one.starts_with('f'), "{one}");
    let five: Vec<String> = query(&mut con, &["HRANDFIELD", "h", "5"]);
    assert_eq!(five.iter().collect::<HashSet<_>>().len(), 5);
    let all: Vec<String> = query(&mut con, &["HRANDFIELD", "h", "100"]);
    assert_eq!(all.len(), 10);
    let repeated: Vec<String> = query(&mut con, &["HRANDFIELD", "h", "-30"]);
    assert_eq!(repeated.len(), 30);
    let pairs: Vec<String> = query(&mut con, &["HRANDFIELD", "h", "-4", "WITHVALUES"]);
    assert_eq!(pairs.len(), 8);
    for pair in pairs.chunks(2) {
        assert_eq!(pair[1], pair[0].replacen('f', "v", 1));
    }
    assert_eq!(
        query::<Value>(&mut con, &["HRANDFIELD", "missing"]),
        Value::Nil
    );
    assert!(query::<Vec<String>>(&mut con, &["HRANDFIELD", "missing", "3"]).is_empty());
}

// HSCAN through the client's cursor iterator returns each of 1,000 fields
// exactly once with its value, and MATCH filters them.
#[test]
fn hscan_walks_every_field_once() {
    let server = Server::start_default();
    let mut con = server.client();
    let mut pipe = redis::pipe();
    for i in 0..1000 {
        pipe.cmd("HSET")
            .arg("big")
            .arg(format!("field:{i}"))
            .arg(i)
            .ignore();
    }
    pipe.query::<()>(&mut con).expect("pipelined HSET");
    let seen: Vec<(String, i64)> = con
        .hscan::<_, (String, i64)>("big")
        .expect("HSCAN")
        .collect();
    assert_eq!(seen.len(), 1000, "each field once");
    let distinct: HashMap<String, i64> = seen.into_iter().collect();
    assert_eq!(distinct.len(), 1000);
    assert_eq!(distinct["field:123"], 123);
    let matched: Vec<(String, i64)> = con
        .hscan_match::<_, _, (String, i64)>("big", "field:99*")
        .expect("HSCAN MATCH")
        .collect();
    let mut names: Vec<String> = matched.into_iter().map(|(field, _)| field).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "field:99",
            "field:990",
            "field:991",
            "field:992",
            "field:993",
            "field:994",
            "field:995",
            "field:996",
            "field:997",
            "field:998",
            "field:999"
        ]
    );
}
