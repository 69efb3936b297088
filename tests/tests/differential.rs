//! Proves the data-type commands answer exactly as redis-server 7 does on
//! command lines nobody wrote by hand: starts Petrel and redis-server side
//! by side, sends both the same seeded random sequence of hash, list, set,
//! sorted-set and key commands over a few keys (so types collide, keys
//! empty out and come back, indexes fall past the ends, scores hit the
//! infinities and NaN) and compares every reply byte for byte, except the
//! order of the hash and set replies Redis leaves unspecified, in RESP2 and
//! in RESP3. Lexicographic ranges run on keys whose scores are all equal,
//! as Redis requires for a defined answer. A failure names the seed, the
//! step, both replies and the commands before it.

use petrel_e2e::{skip_under_redis, Config, RawConn, Reply, Server, Target};

/// A small deterministic generator (xorshift64*), so a failing seed replays.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const KEYS: &[&str] = &["k1", "k2", "k3"];
const LEX_KEYS: &[&str] = &["x1", "x2"];
const MEMBERS: &[&str] = &["a", "b", "c", "d", "", "aa", "1", "2", "-1", "ab", "b0"];
const INDEXES: &[&str] = &[
    "0",
    "1",
    "-1",
    "2",
    "-2",
    "3",
    "5",
    "-5",
    "100",
    "-100",
    "x",
    "1.5",
    "9223372036854775807",
    "-9223372036854775808",
];
const SCORES: &[&str] = &[
    "0", "1", "-1", "2.5", "inf", "-inf", "+inf", "(1", "(2", "nan", "1e3", "-0", "0x10", "(-inf",
];
const LEX: &[&str] = &[
    "-", "+", "[a", "(a", "[b", "(c", "[", "(", "a", "[aa", "(d", "[ab", "(b0",
];

/// Replies whose element order Redis does not define.
const UNORDERED: &[&str] = &[
    "HGETALL", "HKEYS", "HVALS", "SMEMBERS", "SINTER", "SUNION", "SDIFF",
];

