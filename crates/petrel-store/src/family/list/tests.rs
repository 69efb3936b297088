//! The list commands run in-process against one keyspace with a virtual
//! clock (every command also checks the memory counter against a recount),
//! and across a node of several shards with each coordinator stepped by
//! hand. Replies and error texts are those redis-server 7.0.15 sent for the
//! same command lines.

use bytes::Bytes;
use petrel_resp::Reply;

use super::blocking_timeout_ms;
use crate::family::string::tests::{bulk, err, int, ok, Db};
use crate::route::{self, shard_of, Step};
use crate::table::{self, Route};
use crate::{Coordinator, ExecContext, Shard};

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
const SYNTAX: &str = "ERR syntax error";

fn array(items: &[&str]) -> Reply {
    Reply::Array(items.iter().map(|item| bulk(item)).collect())
}

fn ints(items: &[i64]) -> Reply {
    Reply::Array(items.iter().map(|&n| int(n)).collect())
}

fn exists(db: &mut Db, key: &str) -> bool {
    db.keyspace.contains(key.as_bytes(), db.now_ms)
}

/// A node of several shards driven the way the engine routes: a command
/// whose keys share a shard runs its handler there, any other goes through
/// its coordinator, each step's operations applied to the shards they name.
pub(crate) struct Node {
    pub shards: Vec<Shard>,
    pub now_ms: u64,
}

impl Node {
    pub fn new(shard_count: usize) -> Node {
        Node {
            shards: (0..shard_count).map(|_| Shard::new(1)).collect(),
            now_ms: 1_700_000_000_000,
        }
    }

    fn ctx(&self, shard: usize) -> ExecContext {
        ExecContext {
            now_ms: self.now_ms,
            shard_id: shard,
            shard_count: self.shards.len(),
        }
    }

    pub fn shard_of(&self, key: &str) -> usize {
        shard_of(key.as_bytes(), self.shards.len())
    }

    pub fn run(&mut self, parts: &[&str]) -> Reply {
        let args: Vec<Bytes> = parts
            .iter()
            .map(|part| Bytes::copy_from_slice(part.as_bytes()))
            .collect();
        let spec = table::lookup(&args[0]).expect("command is in the table");
        assert!(spec.arity_ok(args.len()), "arity of {parts:?}");
        let mut shards = spec
            .key_positions(args.len())
            .map(|position| shard_of(&args[position], self.shards.len()));
        let first = shards.next().unwrap_or(0);
        let single = shards.all(|shard| shard == first);
        let ctx = self.ctx(first);
        let reply = match spec.route {
            Route::Key => self.shards[first].execute(0, spec, &args, &ctx),
            _ if single && spec.handler.is_some() => {
                self.shards[first].execute(0, spec, &args, &ctx)
            }
            _ => {
                let coordinator = route::coordinator(spec, args, self.shards.len(), 7);
                self.drive(coordinator)
            }
        };
        self.check_memory();
        reply
    }

    pub fn drive(&mut self, mut coordinator: Box<dyn Coordinator>) -> Reply {
        let mut replies = Vec::new();
        for _round in 0..16 {
            match coordinator.step(replies) {
                Step::Dispatch(ops) => {
                    replies = ops
                        .into_iter()
                        .map(|(shard, op)| {
                            let ctx = self.ctx(shard);
                            self.shards[shard].apply(0, op, &ctx)
                        })
                        .collect();
                }
                Step::Done(reply) => return reply,
            }
        }
        panic!("coordinator did not finish");
    }

    pub fn check_memory(&self) {
        for shard in &self.shards {
            let keyspace = &shard.databases[0];
            assert_eq!(
                keyspace.used_memory_bytes(),
                keyspace.measure_used_memory_bytes()
            );
        }
    }

    /// A key named `prefix:n` owned by `shard`.
    pub fn key_on(&self, shard: usize, prefix: &str) -> String {
        (0..)
            .map(|n| format!("{prefix}:{n}"))
            .find(|key| self.shard_of(key) == shard)
            .expect("every shard owns some key")
    }
}

