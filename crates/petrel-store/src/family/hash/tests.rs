//! The hash commands run in-process against one keyspace with a virtual
//! clock (the string family's `Db`), which checks after every command that
//! the memory counter equals a fresh measurement. Replies and error texts
//! are the ones redis-server 7.0 gives.

use std::collections::{HashMap, HashSet};

use bytes::Bytes;
use petrel_resp::Reply;

use crate::family::string::tests::{bulk, err, int, ok, Db};

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
const SYNTAX: &str = "ERR syntax error";

fn text(reply: &Reply) -> String {
    match reply {
        Reply::Bulk(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        other => panic!("expected a bulk string, got {other:?}"),
    }
}

fn texts(reply: Reply) -> Vec<String> {
    match reply {
        Reply::Array(items) | Reply::Set(items) => items.iter().map(text).collect(),
        Reply::Pairs(pairs) => pairs
            .iter()
            .flat_map(|(field, value)| [text(field), text(value)])
            .collect(),
        other => panic!("expected an array, got {other:?}"),
    }
}

fn sorted(reply: Reply) -> Vec<String> {
    let mut items = texts(reply);
    items.sort();
    items
}

/// HGETALL's map as field → value.
fn map_of(reply: Reply) -> HashMap<String, String> {
    match reply {
        Reply::Map(pairs) => pairs.iter().map(|(f, v)| (text(f), text(v))).collect(),
        other => panic!("expected a map, got {other:?}"),
    }
}

/// HSET counts new fields, a repeated field in one call counts once and
/// the last value wins; HMSET answers OK; HGET reads back.
#[test]
fn hset_hget_hmset() {
    let mut db = Db::new();
    assert_eq!(db.run(&["HSET", "h", "a", "1", "b", "2", "a", "3"]), int(2));
    assert_eq!(db.run(&["HGET", "h", "a"]), bulk("3"));
    assert_eq!(db.run(&["HSET", "h", "a", "4", "c", "5"]), int(1));
    assert_eq!(db.run(&["HGET", "h", "a"]), bulk("4"));
    assert_eq!(db.run(&["HGET", "h", "zz"]), Reply::Nil);
    assert_eq!(db.run(&["HGET", "missing", "a"]), Reply::Nil);
    assert_eq!(db.run(&["HMSET", "h", "d", "6", "a", "7"]), ok());
    assert_eq!(db.run(&["HLEN", "h"]), int(4));
    assert_eq!(db.run(&["HGET", "h", "a"]), bulk("7"));
    assert_eq!(
        db.run(&["HSET", "h", "e", ""]),
        int(1),
        "empty values are values"
    );
    assert_eq!(db.run(&["HGET", "h", "e"]), bulk(""));
    assert_eq!(db.run(&["TYPE", "h"]), Reply::simple("hash"));
}

/// Unpaired fields are an arity error naming the command as sent, and
/// nothing is written.
#[test]
fn hset_arity() {
    let mut db = Db::new();
    assert_eq!(
        db.run(&["HSET", "h", "a"]),
        err("ERR wrong number of arguments for 'hset' command")
    );
    assert_eq!(
        db.run(&["HSET", "h", "a", "1", "b"]),
        err("ERR wrong number of arguments for 'hset' command")
    );
    assert_eq!(
        db.run(&["HMSET", "h", "a", "1", "b"]),
        err("ERR wrong number of arguments for 'hmset' command")
    );
    assert_eq!(db.run(&["EXISTS", "h"]), int(0));
    assert_eq!(
        db.run(&["HDEL", "h"]),
        err("ERR wrong number of arguments for 'hdel' command")
    );
}

/// Every hash command refuses a key of another type with Redis's text, and
/// leaves it alone.
#[test]
fn wrong_type() {
    let mut db = Db::new();
    db.run(&["SET", "s", "v"]);
    for line in [
        &["HSET", "s", "a", "1"][..],
        &["HSETNX", "s", "a", "1"],
        &["HMSET", "s", "a", "1"],
        &["HGET", "s", "a"],
        &["HMGET", "s", "a"],
        &["HDEL", "s", "a"],
        &["HEXISTS", "s", "a"],
        &["HGETALL", "s"],
        &["HKEYS", "s"],
        &["HVALS", "s"],
        &["HLEN", "s"],
        &["HSTRLEN", "s", "a"],
        &["HINCRBY", "s", "a", "1"],
        &["HINCRBYFLOAT", "s", "a", "1"],
        &["HRANDFIELD", "s"],
        &["HRANDFIELD", "s", "2"],
        &["HSCAN", "s", "0"],
    ] {
        assert_eq!(db.run(line), err(WRONGTYPE), "{line:?}");
    }
    assert_eq!(db.run(&["GET", "s"]), bulk("v"));
    assert_eq!(
        db.run(&["HSCAN", "s", "x"]),
        err("ERR invalid cursor"),
        "the cursor is checked before the type"
    );
    assert_eq!(
        db.run(&["HINCRBY", "s", "a", "x"]),
        err(NOT_INTEGER),
        "the increment is checked before the type"
    );
}

/// HSETNX writes only a missing field, creating the key if needed.
#[test]
fn hsetnx() {
    let mut db = Db::new();
    assert_eq!(db.run(&["HSETNX", "h", "a", "1"]), int(1));
    assert_eq!(db.run(&["HSETNX", "h", "a", "2"]), int(0));
    assert_eq!(db.run(&["HGET", "h", "a"]), bulk("1"));
    assert_eq!(db.run(&["HSETNX", "h", "b", "2"]), int(1));
    assert_eq!(db.run(&["HLEN", "h"]), int(2));
}

/// The read commands on a hash and on a missing key.
#[test]
fn reads() {
    let mut db = Db::new();
    db.run(&["HSET", "h", "a", "1", "b", "22", "c", "333"]);
    assert_eq!(
        db.run(&["HMGET", "h", "a", "zz", "c"]),
        Reply::Array(vec![bulk("1"), Reply::Nil, bulk("333")])
    );
    assert_eq!(
        db.run(&["HMGET", "missing", "a", "b"]),
        Reply::Array(vec![Reply::Nil, Reply::Nil])
    );
    assert_eq!(db.run(&["HEXISTS", "h", "b"]), int(1));
    assert_eq!(db.run(&["HEXISTS", "h", "zz"]), int(0));
    assert_eq!(db.run(&["HEXISTS", "missing", "a"]), int(0));
    assert_eq!(db.run(&["HSTRLEN", "h", "c"]), int(3));
    assert_eq!(db.run(&["HSTRLEN", "h", "zz"]), int(0));
    assert_eq!(db.run(&["HSTRLEN", "missing", "a"]), int(0));
    assert_eq!(db.run(&["HLEN", "missing"]), int(0));
    assert_eq!(sorted(db.run(&["HKEYS", "h"])), ["a", "b", "c"]);
    assert_eq!(sorted(db.run(&["HVALS", "h"])), ["1", "22", "333"]);
    assert_eq!(db.run(&["HKEYS", "missing"]), Reply::Array(Vec::new()));
    assert_eq!(db.run(&["HVALS", "missing"]), Reply::Array(Vec::new()));
    let all = map_of(db.run(&["HGETALL", "h"]));
    assert_eq!(all.len(), 3);
    assert_eq!(all["b"], "22");
    assert_eq!(db.run(&["HGETALL", "missing"]), Reply::Map(Vec::new()));
}

/// HDEL counts removed fields once each; the last field takes the key with
/// it and gives all its memory back.
#[test]
fn hdel_deletes_the_emptied_key() {
    let mut db = Db::new();
    db.run(&["HSET", "h", "a", "1", "b", "2"]);
    assert!(db.keyspace.used_memory_bytes() > 0);
    assert_eq!(db.run(&["HDEL", "h", "a", "a", "zz"]), int(1));
    assert_eq!(db.run(&["HDEL", "missing", "a"]), int(0));
    assert_eq!(db.run(&["HDEL", "h", "b"]), int(1));
    assert_eq!(db.run(&["EXISTS", "h"]), int(0));
    assert_eq!(db.keyspace.used_memory_bytes(), 0);
}

/// Changing fields keeps the key's deadline; an expired hash is gone.
#[test]
fn writes_keep_the_deadline() {
    let mut db = Db::new();
    db.run(&["HSET", "h", "a", "1"]);
    db.run(&["PEXPIRE", "h", "1000"]);
    db.run(&["HSET", "h", "b", "2"]);
    db.run(&["HINCRBY", "h", "a", "5"]);
    db.run(&["HDEL", "h", "b"]);
    assert_eq!(db.run(&["PTTL", "h"]), int(1000));
    db.now_ms += 1000;
    assert_eq!(db.run(&["HGET", "h", "a"]), Reply::Nil);
    assert_eq!(db.run(&["HSET", "h", "a", "1"]), int(1), "a fresh hash");
    assert_eq!(db.run(&["PTTL", "h"]), int(-1));
}

/// HINCRBY's integer rules: a missing field is 0, the field must hold an
/// integer as Redis parses one, and overflow is refused without a write.
#[test]
fn hincrby() {
    let mut db = Db::new();
    assert_eq!(db.run(&["HINCRBY", "h", "n", "5"]), int(5));
    assert_eq!(db.run(&["HINCRBY", "h", "n", "-7"]), int(-2));
    assert_eq!(db.run(&["HGET", "h", "n"]), bulk("-2"));
    assert_eq!(db.run(&["HINCRBY", "h", "n", "x"]), err(NOT_INTEGER));
    assert_eq!(db.run(&["HINCRBY", "h", "n", "1.5"]), err(NOT_INTEGER));
    db.run(&[
        "HSET",
        "h",
        "f",
        "1.5",
        "sp",
        " 1",
        "big",
        "9223372036854775807",
    ]);
    let not_integer = "ERR hash value is not an integer";
    assert_eq!(db.run(&["HINCRBY", "h", "f", "1"]), err(not_integer));
    assert_eq!(db.run(&["HINCRBY", "h", "sp", "1"]), err(not_integer));
    let overflow = "ERR increment or decrement would overflow";
    assert_eq!(db.run(&["HINCRBY", "h", "big", "1"]), err(overflow));
    assert_eq!(db.run(&["HGET", "h", "big"]), bulk("9223372036854775807"));
    assert_eq!(
        db.run(&["HINCRBY", "h", "n", "-9223372036854775807"]),
        err(overflow)
    );
    assert_eq!(db.run(&["HINCRBY", "h", "big", "-1"]), int(i64::MAX - 1));
    assert_eq!(db.run(&["HINCRBY", "fresh", "n", "x"]), err(NOT_INTEGER));
    assert_eq!(
        db.run(&["EXISTS", "fresh"]),
        int(0),
        "a failed HINCRBY creates no key"
    );
}

/// HINCRBYFLOAT answers as Redis's long double arithmetic does (10.5 + 0.1
/// is 10.6, not 10.59999999999999964) and refuses infinities.
#[test]
fn hincrbyfloat() {
    let mut db = Db::new();
    assert_eq!(db.run(&["HINCRBYFLOAT", "h", "f", "10.50"]), bulk("10.5"));
    assert_eq!(db.run(&["HINCRBYFLOAT", "h", "f", "0.1"]), bulk("10.6"));
    assert_eq!(db.run(&["HINCRBYFLOAT", "h", "g", "3.0e3"]), bulk("3000"));
    assert_eq!(db.run(&["HINCRBYFLOAT", "h", "f", "-10.6"]), bulk("0"));
    db.run(&["HSET", "h", "i", "7"]);
    assert_eq!(db.run(&["HINCRBYFLOAT", "h", "i", "1.5"]), bulk("8.5"));
    assert_eq!(db.run(&["HGET", "h", "i"]), bulk("8.5"));
    assert_eq!(
        db.run(&["HINCRBYFLOAT", "h", "f", "x"]),
        err("ERR value is not a valid float")
    );
    assert_eq!(
        db.run(&["HINCRBYFLOAT", "h", "f", "nan"]),
        err("ERR value is not a valid float")
    );
    assert_eq!(
        db.run(&["HINCRBYFLOAT", "h", "f", "inf"]),
        err("ERR value is NaN or Infinity")
    );
    db.run(&["HSET", "h", "sp", " 1", "word", "abc"]);
    for field in ["sp", "word"] {
        assert_eq!(
            db.run(&["HINCRBYFLOAT", "h", field, "1"]),
            err("ERR hash value is not a float"),
            "{field}"
        );
    }
    db.run(&["HSET", "h", "huge", "1e4932"]);
    assert_eq!(
        db.run(&["HINCRBYFLOAT", "h", "huge", "1e4932"]),
        err("ERR increment would produce NaN or Infinity")
    );
    assert_eq!(db.run(&["HGET", "h", "huge"]), bulk("1e4932"));
}

/// HRANDFIELD: one field, distinct fields for a positive count (at most
/// the whole hash), repeats for a negative count, and Redis's errors.
#[test]
fn hrandfield() {
    let mut db = Db::new();
    db.run(&[
        "HSET", "h", "a", "1", "b", "2", "c", "3", "d", "4", "e", "5",
    ]);
    let fields: HashSet<String> = ["a", "b", "c", "d", "e"].map(String::from).into();
    for _ in 0..20 {
        let one = text(&db.run(&["HRANDFIELD", "h"]));
        assert!(fields.contains(&one));
        let three = texts(db.run(&["HRANDFIELD", "h", "3"]));
        assert_eq!(three.len(), 3);
        assert_eq!(three.iter().collect::<HashSet<_>>().len(), 3, "distinct");
        assert!(three.iter().all(|field| fields.contains(field)));
    }
    assert_eq!(
        sorted(db.run(&["HRANDFIELD", "h", "50"])),
        ["a", "b", "c", "d", "e"]
    );
    let repeated = texts(db.run(&["HRANDFIELD", "h", "-40"]));
    assert_eq!(repeated.len(), 40);
    assert!(repeated.iter().all(|field| fields.contains(field)));
    assert!(
        repeated.iter().collect::<HashSet<_>>().len() < 40,
        "a negative count repeats fields"
    );
    let pairs = texts(db.run(&["HRANDFIELD", "h", "-6", "withvalues"]));
    assert_eq!(pairs.len(), 12);
    for pair in pairs.chunks(2) {
        let expected = (pair[0].as_bytes()[0] - b'a' + b'1') as char;
        assert_eq!(pair[1], expected.to_string(), "each field with its value");
    }
    assert_eq!(
        texts(db.run(&["HRANDFIELD", "h", "2", "WITHVALUES"])).len(),
        4
    );
    assert_eq!(db.run(&["HRANDFIELD", "h", "0"]), Reply::Array(Vec::new()));
    assert_eq!(db.run(&["HRANDFIELD", "missing"]), Reply::Nil);
    assert_eq!(
        db.run(&["HRANDFIELD", "missing", "5"]),
        Reply::Array(Vec::new())
    );
    assert_eq!(db.run(&["HRANDFIELD", "h", "x"]), err(NOT_INTEGER));
    assert_eq!(
        db.run(&["HRANDFIELD", "h", "1", "withvalues", "x"]),
        err(SYNTAX)
    );
    assert_eq!(db.run(&["HRANDFIELD", "h", "1", "withvalue"]), err(SYNTAX));
    assert_eq!(
        db.run(&["HRANDFIELD", "h", "-9223372036854775808"]),
        err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
    );
    assert_eq!(
        db.run(&["HRANDFIELD", "h", "-9223372036854775807", "withvalues"]),
        err("ERR value is out of range")
    );
    assert!(
        db.run(&["HRANDFIELD", "h", "-100000000"]).is_error(),
        "a huge repeating reply is refused, not built"
    );
}

/// OBJECT ENCODING follows Redis's listpack limits (128 fields, 64-byte
/// values) and, as in Redis, never converts back.
#[test]
fn encoding() {
    let mut db = Db::new();
    db.run(&["HSET", "h", "a", "1"]);
    assert_eq!(db.run(&["OBJECT", "ENCODING", "h"]), bulk("listpack"));
    let long = "x".repeat(65);
    db.run(&["HSET", "h", "b", &long]);
    assert_eq!(db.run(&["OBJECT", "ENCODING", "h"]), bulk("hashtable"));
    db.run(&["HDEL", "h", "b"]);
    assert_eq!(db.run(&["OBJECT", "ENCODING", "h"]), bulk("hashtable"));
    for i in 0..128 {
        db.run(&["HSET", "many", &format!("f{i}"), "v"]);
    }
    assert_eq!(db.run(&["OBJECT", "ENCODING", "many"]), bulk("listpack"));
    db.run(&["HSET", "many", "one-more", "v"]);
    assert_eq!(db.run(&["OBJECT", "ENCODING", "many"]), bulk("hashtable"));
}

/// Memory accounting follows every change (the Db checks a full recount
/// after each command) and grows with what is stored.
#[test]
fn memory_follows_the_contents() {
    let mut db = Db::new();
    db.run(&["HSET", "h", "f", "v"]);
    let small = db.keyspace.used_memory_bytes();
    let big = "y".repeat(10_000);
    db.run(&["HSET", "h", "f", &big]);
    assert!(db.keyspace.used_memory_bytes() >= small + 9_999);
    db.run(&["HSET", "h", "f", "v"]);
    assert_eq!(db.keyspace.used_memory_bytes(), small);
    for i in 0..1000 {
        db.run(&["HSET", "h", &format!("field:{i}"), "value"]);
    }
    for i in 0..1000 {
        db.run(&["HDEL", "h", &format!("field:{i}")]);
    }
    assert!(
        db.keyspace.used_memory_bytes() < small + 4096,
        "the table shrinks once mostly empty"
    );
    db.run(&["DEL", "h"]);
    assert_eq!(db.keyspace.used_memory_bytes(), 0);
}

fn scan_page(db: &mut Db, line: &[&str]) -> (String, Vec<String>) {
    match db.run(line) {
        Reply::Array(mut parts) if parts.len() == 2 => {
            let items = texts(parts.pop().expect("two parts"));
            (text(&parts[0]), items)
        }
        other => panic!("{line:?} answered {other:?}"),
    }
}

/// A listpack-sized hash comes back whole, with cursor 0, whatever COUNT
/// says; MATCH filters fields.
#[test]
fn hscan_small_hash() {
    let mut db = Db::new();
    db.run(&["HSET", "h", "a1", "1", "a2", "2", "b1", "3"]);
    let (cursor, items) = scan_page(&mut db, &["HSCAN", "h", "0", "COUNT", "1"]);
    assert_eq!(cursor, "0");
    assert_eq!(items.len(), 6);
    let (_, items) = scan_page(&mut db, &["HSCAN", "h", "0", "MATCH", "a*"]);
    let mut fields: Vec<&String> = items.iter().step_by(2).collect();
    fields.sort();
    assert_eq!(fields, ["a1", "a2"]);
    let (_, items) = scan_page(&mut db, &["HSCAN", "h", "0", "match", "a*", "match", "b*"]);
    assert_eq!(items, ["b1", "3"], "the last MATCH wins");
    assert_eq!(
        db.run(&["HSCAN", "missing", "0", "COUNT", "0"]),
        Reply::Array(vec![bulk("0"), Reply::Array(Vec::new())]),
        "a missing key answers before the options are read"
    );
}

/// HSCAN's option and cursor errors, as Redis words them; a cursor is read
/// as strtoul would (empty is 0, a sign is allowed, a negative wraps).
#[test]
fn hscan_errors_and_cursors() {
    let mut db = Db::new();
    db.run(&["HSET", "h", "a", "1"]);
    for line in [
        &["HSCAN", "h", "0", "COUNT", "0"][..],
        &["HSCAN", "h", "0", "COUNT", "-1"],
        &["HSCAN", "h", "0", "MATCH"],
        &["HSCAN", "h", "0", "TYPE", "string"],
        &["HSCAN", "h", "0", "NOVALUES"],
    ] {
        assert_eq!(db.run(line), err(SYNTAX), "{line:?}");
    }
    assert_eq!(db.run(&["HSCAN", "h", "0", "COUNT", "x"]), err(NOT_INTEGER));
    for cursor in ["x", " 1", "1 ", "+", "-", "18446744073709551616", "0x1"] {
        assert_eq!(
            db.run(&["HSCAN", "h", cursor]),
            err("ERR invalid cursor"),
            "{cursor:?}"
        );
    }
    for cursor in ["", "-1", "+7", "18446744073709551615"] {
        let (next, items) = scan_page(&mut db, &["HSCAN", "h", cursor]);
        assert_eq!((next.as_str(), items.len()), ("0", 2), "{cursor:?}");
    }
}

/// A large hash scanned in pages returns every field present for the whole
/// scan at least once, even while other fields are deleted and added.
#[test]
fn hscan_survives_changes() {
    let mut db = Db::new();
    for i in 0..500 {
        db.run(&["HSET", "h", &format!("f{i}"), &i.to_string()]);
    }
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    let mut round = 0;
    loop {
        let (next, items) = scan_page(&mut db, &["HSCAN", "h", &cursor, "COUNT", "20"]);
        assert!(items.len() <= 40);
        for pair in items.chunks(2) {
            if let Some(number) = pair[0].strip_prefix('f') {
                assert_eq!(number, pair[1], "field and value belong together");
            }
            seen.insert(pair[0].clone());
        }
        // Delete fields numbered 400 and up, a few per page, and add new ones.
        for i in 0..3 {
            db.run(&["HDEL", "h", &format!("f{}", 400 + round * 3 + i)]);
        }
        db.run(&["HSET", "h", &format!("new{round}"), "n"]);
        round += 1;
        cursor = next;
        if cursor == "0" {
            break;
        }
        assert!(round < 500, "the scan ends");
    }
    for i in 0..400 {
        assert!(
            seen.contains(&format!("f{i}")),
            "f{i} was present throughout"
        );
    }
}

/// Binary fields and values round-trip.
#[test]
fn binary_safe() {
    let mut db = Db::new();
    let field = Bytes::from_static(b"f\x00\xff\r\n");
    let value = Bytes::from_static(b"\x00\x01");
    let args = [
        Bytes::from_static(b"HSET"),
        Bytes::from_static(b"h"),
        field.clone(),
        value.clone(),
    ];
    assert_eq!(db.run_args(&args), int(1));
    let get = [Bytes::from_static(b"HGET"), Bytes::from_static(b"h"), field];
    assert_eq!(db.run_args(&get), Reply::Bulk(value));
}

/// HINCRBY at the edges of i64: reaching either extreme is fine, one step
/// past it is the overflow error with the field unchanged, an increment
/// outside i64 or in a form Redis does not read as an integer is refused,
/// and a stored value in such a form is "not an integer".
#[test]
fn hincrby_at_the_edges_of_i64() {
    let mut db = Db::new();
    let overflow = "ERR increment or decrement would overflow";
    assert_eq!(
        db.run(&["HINCRBY", "h", "a", "9223372036854775807"]),
        int(i64::MAX)
    );
    assert_eq!(db.run(&["HINCRBY", "h", "a", "1"]), err(overflow));
    assert_eq!(
        db.run(&["HINCRBY", "h", "a", "-9223372036854775808"]),
        int(-1)
    );
    assert_eq!(
        db.run(&["HINCRBY", "h", "b", "-9223372036854775808"]),
        int(i64::MIN)
    );
    assert_eq!(db.run(&["HINCRBY", "h", "b", "-1"]), err(overflow));
    assert_eq!(db.run(&["HGET", "h", "b"]), bulk("-9223372036854775808"));
    assert_eq!(
        db.run(&["HINCRBY", "h", "b", "9223372036854775807"]),
        int(-1)
    );
    for increment in [
        "9223372036854775808",
        "-9223372036854775809",
        "+1",
        "01",
        "-0",
        " 1",
        "",
    ] {
        assert_eq!(
            db.run(&["HINCRBY", "h", "c", increment]),
            err(NOT_INTEGER),
            "{increment:?}"
        );
    }
    assert_eq!(db.run(&["HEXISTS", "h", "c"]), int(0));
    assert_eq!(db.run(&["HINCRBY", "h", "c", "0"]), int(0));
    assert_eq!(
        db.run(&["HGET", "h", "c"]),
        bulk("0"),
        "an increment of 0 creates"
    );
    for stored in ["", "01", "-0", "18446744073709551616", "1e3"] {
        db.run(&["HSET", "h", "e", stored]);
        assert_eq!(
            db.run(&["HINCRBY", "h", "e", "1"]),
            err("ERR hash value is not an integer"),
            "{stored:?}"
        );
        assert_eq!(db.run(&["HGET", "h", "e"]), bulk(stored));
    }
}

/// HINCRBYFLOAT with Redis's long double: exponents and hexadecimal in the
/// increment and in the stored value, 80-bit precision (1e20 + 1 is still
/// 1e20), digits beyond it rounded to 17 significant ones, a result as
/// large as 1e308 * 2 printed in full, and every infinity or NaN refused
/// with the text for where it came from, before any key is created.
#[test]
fn hincrbyfloat_edges() {
    let mut db = Db::new();
    assert_eq!(
        db.run(&["HINCRBYFLOAT", "h", "f", "1e20"]),
        bulk("100000000000000000000")
    );
    assert_eq!(
        db.run(&["HINCRBYFLOAT", "h", "f", "1"]),
        bulk("100000000000000000000")
    );
    assert_eq!(db.run(&["HINCRBYFLOAT", "h", "g", "5.0e3"]), bulk("5000"));
    assert_eq!(db.run(&["HINCRBYFLOAT", "h", "g", "-5000"]), bulk("0"));
    assert_eq!(db.run(&["HINCRBYFLOAT", "h", "g", "0x10"]), bulk("16"));
    assert_eq!(
        db.run(&["HINCRBYFLOAT", "h", "g", "1e-400"]),
        bulk("16"),
        "an underflowing increment is 0, not an error"
    );
    assert_eq!(
        db.run(&["HINCRBYFLOAT", "h", "g", "1.5e-10"]),
        bulk("16.00000000015")
    );
    assert_eq!(
        db.run(&["HINCRBYFLOAT", "h", "j", "1.23456789012345678901234567890"]),
        bulk("1.23456789012345679")
    );
    assert_eq!(
        db.run(&["HINCRBYFLOAT", "h", "k", "12345678901234567890123"]),
        bulk("12345678901234567889920")
    );
    assert_eq!(
        db.run(&["HINCRBYFLOAT", "h", "k", "-12345678901234567890123"]),
        bulk("0")
    );
    assert_eq!(db.run(&["HINCRBYFLOAT", "h", "l", "-0.0"]), bulk("0"));
    db.run(&["HINCRBYFLOAT", "h", "m", "1e308"]);
    let Reply::Bulk(doubled) = db.run(&["HINCRBYFLOAT", "h", "m", "1e308"]) else {
        panic!("HINCRBYFLOAT answers a bulk string");
    };
    assert_eq!(
        doubled.len(),
        309,
        "2e308 fits a long double and prints whole"
    );
    assert!(doubled.starts_with(b"19999999999999999999"));
    for (increment, expected) in [
        ("-inf", "ERR value is NaN or Infinity"),
        ("+inf", "ERR value is NaN or Infinity"),
        ("infinity", "ERR value is NaN or Infinity"),
        ("NaN", "ERR value is not a valid float"),
        (" 1", "ERR value is not a valid float"),
        ("1 ", "ERR value is not a valid float"),
        ("", "ERR value is not a valid float"),
    ] {
        assert_eq!(
            db.run(&["HINCRBYFLOAT", "h", "g", increment]),
            err(expected),
            "{increment:?}"
        );
        assert_eq!(
            db.run(&["HINCRBYFLOAT", "fresh", "g", increment]),
            err(expected)
        );
    }
    assert_eq!(db.run(&["EXISTS", "fresh"]), int(0));
    db.run(&["HSET", "h", "n", "inf"]);
    assert_eq!(
        db.run(&["HINCRBYFLOAT", "h", "n", "1"]),
        err("ERR increment would produce NaN or Infinity")
    );
    db.run(&["HSET", "h", "n", "nan"]);
    assert_eq!(
        db.run(&["HINCRBYFLOAT", "h", "n", "1"]),
        err("ERR hash value is not a float")
    );
    db.run(&["HSET", "h", "n", "0x10"]);
    assert_eq!(db.run(&["HINCRBYFLOAT", "h", "n", "1"]), bulk("17"));
    db.run(&["HSET", "h", "n", "1e3"]);
    assert_eq!(db.run(&["HINCRBYFLOAT", "h", "n", "1"]), bulk("1001"));
}
