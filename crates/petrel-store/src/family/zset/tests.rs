//! The sorted set commands run in-process against one keyspace with a
//! virtual clock (every command also checks the memory counter against a
//! recount), and ZUNIONSTORE/ZINTERSTORE on nodes of one and of several
//! shards with their coordinator stepped by hand. Replies and error texts
//! are those redis-server 7.0.15 sent for the same command lines.

use std::collections::HashSet;

use bytes::Bytes;
use petrel_resp::Reply;

use crate::family::list::tests::Node;
use crate::family::string::tests::{bulk, err, int, Db};

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
const NOT_FLOAT: &str = "ERR value is not a valid float";
const RANGE_NOT_FLOAT: &str = "ERR min or max is not a float";
const LEX_INVALID: &str = "ERR min or max not valid string range item";
const SYNTAX: &str = "ERR syntax error";

fn members(items: &[&str]) -> Reply {
    Reply::Array(items.iter().map(|item| bulk(item)).collect())
}

/// WITHSCORES replies: member, score pairs.
fn scored(items: &[(&str, f64)]) -> Reply {
    Reply::Pairs(
        items
            .iter()
            .map(|(member, score)| (bulk(member), Reply::Double(*score)))
            .collect(),
    )
}

fn double(score: f64) -> Reply {
    Reply::Double(score)
}

fn exists(db: &mut Db, key: &str) -> bool {
    db.keyspace.contains(key.as_bytes(), db.now_ms)
}

/// ZADD's options: NX, XX, GT, LT decide per member, CH counts changes, and
/// XX on a missing key creates nothing.
#[test]
fn zadd_conditions() {
    let mut db = Db::new();
    assert_eq!(db.run(&["ZADD", "z", "1", "a", "2", "b", "3", "c"]), int(3));
    assert_eq!(db.run(&["ZADD", "z", "1", "a"]), int(0));
    assert_eq!(
        db.run(&["ZADD", "z", "CH", "5", "a", "2", "b", "9", "d"]),
        int(2)
    );
    assert_eq!(db.run(&["ZADD", "z", "NX", "100", "a", "100", "e"]), int(1));
    assert_eq!(db.run(&["ZSCORE", "z", "a"]), double(5.0));
    assert_eq!(
        db.run(&["ZADD", "z", "XX", "CH", "200", "a", "200", "f"]),
        int(1)
    );
    assert_eq!(db.run(&["ZSCORE", "z", "f"]), Reply::Nil);
    assert_eq!(
        db.run(&["ZADD", "z", "GT", "CH", "1", "a", "300", "b"]),
        int(1)
    );
    assert_eq!(
        db.run(&["ZADD", "z", "LT", "CH", "1", "a", "400", "b"]),
        int(1)
    );
    assert_eq!(
        db.run(&["ZMSCORE", "z", "a", "b"]),
        Reply::Array(vec![double(1.0), double(300.0)])
    );
    assert_eq!(
        db.run(&["ZADD", "z", "GT", "7", "new"]),
        int(1),
        "GT adds new members"
    );
    assert_eq!(db.run(&["ZADD", "missing", "XX", "1", "a"]), int(0));
    assert!(!exists(&mut db, "missing"));
    assert_eq!(
        db.run(&["ZADD", "missing", "XX", "INCR", "1", "a"]),
        Reply::Nil
    );
    assert_eq!(db.run(&["ZCARD", "z"]), int(6));
}

/// ZADD's argument errors, in Redis's order and words.
#[test]
fn zadd_errors() {
    let mut db = Db::new();
    let cases: &[(&[&str], &str)] = &[
        (
            &["ZADD", "z", "NX", "XX", "1", "a"],
            "ERR XX and NX options at the same time are not compatible",
        ),
        (
            &["ZADD", "z", "GT", "LT", "1", "a"],
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ),
        (
            &["ZADD", "z", "NX", "GT", "1", "a"],
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ),
        (
            &["ZADD", "z", "INCR", "1", "a", "2", "b"],
            "ERR INCR option supports a single increment-element pair",
        ),
        (&["ZADD", "z", "1", "a", "2"], SYNTAX),
        (&["ZADD", "z", "1", "a", "CH"], SYNTAX),
        (&["ZADD", "z", "NX", "XX", "1"], SYNTAX),
        (&["ZADD", "z", "abc", "a"], NOT_FLOAT),
        (&["ZADD", "z", "nan", "a"], NOT_FLOAT),
        (&["ZADD", "z", "1e400", "a"], NOT_FLOAT),
        (&["ZADD", "z", "1e-400", "a"], NOT_FLOAT),
        (&["ZADD", "z", " 1", "a"], NOT_FLOAT),
        (&["ZADD", "z", "1", "a", "x", "b"], NOT_FLOAT),
    ];
    for (line, expected) in cases {
        assert_eq!(db.run(line), err(expected), "{line:?}");
    }
    assert!(!exists(&mut db, "z"), "a refused ZADD adds nothing");
    assert_eq!(
        db.run(&["ZADD", "z", "1"]),
        err("ERR wrong number of arguments for 'zadd' command")
    );
}

/// Scores as strtod reads them: infinities, hexadecimal, a sign, a bare
/// fraction; -0 becomes 0 while the set is small (a listpack stores it as an
/// integer) and stays -0 in a large one.
#[test]
fn score_syntax() {
    let mut db = Db::new();
    let cases = [
        ("-inf", f64::NEG_INFINITY),
        ("+inf", f64::INFINITY),
        ("0x10", 16.0),
        ("+5", 5.0),
        (".5", 0.5),
        ("1e3", 1000.0),
        ("-0", 0.0),
    ];
    for (text, expected) in cases {
        db.run(&["ZADD", "z", text, text]);
        assert_eq!(db.run(&["ZSCORE", "z", text]), double(expected), "{text}");
    }
    let Reply::Double(stored) = db.run(&["ZSCORE", "z", "-0"]) else {
        panic!("ZSCORE answers a double");
    };
    assert!(stored.is_sign_positive(), "small sets store -0 as 0");
    for n in 0..200 {
        db.run(&["ZADD", "big", &n.to_string(), &format!("m{n}")]);
    }
    db.run(&["ZADD", "big", "-0", "negative-zero"]);
    let Reply::Double(stored) = db.run(&["ZSCORE", "big", "negative-zero"]) else {
        panic!("ZSCORE answers a double");
    };
    assert!(stored.is_sign_negative(), "a skiplist keeps -0");
}