/// Pushes keep argument order at each end, answer the new length, and the
/// X forms never create a key.
#[test]
fn push_order_and_lengths() {
    let mut db = Db::new();
    assert_eq!(db.run(&["LPUSH", "l", "a", "b", "c"]), int(3));
    assert_eq!(db.run(&["RPUSH", "l", "d", "e"]), int(5));
    assert_eq!(
        db.run(&["LRANGE", "l", "0", "-1"]),
        array(&["c", "b", "a", "d", "e"])
    );
    assert_eq!(db.run(&["LPUSHX", "missing", "a"]), int(0));
    assert_eq!(db.run(&["RPUSHX", "missing", "a"]), int(0));
    assert!(!exists(&mut db, "missing"));
    assert_eq!(db.run(&["LPUSHX", "l", "x", "y"]), int(7));
    assert_eq!(db.run(&["RPUSHX", "l", "z"]), int(8));
    assert_eq!(db.run(&["LINDEX", "l", "0"]), bulk("y"));
    assert_eq!(db.run(&["LLEN", "l"]), int(8));
    assert_eq!(db.run(&["LLEN", "missing"]), int(0));
    assert_eq!(
        db.run(&["LPUSH", "l"]),
        err("ERR wrong number of arguments for 'lpush' command")
    );
}

/// LPOP and RPOP: a bulk without a count, an array with one (clipped to the
/// list), nil or nil array for a missing key by that same rule, and the
/// last pop deletes the key.
#[test]
fn pops_with_and_without_count() {
    let mut db = Db::new();
    assert_eq!(db.run(&["LPOP", "l"]), Reply::Nil);
    assert_eq!(db.run(&["LPOP", "l", "2"]), Reply::NilArray);
    assert_eq!(db.run(&["RPOP", "l", "0"]), Reply::NilArray);
    db.run(&["RPUSH", "l", "a", "b", "c", "d", "e"]);
    assert_eq!(db.run(&["LPOP", "l"]), bulk("a"));
    assert_eq!(db.run(&["RPOP", "l"]), bulk("e"));
    assert_eq!(db.run(&["LPOP", "l", "0"]), Reply::Array(Vec::new()));
    assert_eq!(db.run(&["RPOP", "l", "2"]), array(&["d", "c"]));
    assert_eq!(db.run(&["LPOP", "l", "10"]), array(&["b"]));
    assert!(!exists(&mut db, "l"), "an emptied list is deleted");
    assert_eq!(db.keyspace.used_memory_bytes(), 0);
    for bad in ["-1", "x", "1.5"] {
        assert_eq!(
            db.run(&["LPOP", "l", bad]),
            err("ERR value is out of range, must be positive")
        );
    }
    assert_eq!(
        db.run(&["LPOP", "l", "1", "2"]),
        err("ERR wrong number of arguments for 'lpop' command")
    );
}

/// LRANGE and LTRIM: negative indexes count from the end, ranges past the
/// end are clipped, inverted or out-of-range ones are empty (LTRIM then
/// deletes the key), and any i64 is a valid index.
#[test]
fn ranges_and_trims() {
    let mut db = Db::new();
    db.run(&["RPUSH", "l", "a", "b", "c", "d", "e", "f"]);
    let cases: &[(&str, &str, &[&str])] = &[
        ("0", "-1", &["a", "b", "c", "d", "e", "f"]),
        ("-100", "100", &["a", "b", "c", "d", "e", "f"]),
        ("-2", "-1", &["e", "f"]),
        ("2", "1", &[]),
        ("-1", "-2", &[]),
        ("5", "10", &["f"]),
        ("6", "10", &[]),
        (
            "-9223372036854775808",
            "9223372036854775807",
            &["a", "b", "c", "d", "e", "f"],
        ),
    ];
    for (start, stop, expected) in cases {
        assert_eq!(
            db.run(&["LRANGE", "l", start, stop]),
            array(expected),
            "{start} {stop}"
        );
    }
    assert_eq!(db.run(&["LRANGE", "l", "a", "1"]), err(NOT_INTEGER));
    assert_eq!(db.run(&["LRANGE", "nokey", "0", "1"]), array(&[]));
    assert_eq!(db.run(&["LTRIM", "l", "1", "-2"]), ok());
    assert_eq!(
        db.run(&["LRANGE", "l", "0", "-1"]),
        array(&["b", "c", "d", "e"])
    );
    assert_eq!(db.run(&["LTRIM", "l", "-100", "100"]), ok());
    assert_eq!(db.run(&["LLEN", "l"]), int(4));
    assert_eq!(db.run(&["LTRIM", "l", "x", "1"]), err(NOT_INTEGER));
    assert_eq!(db.run(&["LTRIM", "nokey", "0", "1"]), ok());
    assert_eq!(db.run(&["LTRIM", "l", "5", "10"]), ok());
    assert!(!exists(&mut db, "l"), "trimming everything deletes the key");
}