fn command(random: &mut Random) -> Vec<String> {
    let key = |random: &mut Random| random.pick(KEYS).to_owned();
    let member = |random: &mut Random| random.pick(MEMBERS).to_owned();
    let index = |random: &mut Random| random.pick(INDEXES).to_owned();
    let score = |random: &mut Random| random.pick(SCORES).to_owned();
    let lex = |random: &mut Random| random.pick(LEX).to_owned();
    let lex_key = |random: &mut Random| random.pick(LEX_KEYS).to_owned();
    let side = |random: &mut Random| random.pick(&["LEFT", "RIGHT"]).to_owned();
    let r = random;
    let words: Vec<String> = match r.below(62) {
        0 => vec!["LPUSH".into(), key(r), member(r), member(r)],
        1 => vec!["RPUSH".into(), key(r), member(r)],
        2 => vec!["LPUSHX".into(), key(r), member(r)],
        3 => vec!["LPOP".into(), key(r)],
        4 => vec!["RPOP".into(), key(r), index(r)],
        5 => vec!["LRANGE".into(), key(r), index(r), index(r)],
        6 => vec!["LINDEX".into(), key(r), index(r)],
        7 => vec!["LSET".into(), key(r), index(r), member(r)],
        8 => vec!["LTRIM".into(), key(r), index(r), index(r)],
        9 => vec!["LREM".into(), key(r), index(r), member(r)],
        10 => vec![
            "LINSERT".into(),
            key(r),
            r.pick(&["BEFORE", "AFTER"]).into(),
            member(r),
            member(r),
        ],
        11 => vec![
            "LPOS".into(),
            key(r),
            member(r),
            "RANK".into(),
            index(r),
            "COUNT".into(),
            index(r),
            "MAXLEN".into(),
            index(r),
        ],
        12 => vec!["LMOVE".into(), key(r), key(r), side(r), side(r)],
        13 => vec!["RPOPLPUSH".into(), key(r), key(r)],
        14 => {
            let mut line = vec!["ZADD".to_owned(), key(r)];
            for _ in 0..r.below(3) {
                line.push(r.pick(&["NX", "XX", "GT", "LT", "CH", "INCR"]).into());
            }
            line.extend([score(r), member(r)]);
            line
        }
        15 => vec![
            "ZADD".into(),
            key(r),
            score(r),
            member(r),
            score(r),
            member(r),
        ],
        16 => vec!["ZINCRBY".into(), key(r), score(r), member(r)],
        17 => vec!["ZREM".into(), key(r), member(r)],
        18 => vec!["ZMSCORE".into(), key(r), member(r), member(r)],
        19 => vec!["ZCOUNT".into(), key(r), score(r), score(r)],
        20 => vec![
            "ZRANGE".into(),
            key(r),
            index(r),
            index(r),
            "WITHSCORES".into(),
        ],
        21 => vec!["ZRANGE".into(), key(r), index(r), index(r), "REV".into()],
        22 => vec![
            "ZRANGE".into(),
            key(r),
            score(r),
            score(r),
            "BYSCORE".into(),
            "LIMIT".into(),
            index(r),
            index(r),
        ],
        23 => vec![
            "ZREVRANGEBYSCORE".into(),
            key(r),
            score(r),
            score(r),
            "WITHSCORES".into(),
        ],
        24 => vec!["ZRANK".into(), key(r), member(r)],
        25 => vec!["ZREVRANK".into(), key(r), member(r)],
        26 => vec!["ZPOPMIN".into(), key(r)],
        27 => vec!["ZPOPMAX".into(), key(r), index(r)],
        28 => vec!["ZREMRANGEBYRANK".into(), key(r), index(r), index(r)],
        29 => vec!["ZREMRANGEBYSCORE".into(), key(r), score(r), score(r)],
        30 => {
            let mut line = vec![
                r.pick(&["ZUNIONSTORE", "ZINTERSTORE"]).to_owned(),
                key(r),
                "2".into(),
                key(r),
                key(r),
            ];
            match r.below(3) {
                0 => line.extend(["WEIGHTS".into(), score(r), score(r)]),
                1 => line.extend(["AGGREGATE".into(), r.pick(&["MIN", "MAX", "SUM"]).into()]),
                _ => {}
            }
            line
        }
        31 => vec!["HSET".into(), key(r), member(r), index(r)],
        32 => vec!["HSETNX".into(), key(r), member(r), member(r)],
        33 => vec!["HMGET".into(), key(r), member(r), member(r)],
        34 => vec!["HDEL".into(), key(r), member(r), member(r)],
        35 => vec!["HSTRLEN".into(), key(r), member(r)],
        36 => vec!["HINCRBY".into(), key(r), member(r), index(r)],
        37 => vec!["HINCRBYFLOAT".into(), key(r), member(r), score(r)],
        38 => vec!["HGETALL".into(), key(r)],
        39 => vec!["HKEYS".into(), key(r)],
        40 => vec!["HLEN".into(), key(r)],
        41 => vec!["SADD".into(), key(r), member(r), member(r)],
        42 => vec!["SREM".into(), key(r), member(r)],
        43 => vec!["SMISMEMBER".into(), key(r), member(r), member(r)],
        44 => vec!["SMEMBERS".into(), key(r)],
        45 => vec!["SMOVE".into(), key(r), key(r), member(r)],
        46 => vec![
            r.pick(&["SINTER", "SUNION", "SDIFF"]).to_owned(),
            key(r),
            key(r),
        ],
        47 => vec![
            r.pick(&["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"])
                .to_owned(),
            key(r),
            key(r),
            key(r),
        ],
        48 => vec![
            "SINTERCARD".into(),
            "2".into(),
            key(r),
            key(r),
            "LIMIT".into(),
            index(r),
        ],
        49 => vec!["SCARD".into(), key(r)],
        50 => vec!["TYPE".into(), key(r)],
        51 => vec!["OBJECT".into(), "ENCODING".into(), key(r)],
        52 => vec!["DEL".into(), key(r)],
        53 => vec!["SET".into(), key(r), index(r)],
        54 => vec!["LLEN".into(), key(r)],
        55 => vec!["ZADD".into(), lex_key(r), "0".into(), member(r)],
        56 => vec!["ZREM".into(), lex_key(r), member(r)],
        57 => vec!["ZLEXCOUNT".into(), lex_key(r), lex(r), lex(r)],
        58 => vec!["ZRANGEBYLEX".into(), lex_key(r), lex(r), lex(r)],
        59 => vec![
            "ZREVRANGEBYLEX".into(),
            lex_key(r),
            lex(r),
            lex(r),
            "LIMIT".into(),
            index(r),
            index(r),
        ],
        60 => vec![
            "ZRANGE".into(),
            lex_key(r),
            lex(r),
            lex(r),
            "BYLEX".into(),
            "REV".into(),
        ],
        _ => vec!["ZREMRANGEBYLEX".into(), lex_key(r), lex(r), lex(r)],
    };
    words
}