/// INCR and ZINCRBY add to the score, answer the new score (nil when a
/// condition skipped it), and refuse to make NaN from inf + -inf.
#[test]
fn increments() {
    let mut db = Db::new();
    assert_eq!(db.run(&["ZINCRBY", "z", "2.5", "a"]), double(2.5));
    assert_eq!(db.run(&["ZINCRBY", "z", "0.5", "a"]), double(3.0));
    assert_eq!(db.run(&["ZADD", "z", "INCR", "5", "a"]), double(8.0));
    assert_eq!(db.run(&["ZADD", "z", "INCR", "NX", "5", "a"]), Reply::Nil);
    assert_eq!(db.run(&["ZADD", "z", "INCR", "XX", "5", "b"]), Reply::Nil);
    assert_eq!(db.run(&["ZADD", "z", "INCR", "GT", "-5", "a"]), Reply::Nil);
    assert_eq!(db.run(&["ZADD", "z", "INCR", "LT", "-5", "a"]), double(3.0));
    assert_eq!(db.run(&["ZINCRBY", "z", "0.1", "t"]), double(0.1));
    assert_eq!(db.run(&["ZINCRBY", "z", "0.2", "t"]), double(0.1 + 0.2));
    assert_eq!(db.run(&["ZINCRBY", "z", "inf", "a"]), double(f64::INFINITY));
    assert_eq!(
        db.run(&["ZINCRBY", "z", "-inf", "a"]),
        err("ERR resulting score is not a number (NaN)")
    );
    assert_eq!(db.run(&["ZSCORE", "z", "a"]), double(f64::INFINITY));
    assert_eq!(db.run(&["ZINCRBY", "z", "1e308", "big"]), double(1e308));
    assert_eq!(
        db.run(&["ZINCRBY", "z", "1e308", "big"]),
        double(f64::INFINITY)
    );
    assert_eq!(db.run(&["ZINCRBY", "z", "abc", "a"]), err(NOT_FLOAT));
    assert_eq!(
        db.run(&["ZINCRBY", "z", "nx", "a"]),
        err(SYNTAX),
        "ZADD's option words"
    );
}

/// ZREM, ZSCORE, ZMSCORE and ZCARD, and the key going away with its last
/// member.
#[test]
fn members_and_removal() {
    let mut db = Db::new();
    assert_eq!(db.run(&["ZSCORE", "z", "a"]), Reply::Nil);
    assert_eq!(
        db.run(&["ZMSCORE", "z", "a", "b"]),
        Reply::Array(vec![Reply::Nil, Reply::Nil])
    );
    assert_eq!(db.run(&["ZCARD", "z"]), int(0));
    assert_eq!(db.run(&["ZREM", "z", "a"]), int(0));
    db.run(&["ZADD", "z", "1", "a", "2", "b"]);
    assert_eq!(
        db.run(&["ZMSCORE", "z", "a", "x", "b"]),
        Reply::Array(vec![double(1.0), Reply::Nil, double(2.0)])
    );
    assert_eq!(db.run(&["ZREM", "z", "a", "x", "a"]), int(1));
    assert_eq!(db.run(&["ZREM", "z", "b"]), int(1));
    assert!(!exists(&mut db, "z"));
    assert_eq!(db.keyspace.used_memory_bytes(), 0);
}

fn five(db: &mut Db) {
    db.run(&[
        "ZADD", "r", "1", "one", "2", "two", "3", "three", "4", "four", "5", "five",
    ]);
}

/// ZRANGE by rank: negative indexes, ranges past either end, REV counting
/// from the highest score.
#[test]
fn range_by_rank() {
    let mut db = Db::new();
    five(&mut db);
    assert_eq!(
        db.run(&["ZRANGE", "r", "0", "-1"]),
        members(&["one", "two", "three", "four", "five"])
    );
    assert_eq!(
        db.run(&["ZRANGE", "r", "1", "2", "WITHSCORES"]),
        scored(&[("two", 2.0), ("three", 3.0)])
    );
    assert_eq!(
        db.run(&["ZRANGE", "r", "-2", "-1"]),
        members(&["four", "five"])
    );
    assert_eq!(
        db.run(&["ZRANGE", "r", "-100", "100"]),
        db.run(&["ZRANGE", "r", "0", "-1"])
    );
    assert_eq!(db.run(&["ZRANGE", "r", "3", "1"]), members(&[]));
    assert_eq!(db.run(&["ZRANGE", "r", "10", "20"]), members(&[]));
    assert_eq!(
        db.run(&["ZRANGE", "r", "0", "1", "REV"]),
        members(&["five", "four"])
    );
    assert_eq!(
        db.run(&["ZRANGE", "r", "-1", "-1", "REV", "WITHSCORES"]),
        scored(&[("one", 1.0)])
    );
    assert_eq!(
        db.run(&["ZREVRANGE", "r", "0", "1", "WITHSCORES"]),
        scored(&[("five", 5.0), ("four", 4.0)])
    );
    assert_eq!(db.run(&["ZRANGE", "r", "a", "5"]), err(NOT_INTEGER));
    assert_eq!(db.run(&["ZRANGE", "missing", "0", "-1"]), members(&[]));
}

/// ZRANGE BYSCORE and the legacy commands: exclusive bounds, infinities,
/// REV taking max first, LIMIT's offset and count (negative count: all;
/// negative offset: nothing).
#[test]
fn range_by_score() {
    let mut db = Db::new();
    five(&mut db);
    let cases: &[(&[&str], &[&str])] = &[
        (&["ZRANGE", "r", "(1", "3", "BYSCORE"], &["two", "three"]),
        (&["ZRANGE", "r", "1", "(3", "BYSCORE"], &["one", "two"]),
        (
            &["ZRANGE", "r", "-inf", "+inf", "BYSCORE"],
            &["one", "two", "three", "four", "five"],
        ),
        (
            &["ZRANGE", "r", "5", "(2", "BYSCORE", "REV"],
            &["five", "four", "three"],
        ),
        (
            &["ZRANGE", "r", "1", "5", "BYSCORE", "LIMIT", "1", "2"],
            &["two", "three"],
        ),
        (
            &["ZRANGE", "r", "1", "5", "BYSCORE", "LIMIT", "1", "-1"],
            &["two", "three", "four", "five"],
        ),
        (
            &["ZRANGE", "r", "1", "5", "BYSCORE", "LIMIT", "-1", "2"],
            &[],
        ),
        (
            &["ZRANGE", "r", "1", "5", "BYSCORE", "LIMIT", "5", "2"],
            &[],
        ),
        (
            &["ZRANGE", "r", "1", "5", "BYSCORE", "LIMIT", "0", "0"],
            &[],
        ),
        (
            &[
                "ZRANGE", "r", "5", "1", "BYSCORE", "REV", "LIMIT", "3", "10",
            ],
            &["two", "one"],
        ),
        (&["ZRANGE", "r", "3", "1", "BYSCORE"], &[]),
        (&["ZRANGE", "r", "(3", "3", "BYSCORE"], &[]),
        (
            &["ZRANGE", "r", "1e400", "-1e400", "BYSCORE", "REV"],
            &["five", "four", "three", "two", "one"],
        ),
        (
            &["ZRANGEBYSCORE", "r", "2", "4", "LIMIT", "1", "1"],
            &["three"],
        ),
        (
            &["ZREVRANGEBYSCORE", "r", "4", "2"],
            &["four", "three", "two"],
        ),
        (&["ZREVRANGEBYSCORE", "r", "2", "4"], &[]),
        (&["ZRANGE", "r", "", "(", "BYSCORE"], &[]),
    ];
    for (line, expected) in cases {
        assert_eq!(db.run(line), members(expected), "{line:?}");
    }
    assert_eq!(
        db.run(&[
            "ZREVRANGEBYSCORE",
            "r",
            "4",
            "2",
            "WITHSCORES",
            "LIMIT",
            "1",
            "5"
        ]),
        scored(&[("three", 3.0), ("two", 2.0)])
    );
    for bad in ["a", "nan", "(nan", "1 "] {
        assert_eq!(
            db.run(&["ZRANGEBYSCORE", "r", bad, "5"]),
            err(RANGE_NOT_FLOAT),
            "{bad}"
        );
    }
    assert_eq!(
        db.run(&["ZRANGEBYSCORE", "r", " 1", "2"]),
        members(&["one", "two"])
    );
}