/// LINDEX and LSET address one element from either end; LINDEX looks the
/// key up before it parses the index, LSET wants an existing key.
#[test]
fn index_and_set() {
    let mut db = Db::new();
    assert_eq!(db.run(&["LINDEX", "l", "x"]), Reply::Nil);
    assert_eq!(db.run(&["LSET", "l", "0", "v"]), err("ERR no such key"));
    db.run(&["RPUSH", "l", "a", "b", "c"]);
    assert_eq!(db.run(&["LINDEX", "l", "-1"]), bulk("c"));
    assert_eq!(db.run(&["LINDEX", "l", "-3"]), bulk("a"));
    assert_eq!(db.run(&["LINDEX", "l", "-4"]), Reply::Nil);
    assert_eq!(db.run(&["LINDEX", "l", "3"]), Reply::Nil);
    assert_eq!(db.run(&["LINDEX", "l", "x"]), err(NOT_INTEGER));
    assert_eq!(db.run(&["LSET", "l", "-1", "a much longer element"]), ok());
    assert_eq!(db.run(&["LSET", "l", "0", "A"]), ok());
    assert_eq!(
        db.run(&["LSET", "l", "3", "X"]),
        err("ERR index out of range")
    );
    assert_eq!(
        db.run(&["LSET", "l", "-4", "X"]),
        err("ERR index out of range")
    );
    assert_eq!(db.run(&["LSET", "l", "x", "X"]), err(NOT_INTEGER));
    assert_eq!(
        db.run(&["LRANGE", "l", "0", "-1"]),
        array(&["A", "b", "a much longer element"])
    );
}

/// LREM removes from the left for a positive count, from the right for a
/// negative one, everywhere for zero.
#[test]
fn remove_by_value() {
    let mut db = Db::new();
    db.run(&["RPUSH", "l", "a", "b", "a", "c", "a", "d", "a"]);
    assert_eq!(db.run(&["LREM", "l", "2", "a"]), int(2));
    assert_eq!(
        db.run(&["LRANGE", "l", "0", "-1"]),
        array(&["b", "c", "a", "d", "a"])
    );
    assert_eq!(db.run(&["LREM", "l", "-1", "a"]), int(1));
    assert_eq!(
        db.run(&["LRANGE", "l", "0", "-1"]),
        array(&["b", "c", "a", "d"])
    );
    assert_eq!(db.run(&["LREM", "l", "0", "zzz"]), int(0));
    assert_eq!(db.run(&["LREM", "l", "x", "a"]), err(NOT_INTEGER));
    assert_eq!(db.run(&["LREM", "nokey", "1", "a"]), int(0));
    assert_eq!(
        db.run(&["LREM", "l", "-9223372036854775808", "a"]),
        int(1),
        "the most negative count is a limit, not an overflow"
    );
    for element in ["b", "c", "d"] {
        assert_eq!(db.run(&["LREM", "l", "0", element]), int(1));
    }
    assert!(!exists(&mut db, "l"));
}

/// LINSERT answers the new length, -1 without the pivot, 0 without the key.
#[test]
fn insert_around_pivot() {
    let mut db = Db::new();
    assert_eq!(db.run(&["LINSERT", "l", "BEFORE", "a", "x"]), int(0));
    assert!(!exists(&mut db, "l"));
    db.run(&["RPUSH", "l", "a", "b", "c"]);
    assert_eq!(db.run(&["LINSERT", "l", "before", "b", "X"]), int(4));
    assert_eq!(db.run(&["LINSERT", "l", "AFTER", "c", "Y"]), int(5));
    assert_eq!(db.run(&["LINSERT", "l", "AFTER", "zz", "Q"]), int(-1));
    assert_eq!(db.run(&["LINSERT", "l", "middle", "b", "X"]), err(SYNTAX));
    assert_eq!(
        db.run(&["LRANGE", "l", "0", "-1"]),
        array(&["a", "X", "b", "c", "Y"])
    );
}

