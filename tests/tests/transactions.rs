//! Proves MULTI, EXEC, DISCARD, WATCH and UNWATCH behave as in Redis 7:
//! byte-exact queued replies and errors on a raw socket (QUEUED, EXECABORT
//! after a queuing error, runtime errors inside EXEC's array, EXEC and
//! DISCARD without MULTI, nested MULTI, WATCH inside MULTI), optimistic
//! locking against another connection (EXEC answers nil when a watched key
//! changed, was deleted, was created, or expired; UNWATCH and EXEC forget
//! the watch), transactions whose keys live on both shards, and many
//! clients transferring amounts between counters on different shards while
//! an observer reading every counter inside MULTI/EXEC always sees the same
//! total. Every expectation was checked against redis-server 7.0
//! (PETREL_E2E_TARGET=redis).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use petrel_e2e::{key_on_shard, query, RawConn, Reply, Server};

fn ok() -> Reply {
    Reply::simple("OK")
}

fn queued() -> Reply {
    Reply::simple("QUEUED")
}

fn error(text: &str) -> Reply {
    Reply::Error(text.to_owned())
}

// Commands between MULTI and EXEC answer +QUEUED and run only at EXEC,
// which answers their replies in order; a runtime error (WRONGTYPE, not an
// integer) takes its place in the array and the other commands still run.
#[test]
fn queued_commands_run_at_exec() {
    let server = Server::start_default();
    let mut raw = server.raw();
    let mut other = server.raw();
    assert_eq!(raw.command(&["MULTI"]), ok());
    assert_eq!(raw.command(&["SET", "a", "1"]), queued());
    assert_eq!(raw.command(&["INCR", "a"]), queued());
    assert_eq!(raw.command(&["GET", "a"]), queued());
    assert_eq!(
        other.command(&["GET", "a"]),
        Reply::Nil,
        "nothing ran before EXEC"
    );
    assert_eq!(
        raw.command(&["EXEC"]),
        Reply::Array(vec![ok(), Reply::Integer(2), Reply::bulk("2")])
    );
    assert_eq!(raw.command(&["SET", "s", "v"]), ok());
    assert_eq!(raw.command(&["MULTI"]), ok());
    assert_eq!(raw.command(&["LPUSH", "s", "x"]), queued());
    assert_eq!(raw.command(&["INCR", "s"]), queued());
    assert_eq!(raw.command(&["SET", "b", "2"]), queued());
    assert_eq!(
        raw.command(&["EXEC"]),
        Reply::Array(vec![
            error("WRONGTYPE Operation against a key holding the wrong kind of value"),
            error("ERR value is not an integer or out of range"),
            ok(),
        ])
    );
    assert_eq!(other.command(&["GET", "b"]), Reply::bulk("2"));
    assert_eq!(raw.command(&["MULTI"]), ok());
    assert_eq!(raw.command(&["EXEC"]), Reply::Array(Vec::new()));
}