/// ZRANGE's option grammar and its errors.
#[test]
fn range_option_errors() {
    let mut db = Db::new();
    five(&mut db);
    let limit_error =
        "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX";
    let cases: &[(&[&str], &str)] = &[
        (&["ZRANGE", "r", "0", "1", "LIMIT", "0", "1"], limit_error),
        (
            &["ZREVRANGE", "r", "0", "1", "LIMIT", "0", "1"],
            limit_error,
        ),
        (
            &["ZRANGE", "r", "[a", "+", "BYLEX", "WITHSCORES"],
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ),
        (&["ZRANGE", "r", "1", "5", "BYSCORE", "BYLEX"], SYNTAX),
        (&["ZRANGE", "r", "1", "5", "REV", "REV"], SYNTAX),
        (&["ZRANGE", "r", "1", "5", "BYSCORE", "LIMIT", "1"], SYNTAX),
        (
            &["ZRANGE", "r", "1", "5", "BYSCORE", "LIMIT", "a", "1"],
            NOT_INTEGER,
        ),
        (&["ZRANGEBYSCORE", "r", "1", "5", "REV"], SYNTAX),
        (&["ZRANGEBYSCORE", "r", "1", "5", "BYSCORE"], SYNTAX),
        (&["ZREVRANGE", "r", "0", "1", "BYSCORE"], SYNTAX),
        (
            &["ZRANGE", "missing", "0", "1", "LIMIT", "0", "1"],
            limit_error,
        ),
        (&["ZRANGE", "missing", "a", "5", "BYSCORE"], RANGE_NOT_FLOAT),
    ];
    for (line, expected) in cases {
        assert_eq!(db.run(line), err(expected), "{line:?}");
    }
    assert_eq!(
        db.run(&["ZRANGE", "r", "0", "0", "LIMIT", "0", "-1"]),
        members(&["one"]),
        "Redis treats a count of -1 as no LIMIT"
    );
}

/// Lexicographic bounds: `[`, `(`, `-`, `+`, with the ranges Redis calls
/// empty, LIMIT, reversal, counting, and malformed bounds refused.
#[test]
fn range_by_lex() {
    let mut db = Db::new();
    db.run(&[
        "ZADD", "x", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e",
    ]);
    let cases: &[(&[&str], &[&str])] = &[
        (&["ZRANGEBYLEX", "x", "-", "+"], &["a", "b", "c", "d", "e"]),
        (&["ZRANGEBYLEX", "x", "[b", "[d"], &["b", "c", "d"]),
        (&["ZRANGEBYLEX", "x", "(b", "(d"], &["c"]),
        (&["ZRANGEBYLEX", "x", "[aa", "(dd"], &["b", "c", "d"]),
        (&["ZRANGEBYLEX", "x", "+", "-"], &[]),
        (&["ZRANGEBYLEX", "x", "-", "-"], &[]),
        (&["ZRANGEBYLEX", "x", "[d", "[b"], &[]),
        (&["ZRANGEBYLEX", "x", "[d", "[d"], &["d"]),
        (&["ZRANGEBYLEX", "x", "(d", "[d"], &[]),
        (
            &["ZRANGEBYLEX", "x", "[b", "[e", "LIMIT", "1", "2"],
            &["c", "d"],
        ),
        (
            &["ZREVRANGEBYLEX", "x", "+", "-"],
            &["e", "d", "c", "b", "a"],
        ),
        (
            &["ZREVRANGEBYLEX", "x", "(e", "-", "LIMIT", "1", "2"],
            &["c", "b"],
        ),
        (
            &["ZRANGE", "x", "+", "[c", "BYLEX", "REV"],
            &["e", "d", "c"],
        ),
    ];
    for (line, expected) in cases {
        assert_eq!(db.run(line), members(expected), "{line:?}");
    }
    for (min, max) in [
        ("b", "[d"),
        ("[b", "d"),
        ("", "+"),
        ("-a", "+"),
        ("+a", "+"),
    ] {
        assert_eq!(
            db.run(&["ZRANGEBYLEX", "x", min, max]),
            err(LEX_INVALID),
            "{min} {max}"
        );
    }
    assert_eq!(db.run(&["ZLEXCOUNT", "x", "-", "+"]), int(5));
    assert_eq!(db.run(&["ZLEXCOUNT", "x", "[b", "(e"]), int(3));
    assert_eq!(db.run(&["ZLEXCOUNT", "x", "(e", "[b"]), int(0));
    assert_eq!(
        db.run(&["ZLEXCOUNT", "missing", "b", "e"]),
        err(LEX_INVALID)
    );
    assert_eq!(db.run(&["ZLEXCOUNT", "missing", "-", "+"]), int(0));
}

/// ZCOUNT, ZRANK and ZREVRANK; equal scores order by member.
#[test]
fn counts_and_ranks() {
    let mut db = Db::new();
    five(&mut db);
    assert_eq!(db.run(&["ZCOUNT", "r", "-inf", "+inf"]), int(5));
    assert_eq!(db.run(&["ZCOUNT", "r", "(1", "(5"]), int(3));
    assert_eq!(db.run(&["ZCOUNT", "r", "2", "2"]), int(1));
    assert_eq!(db.run(&["ZCOUNT", "r", "(2", "2"]), int(0));
    assert_eq!(db.run(&["ZCOUNT", "r", "5", "1"]), int(0));
    assert_eq!(db.run(&["ZCOUNT", "r", "a", "b"]), err(RANGE_NOT_FLOAT));
    assert_eq!(db.run(&["ZCOUNT", "missing", "1", "2"]), int(0));
    assert_eq!(db.run(&["ZRANK", "r", "one"]), int(0));
    assert_eq!(db.run(&["ZREVRANK", "r", "one"]), int(4));
    assert_eq!(db.run(&["ZRANK", "r", "nope"]), Reply::Nil);
    assert_eq!(db.run(&["ZRANK", "missing", "a"]), Reply::Nil);
    db.run(&[
        "ZADD", "ties", "1", "b", "1", "a", "1", "c", "0", "z", "2", "y",
    ]);
    assert_eq!(
        db.run(&["ZRANGE", "ties", "0", "-1"]),
        members(&["z", "a", "b", "c", "y"])
    );
    assert_eq!(db.run(&["ZRANK", "ties", "c"]), int(3));
    assert_eq!(db.run(&["ZREVRANK", "ties", "c"]), int(1));
}

/// ZPOPMIN and ZPOPMAX: a flat pair without a count, pairs with one, an
/// empty array for a missing key; the key goes with its last member.
#[test]
fn pops() {
    let mut db = Db::new();
    assert_eq!(db.run(&["ZPOPMIN", "r"]), members(&[]));
    assert_eq!(db.run(&["ZPOPMIN", "r", "3"]), members(&[]));
    five(&mut db);
    assert_eq!(
        db.run(&["ZPOPMIN", "r"]),
        Reply::Array(vec![bulk("one"), double(1.0)])
    );
    assert_eq!(
        db.run(&["ZPOPMAX", "r"]),
        Reply::Array(vec![bulk("five"), double(5.0)])
    );
    assert_eq!(
        db.run(&["ZPOPMIN", "r", "2"]),
        scored(&[("two", 2.0), ("three", 3.0)])
    );
    assert_eq!(db.run(&["ZPOPMIN", "r", "0"]), members(&[]));
    assert_eq!(db.run(&["ZPOPMAX", "r", "5"]), scored(&[("four", 4.0)]));
    assert!(!exists(&mut db, "r"));
    assert_eq!(
        db.run(&["ZPOPMIN", "r", "-1"]),
        err("ERR value is out of range, must be positive")
    );
    assert_eq!(
        db.run(&["ZPOPMIN", "r", "x"]),
        err("ERR value is out of range, must be positive")
    );
    assert_eq!(db.run(&["ZPOPMIN", "r", "1", "2"]), err(SYNTAX));
}