/// LPOS with RANK, COUNT and MAXLEN, and its error texts.
#[test]
fn positions() {
    let mut db = Db::new();
    assert_eq!(db.run(&["LPOS", "l", "c"]), Reply::Nil);
    assert_eq!(db.run(&["LPOS", "l", "c", "COUNT", "0"]), ints(&[]));
    db.run(&["RPUSH", "l", "a", "b", "c", "1", "2", "3", "c", "c"]);
    assert_eq!(db.run(&["LPOS", "l", "c"]), int(2));
    assert_eq!(db.run(&["LPOS", "l", "c", "RANK", "2"]), int(6));
    assert_eq!(db.run(&["LPOS", "l", "c", "RANK", "-1"]), int(7));
    assert_eq!(db.run(&["LPOS", "l", "c", "RANK", "-2"]), int(6));
    assert_eq!(db.run(&["LPOS", "l", "c", "COUNT", "0"]), ints(&[2, 6, 7]));
    assert_eq!(db.run(&["LPOS", "l", "c", "COUNT", "2"]), ints(&[2, 6]));
    assert_eq!(
        db.run(&["LPOS", "l", "c", "RANK", "-1", "COUNT", "0"]),
        ints(&[7, 6, 2])
    );
    assert_eq!(
        db.run(&["LPOS", "l", "c", "RANK", "2", "COUNT", "0", "MAXLEN", "3"]),
        ints(&[])
    );
    assert_eq!(db.run(&["LPOS", "l", "c", "MAXLEN", "2"]), Reply::Nil);
    assert_eq!(db.run(&["LPOS", "l", "zz", "COUNT", "1"]), ints(&[]));
    assert_eq!(
        db.run(&["LPOS", "l", "c", "RANK", "-9223372036854775808"]),
        int(7),
        "Redis 7.0 wraps the negation and matches from the first hit"
    );
    assert_eq!(
        db.run(&["LPOS", "l", "c", "RANK", "9223372036854775807"]),
        Reply::Nil
    );
    assert_eq!(
        db.run(&["LPOS", "l", "c", "RANK", "0"]),
        err("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list")
    );
    assert_eq!(db.run(&["LPOS", "l", "c", "RANK", "x"]), err(NOT_INTEGER));
    for option in ["COUNT", "MAXLEN"] {
        for bad in ["-1", "x"] {
            let expected = if option == "COUNT" {
                "ERR COUNT can't be negative"
            } else {
                "ERR MAXLEN can't be negative"
            };
            assert_eq!(db.run(&["LPOS", "l", "c", option, bad]), err(expected));
        }
    }
    assert_eq!(db.run(&["LPOS", "l", "c", "RANK"]), err(SYNTAX));
    assert_eq!(db.run(&["LPOS", "l", "c", "FOO", "1"]), err(SYNTAX));
}

/// Every list command refuses a key of another type with Redis's text,
/// and leaves it alone.
#[test]
fn wrong_type() {
    let mut db = Db::new();
    db.run(&["SET", "s", "v"]);
    db.run(&["RPUSH", "l", "a"]);
    let lines: &[&[&str]] = &[
        &["LPUSH", "s", "a"],
        &["RPUSH", "s", "a"],
        &["LPUSHX", "s", "a"],
        &["RPUSHX", "s", "a"],
        &["LPOP", "s"],
        &["RPOP", "s", "2"],
        &["LLEN", "s"],
        &["LRANGE", "s", "0", "1"],
        &["LINDEX", "s", "0"],
        &["LINDEX", "s", "x"],
        &["LSET", "s", "0", "a"],
        &["LREM", "s", "0", "a"],
        &["LTRIM", "s", "0", "1"],
        &["LINSERT", "s", "BEFORE", "a", "b"],
        &["LPOS", "s", "a"],
        &["LMOVE", "s", "l", "LEFT", "LEFT"],
        &["LMOVE", "l", "s", "LEFT", "LEFT"],
        &["RPOPLPUSH", "s", "l"],
        &["BLPOP", "nokey", "s", "0"],
        &["BRPOP", "s", "0"],
        &["BLMOVE", "s", "l", "LEFT", "LEFT", "0"],
    ];
    for line in lines {
        assert_eq!(db.run(line), err(WRONGTYPE), "{line:?}");
    }
    assert_eq!(db.run(&["GET", "s"]), bulk("v"));
    assert_eq!(
        db.run(&["LRANGE", "l", "0", "-1"]),
        array(&["a"]),
        "source kept"
    );
    assert_eq!(db.run(&["LMOVE", "nokey", "s", "LEFT", "LEFT"]), Reply::Nil);
}

