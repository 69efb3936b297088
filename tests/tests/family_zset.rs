//! Proves the sorted set commands answer through the redis crate as Redis 7
//! does: ZADD's options, the ZRANGE forms (by rank, BYSCORE, BYLEX, REV,
//! LIMIT, WITHSCORES), ranks, pops, infinities, a leaderboard of many
//! members, and ZUNIONSTORE/ZINTERSTORE with WEIGHTS and AGGREGATE over
//! keys on both shards of a two-core server. Run with
//! PETREL_E2E_TARGET=redis to check the expectations against redis-server.

use petrel_e2e::{key_on_shard, query, query_error, Server};
use redis::Value;

fn scored(con: &mut redis::Connection, key: &str) -> Vec<(String, f64)> {
    query(con, &["ZRANGE", key, "0", "-1", "WITHSCORES"])
}

fn pairs(items: &[(&str, f64)]) -> Vec<(String, f64)> {
    items
        .iter()
        .map(|(member, score)| ((*member).to_owned(), *score))
        .collect()
}

// Three inputs, one on shard 0 and two on shard 1 (one of them a plain set,
// whose members score 1), stored into destinations on either shard: sums
// with WEIGHTS, MIN and MAX aggregates, the intersection, and an empty
// result deleting the destination.
#[test]
fn union_and_intersection_store_across_shards() {
    let server = Server::start_default();
    let mut con = server.client();
    let a = key_on_shard("za", 0, 2);
    let b = key_on_shard("zb", 1, 2);
    let c = key_on_shard("sc", 1, 2);
    query::<i64>(&mut con, &["ZADD", &a, "1", "x", "2", "y", "3", "z"]);
    query::<i64>(&mut con, &["ZADD", &b, "10", "y", "20", "z", "30", "w"]);
    query::<i64>(&mut con, &["SADD", &c, "z", "q"]);
    for shard in [0, 1] {
        let d = key_on_shard("dest", shard, 2);
        assert_eq!(
            query::<i64>(
                &mut con,
                &[
                    "ZUNIONSTORE",
                    &d,
                    "3",
                    &a,
                    &b,
                    &c,
                    "WEIGHTS",
                    "2",
                    "1",
                    "100"
                ]
            ),
            5
        );
        assert_eq!(
            scored(&mut con, &d),
            pairs(&[
                ("x", 2.0),
                ("y", 14.0),
                ("w", 30.0),
                ("q", 100.0),
                ("z", 126.0)
            ])
        );
        assert_eq!(
            query::<i64>(
                &mut con,
                &["ZUNIONSTORE", &d, "2", &a, &b, "AGGREGATE", "MIN"]
            ),
            4
        );
        assert_eq!(
            scored(&mut con, &d),
            pairs(&[("x", 1.0), ("y", 2.0), ("z", 3.0), ("w", 30.0)])
        );
        assert_eq!(
            query::<i64>(
                &mut con,
                &["ZINTERSTORE", &d, "3", &a, &b, &c, "AGGREGATE", "MAX"]
            ),
            1
        );
        assert_eq!(scored(&mut con, &d), pairs(&[("z", 20.0)]));
        assert_eq!(
            query::<i64>(
                &mut con,
                &["ZINTERSTORE", &d, "2", &a, &b, "WEIGHTS", "1", "-1"]
            ),
            2
        );
        assert_eq!(scored(&mut con, &d), pairs(&[("z", -17.0), ("y", -8.0)]));
        assert_eq!(
            query::<i64>(&mut con, &["ZINTERSTORE", &d, "2", &a, "nothing"]),
            0
        );
        assert_eq!(query::<i64>(&mut con, &["EXISTS", &d]), 0);
    }
    let string = key_on_shard("str", 1, 2);
    query::<String>(&mut con, &["SET", &string, "v"]);
    assert_eq!(
        query_error(&mut con, &["ZUNIONSTORE", &a, "2", &a, &string]),
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );
    assert_eq!(query::<i64>(&mut con, &["ZCARD", &a]), 3, "left as it was");
    assert_eq!(
        query_error(
            &mut con,
            &["ZUNIONSTORE", &a, "2", &a, &b, "WEIGHTS", "1", "x"]
        ),
        "ERR weight value is not a float"
    );
}