/// ZRANDMEMBER: one member, distinct members up to the set's size, the
/// whole set highest first when asked for more, repeats for a negative
/// count; nil or an empty array without the key; its argument errors.
#[test]
fn random_members() {
    let mut db = Db::new();
    assert_eq!(db.run(&["ZRANDMEMBER", "z"]), Reply::Nil);
    assert_eq!(db.run(&["ZRANDMEMBER", "z", "5"]), members(&[]));
    for n in 0..50 {
        db.run(&["ZADD", "z", &n.to_string(), &format!("m{n}")]);
    }
    let names = |reply: Reply| -> Vec<Bytes> {
        let Reply::Array(items) = reply else {
            panic!("an array");
        };
        items
            .into_iter()
            .map(|item| match item {
                Reply::Bulk(member) => member,
                other => panic!("a member, got {other:?}"),
            })
            .collect()
    };
    for count in [1, 10, 20, 49] {
        let picked = names(db.run(&["ZRANDMEMBER", "z", &count.to_string()]));
        let distinct: HashSet<&Bytes> = picked.iter().collect();
        assert_eq!((picked.len(), distinct.len()), (count, count));
    }
    let everything = names(db.run(&["ZRANDMEMBER", "z", "100"]));
    assert_eq!(everything.len(), 50);
    assert_eq!(everything[0], Bytes::from("m49"), "highest score first");
    let repeated = names(db.run(&["ZRANDMEMBER", "z", "-200"]));
    assert_eq!(repeated.len(), 200);
    let seen: HashSet<&Bytes> = repeated.iter().collect();
    assert!(
        seen.len() < 200 && seen.len() > 1,
        "samples with repetition"
    );
    assert!(matches!(db.run(&["ZRANDMEMBER", "z"]), Reply::Bulk(_)));
    let Reply::Pairs(pairs) = db.run(&["ZRANDMEMBER", "z", "3", "WITHSCORES"]) else {
        panic!("scored pairs");
    };
    assert_eq!(pairs.len(), 3);
    assert_eq!(db.run(&["ZRANDMEMBER", "z", "0"]), members(&[]));
    assert_eq!(
        db.run(&["ZRANDMEMBER", "z", "-9223372036854775808"]),
        err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
    );
    assert_eq!(
        db.run(&["ZRANDMEMBER", "z", "-4611686018427387904", "WITHSCORES"]),
        err("ERR value is out of range")
    );
    assert_eq!(db.run(&["ZRANDMEMBER", "z", "abc"]), err(NOT_INTEGER));
    assert_eq!(
        db.run(&["ZRANDMEMBER", "z", "1", "WITHSCORES", "x"]),
        err(SYNTAX)
    );
    assert_eq!(db.run(&["ZRANDMEMBER", "z", "1", "foo"]), err(SYNTAX));
}

/// ZREMRANGEBYRANK, ZREMRANGEBYSCORE and ZREMRANGEBYLEX remove what the
/// matching range command would return and delete an emptied key.
#[test]
fn remove_ranges() {
    let mut db = Db::new();
    db.run(&[
        "ZADD", "r", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e", "6", "f",
    ]);
    assert_eq!(db.run(&["ZREMRANGEBYRANK", "r", "0", "1"]), int(2));
    assert_eq!(db.run(&["ZREMRANGEBYRANK", "r", "-1", "-1"]), int(1));
    assert_eq!(db.run(&["ZREMRANGEBYRANK", "r", "5", "10"]), int(0));
    assert_eq!(db.run(&["ZREMRANGEBYRANK", "r", "2", "1"]), int(0));
    assert_eq!(
        db.run(&["ZREMRANGEBYRANK", "r", "x", "1"]),
        err(NOT_INTEGER)
    );
    assert_eq!(db.run(&["ZREMRANGEBYSCORE", "r", "(3", "4"]), int(1));
    assert_eq!(db.run(&["ZRANGE", "r", "0", "-1"]), members(&["c", "e"]));
    assert_eq!(
        db.run(&["ZREMRANGEBYSCORE", "r", "a", "b"]),
        err(RANGE_NOT_FLOAT)
    );
    assert_eq!(db.run(&["ZREMRANGEBYSCORE", "r", "-inf", "+inf"]), int(2));
    assert!(!exists(&mut db, "r"));
    assert_eq!(db.run(&["ZREMRANGEBYSCORE", "r", "1", "2"]), int(0));
    db.run(&["ZADD", "x", "0", "a", "0", "b", "0", "c", "0", "d"]);
    assert_eq!(db.run(&["ZREMRANGEBYLEX", "x", "[b", "(d"]), int(2));
    assert_eq!(db.run(&["ZREMRANGEBYLEX", "x", "b", "d"]), err(LEX_INVALID));
    assert_eq!(db.run(&["ZREMRANGEBYLEX", "x", "-", "+"]), int(2));
    assert!(!exists(&mut db, "x"));
}

/// ZSCAN: a small set comes back whole in score order with cursor 0 and
/// Redis's score texts; a large one is walked with a cursor that reaches
/// every member; MATCH filters; the argument errors.
#[test]
fn scan() {
    let mut db = Db::new();
    db.run(&[
        "ZADD",
        "z",
        "0.1",
        "a",
        "1e20",
        "b",
        "123456789012345678",
        "c",
        "-3",
        "d",
    ]);
    let expected = Reply::Array(vec![
        bulk("0"),
        members(&[
            "d",
            "-3",
            "a",
            "0.10000000000000001",
            "c",
            "123456789012345680",
            "b",
            "1e+20",
        ]),
    ]);
    assert_eq!(db.run(&["ZSCAN", "z", "0"]), expected);
    assert_eq!(
        db.run(&["ZSCAN", "z", "0", "MATCH", "[ab]", "COUNT", "1"]),
        Reply::Array(vec![
            bulk("0"),
            members(&["a", "0.10000000000000001", "b", "1e+20"])
        ])
    );
    assert_eq!(
        db.run(&["ZSCAN", "missing", "0", "COUNT", "0"]),
        Reply::Array(vec![bulk("0"), members(&[])])
    );
    assert_eq!(db.run(&["ZSCAN", "z", "x"]), err("ERR invalid cursor"));
    assert_eq!(
        db.run(&["ZSCAN", "z", "18446744073709551616"]),
        err("ERR invalid cursor")
    );
    assert_eq!(db.run(&["ZSCAN", "z", "0", "COUNT", "0"]), err(SYNTAX));
    assert_eq!(db.run(&["ZSCAN", "z", "0", "COUNT", "x"]), err(NOT_INTEGER));
    assert_eq!(db.run(&["ZSCAN", "z", "0", "TYPE", "zset"]), err(SYNTAX));
    assert_eq!(db.run(&["ZSCAN", "z", "0", "MATCH"]), err(SYNTAX));

    for n in 0..300 {
        db.run(&["ZADD", "big", &n.to_string(), &format!("m{n}")]);
    }
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    let mut calls = 0;
    loop {
        let Reply::Array(parts) = db.run(&["ZSCAN", "big", &cursor, "COUNT", "25"]) else {
            panic!("a scan reply");
        };
        let [Reply::Bulk(next), Reply::Array(items)] = parts.as_slice() else {
            panic!("cursor and items");
        };
        for pair in items.chunks(2) {
            if let [Reply::Bulk(member), Reply::Bulk(score)] = pair {
                let n: String = String::from_utf8_lossy(&member[1..]).into();
                assert_eq!(
                    String::from_utf8_lossy(score),
                    n,
                    "score text of {member:?}"
                );
                seen.insert(member.clone());
            }
        }
        // Members leave during the scan; those present throughout are still seen.
        if calls == 2 {
            db.run(&["ZREM", "big", "m299", "m298", "m0"]);
        }
        calls += 1;
        cursor = String::from_utf8_lossy(next).into();
        if cursor == "0" {
            break;
        }
    }
    assert!(calls > 5);
    for n in 1..298 {
        assert!(seen.contains(&Bytes::from(format!("m{n}"))), "m{n} missed");
    }
}