// A command refused while queuing (unknown, wrong arity) makes EXEC answer
// EXECABORT and run nothing; EXEC and DISCARD without MULTI, nested MULTI
// and WATCH inside MULTI are errors (the last two leave the transaction
// going); DISCARD drops the queue.
#[test]
fn errors_and_discard() {
    let server = Server::start_default();
    let mut raw = server.raw();
    assert_eq!(raw.command(&["SET", "a", "2"]), ok());
    assert_eq!(raw.command(&["MULTI"]), ok());
    assert_eq!(raw.command(&["SET", "a", "5"]), queued());
    assert_eq!(
        raw.command(&["NOSUCH", "x"]),
        error("ERR unknown command 'NOSUCH', with args beginning with: 'x' ")
    );
    assert_eq!(
        raw.command(&["GET"]),
        error("ERR wrong number of arguments for 'get' command")
    );
    assert_eq!(
        raw.command(&["EXEC"]),
        error("EXECABORT Transaction discarded because of previous errors.")
    );
    assert_eq!(raw.command(&["GET", "a"]), Reply::bulk("2"));

    assert_eq!(raw.command(&["EXEC"]), error("ERR EXEC without MULTI"));
    assert_eq!(
        raw.command(&["DISCARD"]),
        error("ERR DISCARD without MULTI")
    );

    assert_eq!(raw.command(&["MULTI"]), ok());
    assert_eq!(raw.command(&["INCR", "a"]), queued());
    assert_eq!(
        raw.command(&["MULTI"]),
        error("ERR MULTI calls can not be nested")
    );
    assert_eq!(
        raw.command(&["WATCH", "a"]),
        error("ERR WATCH inside MULTI is not allowed")
    );
    assert_eq!(raw.command(&["INCR", "a"]), queued());
    assert_eq!(
        raw.command(&["EXEC"]),
        Reply::Array(vec![Reply::Integer(3), Reply::Integer(4)]),
        "neither error aborted the transaction"
    );

    assert_eq!(raw.command(&["MULTI"]), ok());
    assert_eq!(raw.command(&["SET", "a", "9"]), queued());
    assert_eq!(raw.command(&["DISCARD"]), ok());
    assert_eq!(raw.command(&["GET", "a"]), Reply::bulk("4"));
    assert_eq!(raw.command(&["EXEC"]), error("ERR EXEC without MULTI"));

    assert_eq!(raw.command(&["MULTI"]), ok());
    assert_eq!(raw.command(&["UNWATCH"]), queued());
    assert_eq!(raw.command(&["PING"]), queued());
    assert_eq!(
        raw.command(&["EXEC"]),
        Reply::Array(vec![ok(), Reply::simple("PONG")])
    );
}

fn watched_exec(raw: &mut RawConn, command: &[&str]) -> Reply {
    assert_eq!(raw.command(&["MULTI"]), ok());
    assert_eq!(raw.command(command), queued());
    raw.command(&["EXEC"])
}

// WATCH: a change from another connection (a write, a delete, creating a
// watched missing key, setting a deadline, FLUSHALL) or from the watching
// connection itself makes EXEC answer nil and run nothing; a watched key
// nobody touched, a DEL of a missing key, and UNWATCH let EXEC run; EXEC
// forgets the watch whatever it answered.
#[test]
fn watch_aborts_exec_when_a_key_changed() {
    let server = Server::start_default();
    let mut raw = server.raw();
    let mut other = server.raw();
    assert_eq!(raw.command(&["SET", "a", "0"]), ok());

    assert_eq!(raw.command(&["WATCH", "a"]), ok());
    assert_eq!(other.command(&["SET", "a", "other"]), ok());
    assert_eq!(watched_exec(&mut raw, &["SET", "a", "mine"]), Reply::Nil);
    assert_eq!(raw.command(&["GET", "a"]), Reply::bulk("other"));
    assert_eq!(
        watched_exec(&mut raw, &["SET", "a", "mine"]),
        Reply::Array(vec![ok()]),
        "the failed EXEC forgot the watch"
    );

    assert_eq!(raw.command(&["WATCH", "a"]), ok());
    assert_eq!(
        watched_exec(&mut raw, &["GET", "a"]),
        Reply::Array(vec![Reply::bulk("mine")]),
        "nobody touched it"
    );

    assert_eq!(raw.command(&["WATCH", "a"]), ok());
    assert_eq!(other.command(&["SET", "a", "mine"]), ok());
    assert_eq!(
        watched_exec(&mut raw, &["GET", "a"]),
        Reply::Nil,
        "writing the same value is a change"
    );

    assert_eq!(raw.command(&["WATCH", "a"]), ok());
    assert_eq!(other.command(&["SET", "a", "x"]), ok());
    assert_eq!(raw.command(&["UNWATCH"]), ok());
    assert_eq!(
        watched_exec(&mut raw, &["GET", "a"]),
        Reply::Array(vec![Reply::bulk("x")])
    );

    assert_eq!(raw.command(&["WATCH", "a"]), ok());
    assert_eq!(raw.command(&["SET", "a", "self"]), ok());
    assert_eq!(
        watched_exec(&mut raw, &["GET", "a"]),
        Reply::Nil,
        "the watcher's own write counts too"
    );

    assert_eq!(raw.command(&["WATCH", "missing"]), ok());
    assert_eq!(
        watched_exec(&mut raw, &["GET", "missing"]),
        Reply::Array(vec![Reply::Nil])
    );
    assert_eq!(raw.command(&["WATCH", "missing"]), ok());
    assert_eq!(other.command(&["DEL", "missing"]), Reply::Integer(0));
    assert_eq!(
        watched_exec(&mut raw, &["GET", "missing"]),
        Reply::Array(vec![Reply::Nil]),
        "deleting nothing changes nothing"
    );
    assert_eq!(raw.command(&["WATCH", "missing"]), ok());
    assert_eq!(other.command(&["SET", "missing", "1"]), ok());
    assert_eq!(watched_exec(&mut raw, &["GET", "missing"]), Reply::Nil);
    assert_eq!(raw.command(&["WATCH", "missing"]), ok());
    assert_eq!(other.command(&["DEL", "missing"]), Reply::Integer(1));
    assert_eq!(watched_exec(&mut raw, &["GET", "missing"]), Reply::Nil);

    assert_eq!(raw.command(&["WATCH", "a"]), ok());
    assert_eq!(other.command(&["EXPIRE", "a", "100"]), Reply::Integer(1));
    assert_eq!(watched_exec(&mut raw, &["GET", "a"]), Reply::Nil);

    assert_eq!(raw.command(&["WATCH", "a"]), ok());
    assert_eq!(other.command(&["FLUSHALL"]), ok());
    assert_eq!(watched_exec(&mut raw, &["GET", "a"]), Reply::Nil);
}