/// LMOVE and RPOPLPUSH on one shard: across lists, rotating one list, a
/// one-element list moved onto itself, and the source deleted once empty.
#[test]
fn moves_on_one_shard() {
    let mut db = Db::new();
    db.run(&["RPUSH", "m", "a", "b", "c"]);
    assert_eq!(db.run(&["LMOVE", "m", "m", "LEFT", "RIGHT"]), bulk("a"));
    assert_eq!(db.run(&["LRANGE", "m", "0", "-1"]), array(&["b", "c", "a"]));
    assert_eq!(db.run(&["RPOPLPUSH", "m", "m"]), bulk("a"));
    assert_eq!(db.run(&["LRANGE", "m", "0", "-1"]), array(&["a", "b", "c"]));
    assert_eq!(db.run(&["LMOVE", "m", "n", "left", "left"]), bulk("a"));
    assert_eq!(db.run(&["LMOVE", "m", "n", "RIGHT", "RIGHT"]), bulk("c"));
    assert_eq!(db.run(&["LRANGE", "n", "0", "-1"]), array(&["a", "c"]));
    assert_eq!(db.run(&["LMOVE", "m", "n", "LEFT", "MIDDLE"]), err(SYNTAX));
    assert_eq!(db.run(&["RPOPLPUSH", "m", "n"]), bulk("b"));
    assert!(!exists(&mut db, "m"));
    assert_eq!(db.run(&["RPOPLPUSH", "m", "n"]), Reply::Nil);
    db.run(&["RPUSH", "one", "x"]);
    assert_eq!(db.run(&["LMOVE", "one", "one", "LEFT", "LEFT"]), bulk("x"));
    assert_eq!(db.run(&["LRANGE", "one", "0", "-1"]), array(&["x"]));
}

/// Pushing to a list keeps its deadline, as changing a value in place does
/// in Redis.
#[test]
fn pushes_keep_the_deadline() {
    let mut db = Db::new();
    db.run(&["RPUSH", "l", "a"]);
    db.run(&["PEXPIRE", "l", "5000"]);
    db.run(&["LPUSH", "l", "b"]);
    db.run(&["LPOP", "l"]);
    assert_eq!(db.run(&["PTTL", "l"]), int(5000));
    db.now_ms += 5000;
    assert_eq!(db.run(&["LLEN", "l"]), int(0), "expired with its deadline");
}

/// The blocking commands' try: pop from the first key in order that has an
/// element, or answer NilArray (would block) and change nothing; their
/// timeout is checked first.
#[test]
fn blocking_tries() {
    let mut db = Db::new();
    assert_eq!(db.run(&["BLPOP", "a", "b", "0"]), Reply::NilArray);
    assert_eq!(
        db.run(&["BLMOVE", "a", "b", "LEFT", "LEFT", "0"]),
        Reply::NilArray
    );
    db.run(&["RPUSH", "b", "1", "2"]);
    db.run(&["RPUSH", "c", "3"]);
    assert_eq!(db.run(&["BLPOP", "a", "b", "c", "0"]), array(&["b", "1"]));
    assert_eq!(db.run(&["BRPOP", "a", "c", "b", "1.5"]), array(&["c", "3"]));
    assert!(!exists(&mut db, "c"));
    assert_eq!(
        db.run(&["BLMOVE", "b", "d", "RIGHT", "LEFT", "0"]),
        bulk("2")
    );
    assert_eq!(db.run(&["LRANGE", "d", "0", "-1"]), array(&["2"]));
    assert_eq!(
        db.run(&["BLMOVE", "d", "e", "LEFT", "UP", "0"]),
        err(SYNTAX)
    );
    assert_eq!(
        db.run(&["BLPOP", "d", "-1"]),
        err("ERR timeout is negative")
    );
    assert_eq!(
        db.run(&["BLPOP", "d", "abc"]),
        err("ERR timeout is not a float or out of range")
    );
    assert_eq!(
        db.run(&["BLMOVE", "d", "e", "LEFT", "LEFT", "inf"]),
        err("ERR timeout is negative")
    );
    assert_eq!(db.run(&["LLEN", "d"]), int(1), "errors pop nothing");
}

/// The timeout the engine parks a client with, as Redis reads it.
#[test]
fn blocking_timeouts() {
    assert_eq!(blocking_timeout_ms(b"0"), Ok(None));
    assert_eq!(
        blocking_timeout_ms(b"0.0005"),
        Ok(None),
        "below 1 ms is forever"
    );
    assert_eq!(blocking_timeout_ms(b"2.5"), Ok(Some(2500)));
    assert_eq!(blocking_timeout_ms(b"0x10"), Ok(Some(16_000)));
    assert_eq!(
        blocking_timeout_ms(b"-1"),
        Err(err("ERR timeout is negative"))
    );
    assert_eq!(
        blocking_timeout_ms(b" 1"),
        Err(err("ERR timeout is not a float or out of range"))
    );
}

/// TYPE, OBJECT ENCODING and memory: a list reports `list`/`quicklist`, and
/// its memory grows with its elements and returns to zero when it goes.
#[test]
fn type_encoding_and_memory() {
    let mut db = Db::new();
    db.run(&["RPUSH", "l", "a"]);
    let small = db.keyspace.used_memory_bytes();
    db.run(&["RPUSH", "l", &"x".repeat(1000)]);
    assert!(db.keyspace.used_memory_bytes() >= small + 1000);
    assert_eq!(db.run(&["TYPE", "l"]), Reply::simple("list"));
    assert_eq!(db.run(&["OBJECT", "ENCODING", "l"]), bulk("quicklist"));
    db.run(&["LSET", "l", "1", "y"]);
    assert!(db.keyspace.used_memory_bytes() < small + 100);
    db.run(&["LPOP", "l", "2"]);
    assert_eq!(db.keyspace.used_memory_bytes(), 0);
}