/// Every sorted set command refuses a key of another type with Redis's
/// text, and leaves it alone.
#[test]
fn wrong_type() {
    let mut db = Db::new();
    db.run(&["SET", "s", "v"]);
    let lines: &[&[&str]] = &[
        &["ZADD", "s", "1", "a"],
        &["ZINCRBY", "s", "1", "a"],
        &["ZREM", "s", "a"],
        &["ZSCORE", "s", "a"],
        &["ZMSCORE", "s", "a"],
        &["ZCARD", "s"],
        &["ZCOUNT", "s", "1", "2"],
        &["ZLEXCOUNT", "s", "-", "+"],
        &["ZRANGE", "s", "0", "1"],
        &["ZRANGEBYSCORE", "s", "1", "2"],
        &["ZREVRANGEBYSCORE", "s", "2", "1"],
        &["ZRANGEBYLEX", "s", "-", "+"],
        &["ZREVRANGEBYLEX", "s", "+", "-"],
        &["ZREVRANGE", "s", "0", "1"],
        &["ZRANK", "s", "a"],
        &["ZREVRANK", "s", "a"],
        &["ZPOPMIN", "s"],
        &["ZPOPMAX", "s", "0"],
        &["ZRANDMEMBER", "s"],
        &["ZRANDMEMBER", "s", "2"],
        &["ZREMRANGEBYRANK", "s", "0", "1"],
        &["ZREMRANGEBYSCORE", "s", "1", "2"],
        &["ZREMRANGEBYLEX", "s", "-", "+"],
        &["ZSCAN", "s", "0"],
    ];
    for line in lines {
        assert_eq!(db.run(line), err(WRONGTYPE), "{line:?}");
    }
    assert_eq!(db.run(&["GET", "s"]), bulk("v"));
    assert_eq!(
        db.run(&["ZSCAN", "s", "x"]),
        err("ERR invalid cursor"),
        "cursor first"
    );
}

/// OBJECT ENCODING follows Redis's listpack limits (128 members, 64-byte
/// members) and never converts back; TYPE says zset; memory returns to zero.
#[test]
fn encoding_and_memory() {
    let mut db = Db::new();
    for n in 0..128 {
        db.run(&["ZADD", "z", "1", &format!("m{n}")]);
    }
    assert_eq!(db.run(&["OBJECT", "ENCODING", "z"]), bulk("listpack"));
    db.run(&["ZADD", "z", "1", "one-more"]);
    assert_eq!(db.run(&["OBJECT", "ENCODING", "z"]), bulk("skiplist"));
    db.run(&["ZREMRANGEBYRANK", "z", "0", "100"]);
    assert_eq!(db.run(&["OBJECT", "ENCODING", "z"]), bulk("skiplist"));
    db.run(&["ZADD", "long", "1", &"a".repeat(64)]);
    assert_eq!(db.run(&["OBJECT", "ENCODING", "long"]), bulk("listpack"));
    db.run(&["ZADD", "long", "1", &"a".repeat(65)]);
    assert_eq!(db.run(&["OBJECT", "ENCODING", "long"]), bulk("skiplist"));
    assert_eq!(db.run(&["TYPE", "long"]), Reply::simple("zset"));
    db.run(&["DEL", "z", "long"]);
    assert_eq!(db.keyspace.used_memory_bytes(), 0);
    db.run(&["ZADD", "t", "1", "a"]);
    db.run(&["PEXPIRE", "t", "10"]);
    db.run(&["ZINCRBY", "t", "1", "a"]);
    assert_eq!(db.run(&["PTTL", "t"]), int(10), "changes keep the deadline");
}

/// ZUNIONSTORE and ZINTERSTORE on one shard: weights, aggregates, sets as
/// inputs with score 1, +inf plus -inf as 0, an empty result deleting the
/// destination, and the destination's old value and deadline replaced.
#[test]
fn store_union_and_intersection() {
    let mut node = Node::new(1);
    node.run(&["ZADD", "a", "1", "x", "2", "y", "3", "z"]);
    node.run(&["ZADD", "b", "10", "y", "20", "z", "30", "w"]);
    let range = |node: &mut Node| node.run(&["ZRANGE", "d", "0", "-1", "WITHSCORES"]);
    assert_eq!(node.run(&["ZUNIONSTORE", "d", "2", "a", "b"]), int(4));
    assert_eq!(
        range(&mut node),
        scored(&[("x", 1.0), ("y", 12.0), ("z", 23.0), ("w", 30.0)])
    );
    assert_eq!(
        node.run(&["ZINTERSTORE", "d", "2", "a", "b", "WEIGHTS", "2", "0.5"]),
        int(2)
    );
    assert_eq!(range(&mut node), scored(&[("y", 9.0), ("z", 16.0)]));
    assert_eq!(
        node.run(&["ZUNIONSTORE", "d", "2", "a", "b", "AGGREGATE", "MIN"]),
        int(4)
    );
    assert_eq!(
        range(&mut node),
        scored(&[("x", 1.0), ("y", 2.0), ("z", 3.0), ("w", 30.0)])
    );
    assert_eq!(
        node.run(&[
            "ZINTERSTORE",
            "d",
            "2",
            "a",
            "b",
            "AGGREGATE",
            "max",
            "WEIGHTS",
            "1",
            "-1"
        ]),
        int(2)
    );
    assert_eq!(range(&mut node), scored(&[("y", 2.0), ("z", 3.0)]));
    node.run(&["SADD", "plain", "x", "q"]);
    assert_eq!(
        node.run(&["ZINTERSTORE", "d", "2", "plain", "a", "WEIGHTS", "5", "1"]),
        int(1)
    );
    assert_eq!(range(&mut node), scored(&[("x", 6.0)]));
    node.run(&["ZADD", "inf", "inf", "p", "-inf", "n"]);
    node.run(&["ZADD", "ninf", "-inf", "p", "inf", "n"]);
    assert_eq!(node.run(&["ZUNIONSTORE", "d", "2", "inf", "ninf"]), int(2));
    assert_eq!(range(&mut node), scored(&[("n", 0.0), ("p", 0.0)]));
    assert_eq!(
        node.run(&["ZUNIONSTORE", "d", "1", "inf", "WEIGHTS", "0"]),
        int(2)
    );
    assert_eq!(
        range(&mut node),
        scored(&[("n", 0.0), ("p", 0.0)]),
        "0 * inf is 0"
    );
    assert_eq!(
        node.run(&["ZUNIONSTORE", "a", "1", "a", "WEIGHTS", "2"]),
        int(3),
        "destination as source"
    );
    assert_eq!(node.run(&["ZSCORE", "a", "z"]), double(6.0));
    node.run(&["SET", "d", "v"]);
    node.run(&["EXPIRE", "d", "100"]);
    assert_eq!(node.run(&["ZUNIONSTORE", "d", "1", "a"]), int(3));
    assert_eq!(
        node.run(&["TTL", "d"]),
        int(-1),
        "the stored result has no deadline"
    );
    assert_eq!(node.run(&["ZINTERSTORE", "d", "2", "a", "missing"]), int(0));
    assert_eq!(
        node.run(&["EXISTS", "d"]),
        int(0),
        "an empty result deletes the destination"
    );
}