// A watched key whose deadline passes between WATCH and EXEC counts as
// changed, although nobody wrote it.
#[test]
fn watch_on_a_key_that_expires() {
    let server = Server::start_default();
    let mut raw = server.raw();
    assert_eq!(raw.command(&["SET", "e", "v", "PX", "100"]), ok());
    assert_eq!(raw.command(&["WATCH", "e"]), ok());
    thread::sleep(Duration::from_millis(300));
    assert_eq!(watched_exec(&mut raw, &["GET", "e"]), Reply::Nil);
    assert_eq!(raw.command(&["EXISTS", "e"]), Reply::Integer(0));
}

// One transaction over keys of both shards: every command runs, in order,
// and a WATCH on keys of both shards aborts it when either changes.
#[test]
fn transactions_over_both_shards() {
    let server = Server::start_default();
    let mut raw = server.raw();
    let mut other = server.raw();
    let left = key_on_shard("left", 0, 2);
    let right = key_on_shard("right", 1, 2);
    assert_eq!(raw.command(&["MULTI"]), ok());
    assert_eq!(raw.command(&["SET", &left, "10"]), queued());
    assert_eq!(raw.command(&["SET", &right, "20"]), queued());
    assert_eq!(raw.command(&["DECRBY", &left, "3"]), queued());
    assert_eq!(raw.command(&["INCRBY", &right, "3"]), queued());
    assert_eq!(raw.command(&["MGET", &left, &right]), queued());
    assert_eq!(
        raw.command(&["EXEC"]),
        Reply::Array(vec![
            ok(),
            ok(),
            Reply::Integer(7),
            Reply::Integer(23),
            Reply::Array(vec![Reply::bulk("7"), Reply::bulk("23")]),
        ])
    );
    for changed in [&left, &right] {
        assert_eq!(raw.command(&["WATCH", &left, &right]), ok());
        let expected = if changed == &left { 8 } else { 24 };
        assert_eq!(other.command(&["INCR", changed]), Reply::Integer(expected));
        assert_eq!(raw.command(&["MULTI"]), ok());
        assert_eq!(raw.command(&["SET", &left, "0"]), queued());
        assert_eq!(raw.command(&["SET", &right, "0"]), queued());
        assert_eq!(raw.command(&["EXEC"]), Reply::Nil, "{changed} changed");
    }
    assert_eq!(
        raw.command(&["MGET", &left, &right]),
        Reply::Array(vec![Reply::bulk("8"), Reply::bulk("24")])
    );
}