/// LMOVE and RPOPLPUSH between shards: the element leaves one shard's list
/// and arrives on the other's; a missing source answers nil, a destination
/// of another type WRONGTYPE with the source untouched.
#[test]
fn moves_across_shards() {
    let mut node = Node::new(4);
    let source = node.key_on(0, "src");
    let destination = node.key_on(2, "dst");
    assert_eq!(
        node.run(&["LMOVE", &source, &destination, "LEFT", "LEFT"]),
        Reply::Nil
    );
    node.run(&["RPUSH", &source, "a", "b", "c"]);
    assert_eq!(
        node.run(&["LMOVE", &source, &destination, "LEFT", "RIGHT"]),
        bulk("a")
    );
    assert_eq!(node.run(&["RPOPLPUSH", &source, &destination]), bulk("c"));
    assert_eq!(
        node.run(&["LRANGE", &destination, "0", "-1"]),
        array(&["c", "a"])
    );
    assert_eq!(node.run(&["LRANGE", &source, "0", "-1"]), array(&["b"]));
    assert_eq!(
        node.run(&["LMOVE", &source, &destination, "LEFT", "SIDEWAYS"]),
        err(SYNTAX)
    );
    let string = node.key_on(3, "str");
    node.run(&["SET", &string, "v"]);
    assert_eq!(node.run(&["RPOPLPUSH", &source, &string]), err(WRONGTYPE));
    assert_eq!(node.run(&["RPOPLPUSH", &string, &source]), err(WRONGTYPE));
    assert_eq!(node.run(&["LLEN", &source]), int(1));
    assert_eq!(node.run(&["RPOPLPUSH", &source, &destination]), bulk("b"));
    assert_eq!(
        node.run(&["EXISTS", &source]),
        int(0),
        "emptied source deleted"
    );
    assert_eq!(
        node.run(&["BLMOVE", &source, &destination, "LEFT", "LEFT", "0"]),
        Reply::NilArray,
        "BLMOVE's try across shards would block"
    );
}

/// If the destination changes type between the cross-shard pop and push,
/// the element goes back to the source and the client gets WRONGTYPE.
#[test]
fn move_across_shards_puts_back_on_a_failed_push() {
    let mut node = Node::new(4);
    let source = node.key_on(1, "src");
    let destination = node.key_on(3, "dst");
    node.run(&["RPUSH", &source, "a", "b"]);
    let spec = table::lookup(b"lmove").expect("LMOVE is in the table");
    let args: Vec<Bytes> = ["LMOVE", &source, &destination, "RIGHT", "LEFT"]
        .iter()
        .map(|part| Bytes::copy_from_slice(part.as_bytes()))
        .collect();
    let mut coordinator = route::coordinator(spec, args, 4, 7);
    let mut replies = Vec::new();
    for round in 0.. {
        if round == 2 {
            // After the type checks and the pop: another client stores a string.
            node.run(&["SET", &destination, "v"]);
        }
        match coordinator.step(replies) {
            Step::Dispatch(ops) => {
                replies = ops
                    .into_iter()
                    .map(|(shard, op)| {
                        let ctx = node.ctx(shard);
                        node.shards[shard].apply(0, op, &ctx)
                    })
                    .collect();
            }
            Step::Done(reply) => {
                assert_eq!(reply, err(WRONGTYPE));
                break;
            }
        }
    }
    assert_eq!(
        node.run(&["LRANGE", &source, "0", "-1"]),
        array(&["a", "b"])
    );
    assert_eq!(node.run(&["GET", &destination]), bulk("v"));
}