/// ZUNIONSTORE's argument errors, and WRONGTYPE reported before an error in
/// WEIGHTS or AGGREGATE, as Redis reads them in that order.
#[test]
fn store_errors() {
    let mut node = Node::new(1);
    node.run(&["ZADD", "a", "1", "x"]);
    node.run(&["SET", "s", "v"]);
    let cases: &[(&[&str], &str)] = &[
        (
            &["ZUNIONSTORE", "d", "0", "a"],
            "ERR at least 1 input key is needed for 'zunionstore' command",
        ),
        (
            &["ZINTERSTORE", "d", "-1", "a"],
            "ERR at least 1 input key is needed for 'zinterstore' command",
        ),
        (&["ZUNIONSTORE", "d", "x", "a"], NOT_INTEGER),
        (&["ZUNIONSTORE", "d", "3", "a", "b"], SYNTAX),
        (&["ZUNIONSTORE", "d", "2", "a", "b", "WEIGHTS", "1"], SYNTAX),
        (
            &["ZUNIONSTORE", "d", "2", "a", "b", "WEIGHTS", "1", "x"],
            "ERR weight value is not a float",
        ),
        (
            &["ZUNIONSTORE", "d", "2", "a", "b", "AGGREGATE", "avg"],
            SYNTAX,
        ),
        (&["ZUNIONSTORE", "d", "2", "a", "b", "AGGREGATE"], SYNTAX),
        (&["ZUNIONSTORE", "d", "2", "a", "b", "WITHSCORES"], SYNTAX),
        (
            &["ZUNIONSTORE", "d", "2", "a", "s", "WEIGHTS", "x"],
            WRONGTYPE,
        ),
        (&["ZINTERSTORE", "d", "1", "s"], WRONGTYPE),
    ];
    for (line, expected) in cases {
        assert_eq!(node.run(line), err(expected), "{line:?}");
    }
    assert_eq!(node.run(&["EXISTS", "d"]), int(0));
}

/// ZUNIONSTORE and ZINTERSTORE whose keys live on different shards give
/// the same results as on one shard; WRONGTYPE on another shard stops them
/// before anything is stored.
#[test]
fn store_across_shards() {
    let mut node = Node::new(4);
    let (a, b, c) = (
        node.key_on(0, "a"),
        node.key_on(1, "b"),
        node.key_on(2, "c"),
    );
    let destination = node.key_on(3, "d");
    node.run(&["ZADD", &a, "1", "x", "2", "y", "3", "z"]);
    node.run(&["ZADD", &b, "10", "y", "20", "z", "30", "w"]);
    node.run(&["SADD", &c, "z", "q"]);
    assert_eq!(
        node.run(&[
            "ZUNIONSTORE",
            &destination,
            "3",
            &a,
            &b,
            &c,
            "WEIGHTS",
            "1",
            "1",
            "100"
        ]),
        int(5)
    );
    assert_eq!(
        node.run(&["ZRANGE", &destination, "0", "-1", "WITHSCORES"]),
        scored(&[
            ("x", 1.0),
            ("y", 12.0),
            ("w", 30.0),
            ("q", 100.0),
            ("z", 123.0)
        ])
    );
    assert_eq!(
        node.run(&[
            "ZINTERSTORE",
            &destination,
            "3",
            &a,
            &b,
            &c,
            "AGGREGATE",
            "MAX"
        ]),
        int(1)
    );
    assert_eq!(
        node.run(&["ZRANGE", &destination, "0", "-1", "WITHSCORES"]),
        scored(&[("z", 20.0)])
    );
    let string = node.key_on(2, "s");
    node.run(&["SET", &string, "v"]);
    assert_eq!(
        node.run(&["ZUNIONSTORE", &destination, "2", &a, &string]),
        err(WRONGTYPE)
    );
    assert_eq!(node.run(&["ZCARD", &destination]), int(1), "left as it was");
    assert_eq!(
        node.run(&["ZINTERSTORE", &destination, "2", &a, "missing"]),
        int(0)
    );
    assert_eq!(node.run(&["EXISTS", &destination]), int(0));
    // The destination doubles as a source on another shard than the others.
    node.run(&["ZADD", &destination, "5", "x"]);
    assert_eq!(
        node.run(&["ZUNIONSTORE", &destination, "2", &destination, &a]),
        int(3)
    );
    assert_eq!(node.run(&["ZSCORE", &destination, "x"]), double(6.0));
    assert_eq!(
        node.run(&["ZUNIONSTORE", &destination, "2", &a, &b, "AGGREGATE", "avg"]),
        err(SYNTAX)
    );
    let mut keys = vec![node.key_on(0, "e"), node.key_on(0, "f")];
    keys.push(node.key_on(0, "g"));
    node.run(&["ZADD", &keys[1], "1", "m"]);
    assert_eq!(
        node.run(&["ZUNIONSTORE", &keys[0], "2", &keys[1], &keys[2]]),
        int(1),
        "every key on one shard runs there whole"
    );
    assert_eq!(node.run(&["ZSCORE", &keys[0], "m"]), double(1.0));
}

/// Infinities are scores in every spelling strtod takes; NaN in any
/// spelling is refused and a ZADD with one NaN among its pairs adds
/// nothing; ZINCRBY and ZADD INCR refuse to make NaN from inf + -inf and
/// leave the score as it was.
#[test]
fn infinities_and_nan_in_scores() {
    let mut db = Db::new();
    for (spelling, member) in [
        ("inf", "a"),
        ("-inf", "b"),
        ("INF", "c"),
        ("-Infinity", "d"),
        ("infinity", "e"),
    ] {
        assert_eq!(
            db.run(&["ZADD", "z", spelling, member]),
            int(1),
            "{spelling}"
        );
    }
    for spelling in ["nan", "NaN", "-nan", "+nan"] {
        assert_eq!(
            db.run(&["ZADD", "z", spelling, "f"]),
            err(NOT_FLOAT),
            "{spelling}"
        );
    }
    assert_eq!(
        db.run(&["ZADD", "z", "1", "g", "inf", "h", "nan", "i"]),
        err(NOT_FLOAT)
    );
    assert_eq!(
        db.run(&["ZCARD", "z"]),
        int(5),
        "nothing of the refused ZADD"
    );
    assert_eq!(
        db.run(&["ZRANGE", "z", "0", "-1", "WITHSCORES"]),
        scored(&[
            ("b", f64::NEG_INFINITY),
            ("d", f64::NEG_INFINITY),
            ("a", f64::INFINITY),
            ("c", f64::INFINITY),
            ("e", f64::INFINITY),
        ])
    );
    let nan = "ERR resulting score is not a number (NaN)";
    assert_eq!(db.run(&["ZINCRBY", "z", "-inf", "a"]), err(nan));
    assert_eq!(db.run(&["ZINCRBY", "z", "inf", "b"]), err(nan));
    assert_eq!(db.run(&["ZADD", "z", "INCR", "-inf", "a"]), err(nan));
    assert_eq!(db.run(&["ZADD", "z", "INCR", "inf", "b"]), err(nan));
    assert_eq!(db.run(&["ZINCRBY", "z", "nan", "a"]), err(NOT_FLOAT));
    assert_eq!(db.run(&["ZADD", "z", "INCR", "nan", "a"]), err(NOT_FLOAT));
    assert_eq!(db.run(&["ZSCORE", "z", "a"]), double(f64::INFINITY));
    assert_eq!(db.run(&["ZSCORE", "z", "b"]), double(f64::NEG_INFINITY));
    assert_eq!(
        db.run(&["ZADD", "z", "INCR", "1", "a"]),
        double(f64::INFINITY)
    );
    assert_eq!(
        db.run(&["ZINCRBY", "z", "-inf", "new"]),
        double(f64::NEG_INFINITY)
    );
    assert!(!exists(&mut db, "missing"));
}

