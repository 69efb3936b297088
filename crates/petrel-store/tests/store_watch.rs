//! WATCH's bookkeeping on one shard, without threads: which changes make a
//! watched key's token stale (EXEC then answers nil) and which do not.

use bytes::Bytes;
use petrel_resp::Reply;
use petrel_store::{table, ExecContext, Shard, ShardOp, ShardReply, WatchToken};

const NOW_MS: u64 = 1_700_000_000_000;

fn ctx(now_ms: u64) -> ExecContext {
    ExecContext {
        now_ms,
        shard_id: 0,
        shard_count: 1,
    }
}

fn run(shard: &mut Shard, words: &[&str], now_ms: u64) -> Reply {
    let args: Vec<Bytes> = words
        .iter()
        .map(|word| Bytes::copy_from_slice(word.as_bytes()))
        .collect();
    let spec = table::lookup(&args[0]).expect("command in the table");
    shard.execute(0, spec, &args, &ctx(now_ms))
}

fn watch(shard: &mut Shard, key: &str) -> WatchToken {
    let keys = vec![Bytes::copy_from_slice(key.as_bytes())];
    match shard.apply(0, ShardOp::Watch { keys }, &ctx(NOW_MS)) {
        ShardReply::Watched(tokens) => tokens[0],
        other => panic!("WATCH answered {other:?}"),
    }
}

fn holds(shard: &mut Shard, key: &str, token: WatchToken, now_ms: u64) -> bool {
    let keys = vec![(Bytes::copy_from_slice(key.as_bytes()), token)];
    match shard.apply(0, ShardOp::CheckWatches { keys }, &ctx(now_ms)) {
        ShardReply::Reply(Reply::Integer(answer)) => answer == 1,
        other => panic!("check answered {other:?}"),
    }
}

#[test]
fn a_write_to_the_watched_key_breaks_the_watch() {
    let mut shard = Shard::new(1);
    run(&mut shard, &["SET", "balance", "10"], NOW_MS);
    let token = watch(&mut shard, "balance");
    assert!(holds(&mut shard, "balance", token, NOW_MS));
    run(&mut shard, &["GET", "balance"], NOW_MS);
    run(&mut shard, &["SET", "other", "1"], NOW_MS);
    assert!(
        holds(&mut shard, "balance", token, NOW_MS),
        "reads and other keys leave it"
    );
    run(&mut shard, &["INCRBY", "balance", "5"], NOW_MS);
    assert!(!holds(&mut shard, "balance", token, NOW_MS));
}

#[test]
fn a_failed_write_changes_nothing_and_keeps_the_watch() {
    let mut shard = Shard::new(1);
    run(&mut shard, &["SET", "name", "petrel"], NOW_MS);
    let token = watch(&mut shard, "name");
    let reply = run(&mut shard, &["LPUSH", "name", "x"], NOW_MS);
    assert!(reply.is_error(), "LPUSH on a string is WRONGTYPE");
    assert!(holds(&mut shard, "name", token, NOW_MS));
}

#[test]
fn creating_a_watched_absent_key_breaks_the_watch() {
    let mut shard = Shard::new(1);
    let token = watch(&mut shard, "queue");
    assert!(!token.existed);
    run(&mut shard, &["RPUSH", "queue", "job"], NOW_MS);
    assert!(!holds(&mut shard, "queue", token, NOW_MS));
}

#[test]
fn expiry_after_watch_breaks_the_watch_even_before_reclaim() {
    let mut shard = Shard::new(1);
    run(&mut shard, &["SET", "session", "x", "PX", "100"], NOW_MS);
    let token = watch(&mut shard, "session");
    assert!(token.existed);
    assert!(holds(&mut shard, "session", token, NOW_MS + 50));
    // Logically expired, not yet reclaimed by any access: still stale.
    assert!(!holds(&mut shard, "session", token, NOW_MS + 200));
}

#[test]
fn a_flush_breaks_every_watch() {
    let mut shard = Shard::new(1);
    run(&mut shard, &["SET", "a", "1"], NOW_MS);
    let token = watch(&mut shard, "a");
    run(&mut shard, &["FLUSHDB"], NOW_MS);
    assert!(!holds(&mut shard, "a", token, NOW_MS));
}

#[test]
fn unwatched_keys_are_no_longer_tracked() {
    let mut shard = Shard::new(1);
    let first = watch(&mut shard, "k");
    let second = watch(&mut shard, "k");
    let keys = vec![Bytes::from_static(b"k")];
    shard.apply(0, ShardOp::Unwatch { keys: keys.clone() }, &ctx(NOW_MS));
    run(&mut shard, &["SET", "k", "v"], NOW_MS);
    // One watcher remains, and sees the change.
    assert!(!holds(&mut shard, "k", second, NOW_MS));
    shard.apply(0, ShardOp::Unwatch { keys }, &ctx(NOW_MS));
    assert!(!shard.databases[0].has_watchers());
    // A token for a key nobody watches any more never holds.
    assert!(!holds(&mut shard, "k", first, NOW_MS));
}