/// BLPOP and BRPOP over keys on several shards try them in the client's
/// order and pop only from the first list that has an element.
#[test]
fn blocking_pops_across_shards() {
    let mut node = Node::new(4);
    let keys: Vec<String> = (0..4).map(|shard| node.key_on(shard, "q")).collect();
    let mut line = vec!["BLPOP"];
    line.extend(keys.iter().map(String::as_str));
    line.push("0");
    assert_eq!(node.run(&line), Reply::NilArray);
    node.run(&["RPUSH", &keys[3], "late"]);
    node.run(&["RPUSH", &keys[2], "x", "y"]);
    assert_eq!(node.run(&line), array(&[&keys[2], "x"]));
    line[0] = "BRPOP";
    assert_eq!(node.run(&line), array(&[&keys[2], "y"]));
    assert_eq!(node.run(&line), array(&[&keys[3], "late"]));
    assert_eq!(node.run(&line), Reply::NilArray);
    *line.last_mut().expect("timeout") = "-5";
    assert_eq!(node.run(&line), err("ERR timeout is negative"));
    node.run(&["SET", &keys[1], "v"]);
    node.run(&["RPUSH", &keys[3], "z"]);
    *line.last_mut().expect("timeout") = "0";
    assert_eq!(node.run(&line), err(WRONGTYPE), "a wrong type before a hit");
}

/// Negative indexes and ranges past either end, down to the extreme i64
/// values: LTRIM clips the way LRANGE does and deletes the key when nothing
/// is left, single-element ranges at both ends, and indexes Redis does not
/// read as integers (a fraction, a sign, a leading zero or space).
#[test]
fn ranges_past_the_end_and_negative_indexes() {
    let mut db = Db::new();
    db.run(&["RPUSH", "l", "a", "b", "c", "d", "e", "f"]);
    assert_eq!(db.run(&["LTRIM", "l", "-3", "-1"]), ok());
    assert_eq!(db.run(&["LRANGE", "l", "0", "-1"]), array(&["d", "e", "f"]));
    assert_eq!(db.run(&["LTRIM", "l", "-100", "-2"]), ok());
    assert_eq!(db.run(&["LRANGE", "l", "0", "-1"]), array(&["d", "e"]));
    assert_eq!(db.run(&["LTRIM", "l", "1", "0"]), ok());
    assert!(!exists(&mut db, "l"), "an inverted trim empties the list");

    db.run(&["RPUSH", "l", "a", "b", "c", "d", "e", "f"]);
    let (min, max) = ("-9223372036854775808", "9223372036854775807");
    assert_eq!(db.run(&["LTRIM", "l", min, max]), ok());
    assert_eq!(db.run(&["LLEN", "l"]), int(6));
    let cases: &[(&str, &str, &[&str])] = &[
        ("-1", "-100", &[]),
        ("-7", "0", &["a"]),
        ("-6", "-6", &["a"]),
        ("0", "0", &["a"]),
        ("-1", "-1", &["f"]),
        ("5", "5", &["f"]),
        (max, max, &[]),
        (min, min, &[]),
    ];
    for (start, stop, expected) in cases {
        assert_eq!(
            db.run(&["LRANGE", "l", start, stop]),
            array(expected),
            "LRANGE {start} {stop}"
        );
    }
    for bad in ["1.5", " 1", "+1", "01", ""] {
        assert_eq!(
            db.run(&["LRANGE", "l", bad, "2"]),
            err(NOT_INTEGER),
            "{bad:?}"
        );
    }
    assert_eq!(db.run(&["LINDEX", "l", min]), Reply::Nil);
    assert_eq!(db.run(&["LINDEX", "l", max]), Reply::Nil);
    assert_eq!(db.run(&["LINDEX", "l", "-6"]), bulk("a"));
    assert_eq!(db.run(&["LINDEX", "l", "5"]), bulk("f"));
    assert_eq!(db.run(&["LINDEX", "l", "6"]), Reply::Nil);
    assert_eq!(db.run(&["LINDEX", "l", "1.0"]), err(NOT_INTEGER));
    assert_eq!(db.run(&["LSET", "l", "-6", "A"]), ok());
    assert_eq!(db.run(&["LSET", "l", "5", "F"]), ok());
    for index in ["6", "-7", max, min] {
        assert_eq!(
            db.run(&["LSET", "l", index, "X"]),
            err("ERR index out of range"),
            "LSET {index}"
        );
    }
    assert_eq!(
        db.run(&["LRANGE", "l", "0", "-1"]),
        array(&["A", "b", "c", "d", "e", "F"])
    );
    assert_eq!(db.run(&["LTRIM", "l", max, min]), ok());
    assert!(!exists(&mut db, "l"));
    assert_eq!(db.run(&["LTRIM", "missing", "x", "1"]), err(NOT_INTEGER));
}