/// Score ranges at the infinities: an inclusive infinite bound takes the
/// members stored at it, an exclusive one leaves them out, and ZREMRANGEBYSCORE
/// removes exactly what ZCOUNT counts.
#[test]
fn score_ranges_at_the_infinities() {
    let mut db = Db::new();
    db.run(&[
        "ZADD", "z", "-inf", "b", "-inf", "d", "1", "one", "inf", "a", "inf", "c",
    ]);
    let counts = [
        ("-inf", "+inf", 5),
        ("(-inf", "(+inf", 1),
        ("-inf", "-inf", 2),
        ("+inf", "+inf", 2),
        ("(inf", "+inf", 0),
        ("inf", "inf", 2),
        ("-inf", "1e309", 5),
    ];
    for (min, max, expected) in counts {
        assert_eq!(
            db.run(&["ZCOUNT", "z", min, max]),
            int(expected),
            "{min} {max}"
        );
    }
    assert_eq!(
        db.run(&["ZRANGEBYSCORE", "z", "-inf", "-inf"]),
        members(&["b", "d"])
    );
    assert_eq!(
        db.run(&["ZRANGEBYSCORE", "z", "(-inf", "(inf"]),
        members(&["one"])
    );
    assert_eq!(
        db.run(&["ZRANGEBYSCORE", "z", "+inf", "-inf"]),
        members(&[])
    );
    assert_eq!(
        db.run(&["ZREVRANGEBYSCORE", "z", "+inf", "-inf", "LIMIT", "1", "3"]),
        members(&["a", "one", "d"])
    );
    assert_eq!(
        db.run(&["ZRANGEBYSCORE", "z", "(0", "+inf"]),
        members(&["one", "a", "c"])
    );
    assert_eq!(
        db.run(&["ZRANGEBYSCORE", "z", "0x1p-1", "+inf"]),
        members(&["one", "a", "c"]),
        "hexadecimal floats as strtod reads them"
    );
    for bad in ["nan", "((", "[1"] {
        assert_eq!(
            db.run(&["ZRANGEBYSCORE", "z", bad, "+inf"]),
            err(RANGE_NOT_FLOAT),
            "{bad}"
        );
    }
    assert_eq!(db.run(&["ZREMRANGEBYSCORE", "z", "(inf", "inf"]), int(0));
    assert_eq!(db.run(&["ZREMRANGEBYSCORE", "z", "-inf", "-inf"]), int(2));
    assert_eq!(db.run(&["ZREMRANGEBYSCORE", "z", "inf", "inf"]), int(2));
    assert_eq!(db.run(&["ZRANGE", "z", "0", "-1"]), members(&["one"]));
}

/// ZADD's conflicting flags in any order and case: NX with XX is reported
/// first, then GT, LT and NX together; both come before a bad score and
/// before INCR's single pair rule; repeated or compatible flags are fine.
#[test]
fn zadd_flag_conflicts() {
    let mut db = Db::new();
    db.run(&["ZADD", "z", "1", "a"]);
    let nx_xx = "ERR XX and NX options at the same time are not compatible";
    let gt_lt_nx = "ERR GT, LT, and/or NX options at the same time are not compatible";
    let incr_pair = "ERR INCR option supports a single increment-element pair";
    let cases: &[(&[&str], &str)] = &[
        (&["NX", "XX", "1", "a"], nx_xx),
        (&["XX", "NX", "1", "a"], nx_xx),
        (&["Nx", "xX", "1", "a"], nx_xx),
        (&["GT", "LT", "1", "a"], gt_lt_nx),
        (&["LT", "GT", "1", "a"], gt_lt_nx),
        (&["GT", "NX", "1", "a"], gt_lt_nx),
        (&["LT", "NX", "1", "a"], gt_lt_nx),
        (&["NX", "LT", "1", "a"], gt_lt_nx),
        (&["GT", "LT", "NX", "1", "a"], gt_lt_nx),
        (&["NX", "XX", "GT", "LT", "1", "a"], nx_xx),
        (&["INCR", "GT", "LT", "1", "a"], gt_lt_nx),
        (&["INCR", "NX", "XX", "1", "a"], nx_xx),
        (&["INCR", "1", "a", "2", "b"], incr_pair),
        (&["NX", "XX", "INCR", "1", "a", "2", "b"], nx_xx),
        (&["GT", "LT", "INCR", "1", "a", "2", "b"], gt_lt_nx),
        (&["NX", "XX", "nan", "a"], nx_xx),
        (&["GT", "LT", "nan", "a"], gt_lt_nx),
        (&["nan", "a", "NX", "XX"], NOT_FLOAT),
        (&["INCR", "1", "a", "2"], SYNTAX),
        (&["CH", "1"], SYNTAX),
    ];
    for (options, expected) in cases {
        let mut line = vec!["ZADD", "z"];
        line.extend_from_slice(options);
        assert_eq!(db.run(&line), err(expected), "{line:?}");
    }
    assert_eq!(db.run(&["ZADD", "z", "XX", "GT", "0", "a"]), int(0));
    assert_eq!(db.run(&["ZADD", "z", "XX", "LT", "CH", "0", "a"]), int(1));
    assert_eq!(db.run(&["ZADD", "z", "GT", "GT", "1", "b"]), int(1));
    assert_eq!(
        db.run(&["ZADD", "z", "INCR", "INCR", "1", "a"]),
        double(1.0)
    );
    assert_eq!(db.run(&["ZADD", "z", "nx", "5", "a"]), int(0));
    assert_eq!(
        db.run(&["ZMSCORE", "z", "a", "b"]),
        Reply::Array(vec![double(1.0), double(1.0)])
    );
}