// ZADD with NX, XX, GT, LT, CH and INCR; its flag conflicts in Redis's
// words; infinities as scores, NaN refused, inf + -inf refused as NaN.
#[test]
fn zadd_options_and_scores() {
    let server = Server::start_default();
    let mut con = server.client();
    assert_eq!(
        query::<i64>(&mut con, &["ZADD", "z", "1", "a", "2", "b"]),
        2
    );
    assert_eq!(
        query::<i64>(&mut con, &["ZADD", "z", "NX", "9", "a", "3", "c"]),
        1
    );
    assert_eq!(
        query::<i64>(&mut con, &["ZADD", "z", "XX", "CH", "5", "a", "4", "d"]),
        1
    );
    assert_eq!(
        query::<i64>(&mut con, &["ZADD", "z", "GT", "CH", "1", "a", "7", "b"]),
        1
    );
    assert_eq!(
        query::<i64>(&mut con, &["ZADD", "z", "LT", "CH", "1", "a", "9", "b"]),
        1
    );
    assert_eq!(
        query::<f64>(&mut con, &["ZADD", "z", "INCR", "2.5", "a"]),
        3.5
    );
    assert_eq!(
        query::<Value>(&mut con, &["ZADD", "z", "NX", "INCR", "1", "a"]),
        Value::Nil
    );
    assert_eq!(
        scored(&mut con, "z"),
        pairs(&[("c", 3.0), ("a", 3.5), ("b", 7.0)])
    );
    assert_eq!(
        query_error(&mut con, &["ZADD", "z", "NX", "XX", "1", "a"]),
        "ERR XX and NX options at the same time are not compatible"
    );
    assert_eq!(
        query_error(&mut con, &["ZADD", "z", "GT", "LT", "1", "a"]),
        "ERR GT, LT, and/or NX options at the same time are not compatible"
    );
    assert_eq!(
        query_error(&mut con, &["ZADD", "z", "NX", "GT", "1", "a"]),
        "ERR GT, LT, and/or NX options at the same time are not compatible"
    );
    assert_eq!(
        query_error(&mut con, &["ZADD", "z", "INCR", "1", "a", "2", "b"]),
        "ERR INCR option supports a single increment-element pair"
    );
    assert_eq!(
        query_error(&mut con, &["ZADD", "z", "nan", "a"]),
        "ERR value is not a valid float"
    );
    assert_eq!(
        query::<i64>(&mut con, &["ZADD", "z", "inf", "top", "-inf", "bottom"]),
        2
    );
    assert_eq!(query::<String>(&mut con, &["ZSCORE", "z", "top"]), "inf");
    assert_eq!(
        query::<String>(&mut con, &["ZSCORE", "z", "bottom"]),
        "-inf"
    );
    assert_eq!(
        query_error(&mut con, &["ZINCRBY", "z", "-inf", "top"]),
        "ERR resulting score is not a number (NaN)"
    );
    assert_eq!(query::<i64>(&mut con, &["ZCOUNT", "z", "(-inf", "(inf"]), 3);
    assert_eq!(query::<i64>(&mut con, &["ZCOUNT", "z", "-inf", "+inf"]), 5);
}