/// The reply with the element order of unordered replies made canonical.
fn canonical(name: &str, reply: Reply) -> Reply {
    if !UNORDERED.contains(&name) {
        return reply;
    }
    match reply {
        Reply::Array(items) if name == "HGETALL" => {
            let mut pairs: Vec<Vec<Reply>> = items.chunks(2).map(<[Reply]>::to_vec).collect();
            pairs.sort_by_key(|pair| format!("{pair:?}"));
            Reply::Array(pairs.into_iter().flatten().collect())
        }
        Reply::Array(mut items) => {
            items.sort_by_key(|item| format!("{item:?}"));
            Reply::Array(items)
        }
        Reply::Set(mut items) => {
            items.sort_by_key(|item| format!("{item:?}"));
            Reply::Set(items)
        }
        Reply::Map(mut pairs) => {
            pairs.sort_by_key(|pair| format!("{pair:?}"));
            Reply::Map(pairs)
        }
        other => other,
    }
}

fn run_seed(seed: u64, steps: usize, petrel: &mut RawConn, redis: &mut RawConn) {
    assert_eq!(petrel.command(&["FLUSHALL"]), Reply::simple("OK"));
    assert_eq!(redis.command(&["FLUSHALL"]), Reply::simple("OK"));
    let mut random = Random(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut history: Vec<String> = Vec::new();
    for step in 0..steps {
        let line = command(&mut random);
        let words: Vec<&str> = line.iter().map(String::as_str).collect();
        let expected = canonical(words[0], redis.command(&words));
        let answered = canonical(words[0], petrel.command(&words));
        history.push(words.join(" "));
        if answered != expected {
            let recent = history[history.len().saturating_sub(15)..].join("\n  ");
            panic!(
                "seed {seed}, step {step}: {words:?}\n  redis-server: {expected:?}\n  petrel:       {answered:?}\nthe last commands:\n  {recent}"
            );
        }
    }
}

// Six seeds of 2,000 commands each answer the same on Petrel (two
// shards) as on redis-server.
#[test]
fn random_data_type_commands_answer_as_redis_does() {
    if skip_under_redis("compares Petrel with redis-server side by side") {
        return;
    }
    let petrel_server = Server::start_target(Target::Petrel, Config::default());
    let redis_server = Server::start_target(Target::Redis, Config::default());
    let mut petrel = petrel_server.raw();
    let mut redis = redis_server.raw();
    for seed in 1..=6 {
        run_seed(seed, 2_000, &mut petrel, &mut redis);
    }
}

// The same over RESP3 (HELLO 3), where the replies carry their types:
// doubles, maps, sets, nulls.
#[test]
fn random_data_type_commands_answer_as_redis_does_over_resp3() {
    if skip_under_redis("compares Petrel with redis-server side by side") {
        return;
    }
    let petrel_server = Server::start_target(Target::Petrel, Config::default());
    let redis_server = Server::start_target(Target::Redis, Config::default());
    let mut petrel = petrel_server.raw();
    let mut redis = redis_server.raw();
    for connection in [&mut petrel, &mut redis] {
        assert!(matches!(connection.command(&["HELLO", "3"]), Reply::Map(_)));
    }
    for seed in 101..=104 {
        run_seed(seed, 2_000, &mut petrel, &mut redis);
    }
}