/// Rank ranges down to the extreme i64 values, single-rank ranges at both
/// ends, and ZREMRANGEBYRANK clipping the same way and deleting the key
/// with its last member.
#[test]
fn rank_ranges_past_the_end() {
    let mut db = Db::new();
    five(&mut db);
    let (min, max) = ("-9223372036854775808", "9223372036854775807");
    let all = ["one", "two", "three", "four", "five"];
    let cases: &[(&[&str], &[&str])] = &[
        (&["ZRANGE", "r", min, max], &all),
        (&["ZRANGE", "r", max, min], &[]),
        (&["ZRANGE", "r", "-5", "-5"], &["one"]),
        (&["ZRANGE", "r", "-6", "-5"], &["one"]),
        (&["ZRANGE", "r", "4", "4"], &["five"]),
        (&["ZRANGE", "r", "5", "5"], &[]),
        (&["ZRANGE", "r", "4", "100", "REV"], &["one"]),
        (&["ZRANGE", "r", "-1", "-100"], &[]),
        (
            &["ZREVRANGE", "r", min, max],
            &["five", "four", "three", "two", "one"],
        ),
        (&["ZREVRANGE", "r", "5", "10"], &[]),
        (&["ZREVRANGE", "r", "-2", "-1"], &["two", "one"]),
    ];
    for (line, expected) in cases {
        assert_eq!(db.run(line), members(expected), "{line:?}");
    }
    assert_eq!(
        db.run(&["ZRANGE", "r", "-100", "-5", "REV", "WITHSCORES"]),
        scored(&[("five", 5.0)])
    );
    assert_eq!(db.run(&["ZRANGE", "r", "1.5", "2"]), err(NOT_INTEGER));
    assert_eq!(db.run(&["ZREMRANGEBYRANK", "r", "-100", "-5"]), int(1));
    assert_eq!(db.run(&["ZREMRANGEBYRANK", "r", "-1", "-100"]), int(0));
    assert_eq!(db.run(&["ZREMRANGEBYRANK", "r", max, min]), int(0));
    assert_eq!(db.run(&["ZREMRANGEBYRANK", "r", min, "0"]), int(1));
    assert_eq!(
        db.run(&["ZRANGE", "r", "0", "-1"]),
        members(&["three", "four", "five"])
    );
    assert_eq!(db.run(&["ZREMRANGEBYRANK", "r", "100", "200"]), int(0));
    assert_eq!(db.run(&["ZREMRANGEBYRANK", "r", "-2", max]), int(2));
    assert!(exists(&mut db, "r"));
    assert_eq!(db.run(&["ZREMRANGEBYRANK", "r", "0", "-1"]), int(1));
    assert!(!exists(&mut db, "r"));
    assert_eq!(
        db.run(&["ZREMRANGEBYRANK", "r", "1", "1.5"]),
        err(NOT_INTEGER)
    );
}

/// Lexicographic bounds at their edges: `[` and `(` alone bound at the
/// empty string, `[+` and `[-` are the literal strings "+" and "-", REV
/// takes max first, LIMIT's odd values, and every malformed bound (no
/// prefix, another prefix, a doubled `+` or `-`, empty) is refused even
/// when the key is missing.
#[test]
fn lexicographic_bound_edges() {
    let mut db = Db::new();
    db.run(&[
        "ZADD", "x", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e", "0", "", "0", "aa",
    ]);
    let all = ["", "a", "aa", "b", "c", "d", "e"];
    let cases: &[(&[&str], &[&str])] = &[
        (&["ZRANGEBYLEX", "x", "[", "+"], &all),
        (&["ZRANGEBYLEX", "x", "(", "+"], &all[1..]),
        (&["ZRANGEBYLEX", "x", "-", "["], &[""]),
        (&["ZRANGEBYLEX", "x", "-", "("], &[]),
        (&["ZRANGEBYLEX", "x", "[", "["], &[""]),
        (&["ZRANGEBYLEX", "x", "[a", "(b"], &["a", "aa"]),
        (&["ZRANGEBYLEX", "x", "(a", "[b"], &["aa", "b"]),
        (&["ZRANGEBYLEX", "x", "+", "+"], &[]),
        (&["ZRANGEBYLEX", "x", "[+", "+"], &all[1..]),
        (&["ZRANGEBYLEX", "x", "[-", "+"], &all[1..]),
        (&["ZRANGEBYLEX", "x", "(-", "+"], &all[1..]),
        (&["ZRANGEBYLEX", "x", "-", "[e", "LIMIT", "0", "-1"], &all),
        (&["ZRANGEBYLEX", "x", "-", "[e", "LIMIT", "-1", "2"], &[]),
        (&["ZRANGEBYLEX", "x", "-", "[e", "LIMIT", "2", "0"], &[]),
        (&["ZRANGEBYLEX", "x", "-", "[e", "LIMIT", "100", "1"], &[]),
        (
            &["ZREVRANGEBYLEX", "x", "+", "-"],
            &["e", "d", "c", "b", "aa", "a", ""],
        ),
        (&["ZREVRANGEBYLEX", "x", "-", "+"], &[]),
        (&["ZREVRANGEBYLEX", "x", "[c", "[a"], &["c", "b", "aa", "a"]),
        (&["ZREVRANGEBYLEX", "x", "[a", "[c"], &[]),
        (
            &["ZREVRANGEBYLEX", "x", "(c", "(", "LIMIT", "0", "2"],
            &["b", "aa"],
        ),
        (
            &["ZREVRANGEBYLEX", "x", "[c", "-", "LIMIT", "1", "-1"],
            &["b", "aa", "a", ""],
        ),
        (
            &["ZRANGE", "x", "[d", "[b", "BYLEX", "REV", "LIMIT", "1", "1"],
            &["c"],
        ),
        (
            &["ZRANGE", "x", "[b", "[d", "BYLEX", "LIMIT", "1", "5"],
            &["c", "d"],
        ),
        (&["ZRANGEBYLEX", "missing", "-", "+"], &[]),
    ];
    for (line, expected) in cases {
        assert_eq!(db.run(line), members(expected), "{line:?}");
    }
    for (min, max) in [
        ("a", "+"),
        ("[a", "a"),
        ("{a", "+"),
        ("++", "+"),
        ("-", "--"),
        ("", "+"),
    ] {
        assert_eq!(
            db.run(&["ZRANGEBYLEX", "x", min, max]),
            err(LEX_INVALID),
            "{min:?} {max:?}"
        );
    }
    for line in [
        &["ZRANGEBYLEX", "missing", "a", "+"][..],
        &["ZREMRANGEBYLEX", "missing", "a", "+"],
        &["ZLEXCOUNT", "x", "a", "+"],
        &["ZRANGE", "x", "b", "d", "BYLEX"],
    ] {
        assert_eq!(db.run(line), err(LEX_INVALID), "{line:?}");
    }
    assert_eq!(
        db.run(&["ZRANGEBYLEX", "x", "-", "[e", "LIMIT", "1"]),
        err(SYNTAX)
    );
    assert_eq!(
        db.run(&["ZRANGEBYLEX", "x", "-", "[e", "LIMIT", "x", "1"]),
        err(NOT_INTEGER)
    );
    assert_eq!(db.run(&["ZLEXCOUNT", "x", "[", "+"]), int(7));
    assert_eq!(db.run(&["ZLEXCOUNT", "x", "(", "+"]), int(6));
    assert_eq!(db.run(&["ZLEXCOUNT", "x", "(a", "(b"]), int(1));
    assert_eq!(db.run(&["ZLEXCOUNT", "x", "[a", "[aa"]), int(2));
    assert_eq!(db.run(&["ZLEXCOUNT", "x", "+", "-"]), int(0));
    assert_eq!(db.run(&["ZREMRANGEBYLEX", "x", "(", "[a"]), int(1));
    assert_eq!(db.run(&["ZREMRANGEBYLEX", "x", "+", "-"]), int(0));
    assert_eq!(db.run(&["ZREMRANGEBYLEX", "x", "[e", "+"]), int(1));
    assert_eq!(db.run(&["ZREMRANGEBYLEX", "missing", "-", "+"]), int(0));
    assert_eq!(
        db.run(&["ZRANGE", "x", "0", "-1"]),
        members(&["", "aa", "b", "c", "d"])
    );
}