// The ZRANGE forms: by rank from either end, BYSCORE with exclusive bounds
// and LIMIT, BYLEX with [ ( - +, REV, the legacy commands, ranks, pops,
// and the range removals; the emptied key is deleted.
#[test]
fn ranges_ranks_and_pops() {
    let server = Server::start_default();
    let mut con = server.client();
    query::<i64>(
        &mut con,
        &[
            "ZADD", "r", "1", "one", "2", "two", "3", "three", "4", "four", "5", "five",
        ],
    );
    let range = |con: &mut redis::Connection, args: &[&str]| -> Vec<String> {
        let mut line = vec!["ZRANGE", "r"];
        line.extend_from_slice(args);
        query(con, &line)
    };
    assert_eq!(range(&mut con, &["-2", "100"]), ["four", "five"]);
    assert_eq!(range(&mut con, &["0", "1", "REV"]), ["five", "four"]);
    assert!(range(&mut con, &["3", "1"]).is_empty());
    assert_eq!(range(&mut con, &["(1", "3", "BYSCORE"]), ["two", "three"]);
    assert_eq!(
        range(
            &mut con,
            &["+inf", "(2", "BYSCORE", "REV", "LIMIT", "1", "2"]
        ),
        ["four", "three"]
    );
    assert_eq!(
        query::<Vec<(String, f64)>>(&mut con, &["ZRANGEBYSCORE", "r", "2", "3", "WITHSCORES"]),
        pairs(&[("two", 2.0), ("three", 3.0)])
    );
    assert_eq!(
        query::<Vec<String>>(&mut con, &["ZREVRANGEBYSCORE", "r", "4", "(2"]),
        ["four", "three"]
    );
    query::<i64>(
        &mut con,
        &["ZADD", "lex", "0", "a", "0", "b", "0", "c", "0", "d"],
    );
    assert_eq!(
        query::<Vec<String>>(&mut con, &["ZRANGEBYLEX", "lex", "[b", "(d"]),
        ["b", "c"]
    );
    assert_eq!(
        query::<Vec<String>>(&mut con, &["ZRANGE", "lex", "+", "(b", "BYLEX", "REV"]),
        ["d", "c"]
    );
    assert_eq!(
        query_error(&mut con, &["ZRANGEBYLEX", "lex", "b", "+"]),
        "ERR min or max not valid string range item"
    );
    assert_eq!(query::<i64>(&mut con, &["ZLEXCOUNT", "lex", "-", "+"]), 4);
    assert_eq!(query::<i64>(&mut con, &["ZRANK", "r", "three"]), 2);
    assert_eq!(query::<i64>(&mut con, &["ZREVRANK", "r", "three"]), 2);
    assert_eq!(
        query::<Value>(&mut con, &["ZRANK", "r", "nope"]),
        Value::Nil
    );
    assert_eq!(
        query::<(String, f64)>(&mut con, &["ZPOPMIN", "r"]),
        ("one".to_owned(), 1.0)
    );
    assert_eq!(
        query::<Vec<(String, f64)>>(&mut con, &["ZPOPMAX", "r", "2"]),
        pairs(&[("five", 5.0), ("four", 4.0)])
    );
    assert_eq!(
        query::<i64>(&mut con, &["ZREMRANGEBYRANK", "r", "-1", "-1"]),
        1
    );
    assert_eq!(
        query::<i64>(&mut con, &["ZREMRANGEBYSCORE", "r", "-inf", "+inf"]),
        1
    );
    assert_eq!(query::<i64>(&mut con, &["EXISTS", "r"]), 0);
    assert_eq!(
        query::<i64>(&mut con, &["ZREMRANGEBYLEX", "lex", "-", "+"]),
        4
    );
    assert_eq!(query::<i64>(&mut con, &["EXISTS", "lex"]), 0);
}

// A leaderboard of 2,000 players with scores written in one pipeline: the
// top ten by ZRANGE REV, ranks, ZCOUNT and a full ZSCAN agree with the
// scores the test wrote.
#[test]
fn leaderboard_of_many_members() {
    let server = Server::start_default();
    let mut con = server.client();
    let score = |player: u64| (player * 7919) % 10_007;
    let mut pipe = redis::pipe();
    for player in 0..2000u64 {
        pipe.cmd("ZADD")
            .arg("board")
            .arg(score(player))
            .arg(format!("p{player}"))
            .ignore();
    }
    pipe.query::<()>(&mut con).expect("pipelined ZADD");
    let mut expected: Vec<(u64, String)> = (0..2000u64)
        .map(|player| (score(player), format!("p{player}")))
        .collect();
    expected.sort_by(|left, right| right.cmp(left));
    let top: Vec<(String, f64)> = query(
        &mut con,
        &["ZRANGE", "board", "0", "9", "REV", "WITHSCORES"],
    );
    let want: Vec<(String, f64)> = expected[..10]
        .iter()
        .map(|(score, member)| (member.clone(), *score as f64))
        .collect();
    assert_eq!(top, want);
    let (_, last) = &expected[1999];
    assert_eq!(query::<i64>(&mut con, &["ZRANK", "board", last]), 0);
    assert_eq!(
        query::<i64>(&mut con, &["ZREVRANK", "board", &expected[0].1]),
        0
    );
    let under_5000 = expected.iter().filter(|(score, _)| *score < 5000).count();
    assert_eq!(
        query::<usize>(&mut con, &["ZCOUNT", "board", "-inf", "(5000"]),
        under_5000
    );
    let scanned: Vec<(String, f64)> = redis::Commands::zscan::<_, (String, f64)>(&mut con, "board")
        .expect("ZSCAN")
        .collect();
    assert_eq!(scanned.len(), 2000, "each member once");
}