/// LPOS's options combined: MAXLEN 0 means the whole list, MAXLEN counts
/// from the end the search starts at, RANK skips matches in the search's
/// direction, COUNT stops early, a repeated option keeps its last value,
/// and the extreme counts are limits, not overflows.
#[test]
fn positions_with_combined_options() {
    let mut db = Db::new();
    db.run(&["RPUSH", "l", "A", "b", "c", "d", "e", "F"]);
    assert_eq!(db.run(&["LPOS", "l", "A", "MAXLEN", "0"]), int(0));
    assert_eq!(
        db.run(&["LPOS", "l", "F", "RANK", "-1", "MAXLEN", "1"]),
        int(5)
    );
    assert_eq!(
        db.run(&["LPOS", "l", "F", "RANK", "1", "MAXLEN", "5"]),
        Reply::Nil
    );
    assert_eq!(
        db.run(&["LPOS", "l", "F", "RANK", "1", "MAXLEN", "6"]),
        int(5)
    );
    assert_eq!(
        db.run(&["LPOS", "l", "A", "RANK", "-1", "MAXLEN", "5"]),
        Reply::Nil
    );
    assert_eq!(
        db.run(&["LPOS", "l", "A", "RANK", "-1", "MAXLEN", "6"]),
        int(0)
    );
    assert_eq!(
        db.run(&["LPOS", "l", "A", "COUNT", "0", "MAXLEN", "0"]),
        ints(&[0])
    );

    db.run(&["RPUSH", "p", "x", "y", "x", "y", "x", "y", "x"]);
    let cases: &[(&[&str], Reply)] = &[
        (&["COUNT", "2", "RANK", "2"], ints(&[2, 4])),
        (&["COUNT", "10", "RANK", "-2"], ints(&[4, 2, 0])),
        (&["COUNT", "0", "RANK", "-1", "MAXLEN", "3"], ints(&[6, 4])),
        (&["COUNT", "1"], ints(&[0])),
        (&["COUNT", "3", "MAXLEN", "2"], ints(&[0])),
        (&["RANK", "4"], int(6)),
        (&["RANK", "5"], Reply::Nil),
        (&["RANK", "-5"], Reply::Nil),
        (&["RANK", "1", "RANK", "-1"], int(6)),
        (&["COUNT", "1", "COUNT", "2"], ints(&[0, 2])),
        (&["count", "1", "rank", "1", "maxlen", "0"], ints(&[0])),
        (&["COUNT", "9223372036854775807"], ints(&[0, 2, 4, 6])),
        (&["MAXLEN", "9223372036854775807"], int(0)),
        (&["RANK", "-9223372036854775807"], Reply::Nil),
        (&["RANK", "1.5"], err(NOT_INTEGER)),
        (&["COUNT"], err(SYNTAX)),
    ];
    for (options, expected) in cases {
        let mut line = vec!["LPOS", "p", "x"];
        line.extend_from_slice(options);
        assert_eq!(&db.run(&line), expected, "{line:?}");
    }
    assert_eq!(
        db.run(&["LPOS", "missing", "x", "RANK", "1", "COUNT", "2"]),
        ints(&[])
    );
    assert_eq!(
        db.run(&["LPOS", "missing", "x", "COUNT", "-1"]),
        err("ERR COUNT can't be negative"),
        "options are checked before the key"
    );
    assert_eq!(db.run(&["LREM", "p", "9223372036854775807", "x"]), int(4));
    assert_eq!(
        db.run(&["LPOP", "p", "9223372036854775807"]),
        array(&["y", "y", "y"])
    );
    assert!(!exists(&mut db, "p"));
    assert_eq!(
        db.run(&["RPOP", "l", "-0"]),
        err("ERR value is out of range, must be positive")
    );
}

/// A move whose destination holds another type fails with WRONGTYPE before
/// anything is popped; a missing source answers nil even then.
#[test]
fn moves_refuse_a_wrong_typed_end() {
    let mut db = Db::new();
    db.run(&["RPUSH", "l", "a", "b"]);
    db.run(&["SET", "s", "v"]);
    assert_eq!(db.run(&["LMOVE", "l", "s", "LEFT", "LEFT"]), err(WRONGTYPE));
    assert_eq!(db.run(&["RPOPLPUSH", "l", "s"]), err(WRONGTYPE));
    assert_eq!(db.run(&["LMOVE", "s", "l", "LEFT", "LEFT"]), err(WRONGTYPE));
    assert_eq!(db.run(&["LRANGE", "l", "0", "-1"]), array(&["a", "b"]));
    assert_eq!(
        db.run(&["LMOVE", "missing", "s", "LEFT", "LEFT"]),
        Reply::Nil
    );
    assert_eq!(db.run(&["LMOVE", "l", "l", "RIGHT", "LEFT"]), bulk("b"));
    assert_eq!(db.run(&["LRANGE", "l", "0", "-1"]), array(&["b", "a"]));
}