const ACCOUNTS: usize = 4;
const START_BALANCE: i64 = 1_000;

// Eight clients move money between four counters (two on each shard) for
// a while: four with WATCH, GET and a MULTI/EXEC that moves only what the
// source holds (retrying through redis-rs's transaction helper when EXEC
// answers nil), four with plain MULTI/EXEC of DECRBY and INCRBY. An
// observer reads every counter with MGET inside MULTI/EXEC again and
// again: the total is the same at every observed point and at the end.
#[test]
fn cross_shard_transfers_keep_the_total() {
    let server = Server::start_default();
    let accounts: Vec<String> = (0..ACCOUNTS)
        .map(|index| key_on_shard(&format!("acct{index}"), index % 2, 2))
        .collect();
    let mut con = server.client();
    for account in &accounts {
        query::<String>(&mut con, &["SET", account, &START_BALANCE.to_string()]);
    }
    let total = START_BALANCE * ACCOUNTS as i64;
    let done = Arc::new(AtomicBool::new(false));

    let observer = {
        let url = server.url();
        let accounts = accounts.clone();
        let done = Arc::clone(&done);
        thread::spawn(move || {
            let mut con = petrel_e2e::connect_url(&url);
            let mut observations = 0usize;
            while !done.load(Ordering::Relaxed) || observations < 10 {
                let (balances,): (Vec<i64>,) = redis::pipe()
                    .atomic()
                    .cmd("MGET")
                    .arg(&accounts)
                    .query(&mut con)
                    .expect("MGET inside MULTI/EXEC");
                assert_eq!(
                    balances.iter().sum::<i64>(),
                    total,
                    "observed balances {balances:?}"
                );
                observations += 1;
            }
            observations
        })
    };

    let movers: Vec<_> = (0..8)
        .map(|worker| {
            let url = server.url();
            let accounts = accounts.clone();
            thread::spawn(move || {
                let mut con = petrel_e2e::connect_url(&url);
                for step in 0..150usize {
                    let from = &accounts[(worker + step) % ACCOUNTS];
                    let to = &accounts[(worker + step * 3 + 1) % ACCOUNTS];
                    if from == to {
                        continue;
                    }
                    let amount = ((worker * 31 + step * 7) % 50 + 1) as i64;
                    if worker % 2 == 0 {
                        let moved: i64 = redis::transaction(&mut con, &[from, to], |con, pipe| {
                            let balance: i64 = redis::cmd("GET").arg(from).query(con)?;
                            let amount = amount.min(balance);
                            pipe.cmd("DECRBY")
                                .arg(from)
                                .arg(amount)
                                .ignore()
                                .cmd("INCRBY")
                                .arg(to)
                                .arg(amount)
                                .ignore()
                                .query::<Option<()>>(con)
                                .map(|outcome| outcome.map(|()| amount))
                        })
                        .expect("WATCHed transfer");
                        assert!(moved >= 0);
                    } else {
                        let (_, _): (i64, i64) = redis::pipe()
                            .atomic()
                            .cmd("DECRBY")
                            .arg(from)
                            .arg(amount)
                            .cmd("INCRBY")
                            .arg(to)
                            .arg(amount)
                            .query(&mut con)
                            .expect("plain MULTI/EXEC transfer");
                    }
                }
            })
        })
        .collect();
    for mover in movers {
        mover.join().expect("a mover thread panicked");
    }
    done.store(true, Ordering::Relaxed);
    let observations = observer.join().expect("the observer panicked");
    assert!(observations >= 10);
    let balances: Vec<i64> = redis::cmd("MGET")
        .arg(&accounts)
        .query(&mut con)
        .expect("final MGET");
    assert_eq!(balances.iter().sum::<i64>(), total, "final {balances:?}");
}
