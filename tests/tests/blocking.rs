//! Proves the blocking list commands (BLPOP, BRPOP, BLMOVE) behave as in
//! Redis 7: an element already there is served at once, a timeout answers
//! a nil array no sooner than asked, clients blocked on one key are served
//! in the order they arrived, a push on either shard wakes a client waiting
//! on keys of both, BLMOVE moves between shards once woken (or answers
//! WRONGTYPE and keeps the element), a client that disconnects while
//! blocked leaves no trace, and inside MULTI nothing blocks. Each blocked
//! client is known to be parked when INFO clients counts it. Every
//! expectation was checked against redis-server 7.0 (PETREL_E2E_TARGET=redis).

use std::time::{Duration, Instant};

use petrel_e2e::{key_on_shard, query, wait_until, RawConn, Reply, Server};

fn bulks(items: &[&str]) -> Reply {
    Reply::Array(items.iter().map(|item| Reply::bulk(item)).collect())
}

/// Waits until the server counts `count` blocked clients.
fn wait_blocked(server: &Server, count: usize) {
    let mut con = server.client();
    let field = format!("blocked_clients:{count}\r\n");
    wait_until(
        Duration::from_secs(5),
        &format!("INFO clients reports {field:?}"),
        || query::<String>(&mut con, &["INFO", "clients"]).contains(&field),
    );
}

/// Sends a blocking command on a fresh connection and waits until the
/// server has parked it (the `already` clients blocked before it, plus it).
fn block(server: &Server, already: usize, command: &[&str]) -> RawConn {
    let mut raw = server.raw();
    raw.send_command(command);
    wait_blocked(server, already + 1);
    raw
}

// An element already present is served at once, from the first key in
// argument order that has one; a timeout answers a nil array after at
// least the time asked; a bad timeout is refused with Redis's texts.
#[test]
fn immediate_serve_timeouts_and_errors() {
    let server = Server::start_default();
    let mut raw = server.raw();
    raw.command(&["RPUSH", "b", "1", "2"]);
    assert_eq!(raw.command(&["BLPOP", "a", "b", "0"]), bulks(&["b", "1"]));
    assert_eq!(raw.command(&["BRPOP", "a", "b", "0"]), bulks(&["b", "2"]));
    assert_eq!(raw.command(&["EXISTS", "b"]), Reply::Integer(0));
    for command in [
        &["BLPOP", "none", "0.2"][..],
        &["BRPOP", "none", "other", "0.2"],
        &["BLMOVE", "none", "dst", "LEFT", "RIGHT", "0.2"],
    ] {
        let started = Instant::now();
        assert_eq!(raw.command(command), Reply::Nil, "{command:?}");
        assert!(
            started.elapsed() >= Duration::from_millis(150),
            "{command:?} answered after only {:?}",
            started.elapsed()
        );
    }
    assert_eq!(raw.command(&["EXISTS", "dst"]), Reply::Integer(0));
    assert_eq!(
        raw.command(&["BLPOP", "none", "-1"]),
        Reply::Error("ERR timeout is negative".into())
    );
    assert_eq!(
        raw.command(&["BLPOP", "none", "x"]),
        Reply::Error("ERR timeout is not a float or out of range".into())
    );
    raw.command(&["SET", "string", "v"]);
    assert_eq!(
        raw.command(&["BLPOP", "string", "0"]),
        Reply::Error("WRONGTYPE Operation against a key holding the wrong kind of value".into())
    );
}

// Three clients blocked on one key in turn are served in that order by a
// single RPUSH of three elements; for BRPOP, two clients take the two
// pushed elements from the right, first come first served, and a third
// waits for the next push.
#[test]
fn blocked_clients_are_served_in_arrival_order() {
    let server = Server::start_default();
    let mut pusher = server.raw();
    let mut first = block(&server, 0, &["BLPOP", "q", "0"]);
    let mut second = block(&server, 1, &["BLPOP", "q", "0"]);
    let mut third = block(&server, 2, &["BLPOP", "q", "0"]);
    assert_eq!(
        pusher.command(&["RPUSH", "q", "1", "2", "3"]),
        Reply::Integer(3)
    );
    assert_eq!(first.read_reply(), bulks(&["q", "1"]));
    assert_eq!(second.read_reply(), bulks(&["q", "2"]));
    assert_eq!(third.read_reply(), bulks(&["q", "3"]));
    wait_blocked(&server, 0);

    let mut first = block(&server, 0, &["BRPOP", "r", "0"]);
    let mut second = block(&server, 1, &["BRPOP", "r", "0"]);
    let mut third = block(&server, 2, &["BRPOP", "r", "0"]);
    assert_eq!(pusher.command(&["RPUSH", "r", "1", "2"]), Reply::Integer(2));
    assert_eq!(first.read_reply(), bulks(&["r", "2"]));
    assert_eq!(second.read_reply(), bulks(&["r", "1"]));
    assert_eq!(pusher.command(&["LLEN", "r"]), Reply::Integer(0));
    wait_blocked(&server, 1);
    assert_eq!(pusher.command(&["RPUSH", "r", "x"]), Reply::Integer(1));
    assert_eq!(third.read_reply(), bulks(&["r", "x"]));
}

// A client blocked on keys of both shards wakes for a push on either;
// BLMOVE from a key on shard 0 to one on shard 1 moves the first pushed
// element once woken, and a destination of another type on the other
// shard answers WRONGTYPE and leaves the element in the source.
#[test]
fn a_push_on_either_shard_wakes_the_client() {
    let server = Server::start_default();
    let mut pusher = server.raw();
    let on_zero = key_on_shard("zero", 0, 2);
    let on_one = key_on_shard("one", 1, 2);
    for (pushed, expected) in [(&on_one, &on_one), (&on_zero, &on_zero)] {
        let mut waiter = block(&server, 0, &["BLPOP", &on_zero, &on_one, "0"]);
        assert_eq!(pusher.command(&["LPUSH", pushed, "v"]), Reply::Integer(1));
        assert_eq!(waiter.read_reply(), bulks(&[expected, "v"]));
        wait_blocked(&server, 0);
    }

    let mut mover = block(
        &server,
        0,
        &["BLMOVE", &on_zero, &on_one, "LEFT", "RIGHT", "0"],
    );
    assert_eq!(
        pusher.command(&["RPUSH", &on_zero, "a", "b"]),
        Reply::Integer(2)
    );
    assert_eq!(mover.read_reply(), Reply::bulk("a"));
    assert_eq!(
        pusher.command(&["LRANGE", &on_zero, "0", "-1"]),
        bulks(&["b"])
    );
    assert_eq!(
        pusher.command(&["LRANGE", &on_one, "0", "-1"]),
        bulks(&["a"])
    );

    let source = key_on_shard("source", 0, 2);
    let string = key_on_shard("string", 1, 2);
    pusher.command(&["SET", &string, "v"]);
    let mut mover = block(
        &server,
        0,
        &["BLMOVE", &source, &string, "LEFT", "LEFT", "0"],
    );
    assert_eq!(pusher.command(&["RPUSH", &source, "z"]), Reply::Integer(1));
    assert_eq!(
        mover.read_reply(),
        Reply::Error("WRONGTYPE Operation against a key holding the wrong kind of value".into())
    );
    assert_eq!(pusher.command(&["LLEN", &source]), Reply::Integer(1));
    assert_eq!(pusher.command(&["GET", &string]), Reply::bulk("v"));
}

// A client that disconnects while blocked stops counting as blocked and
// takes nothing: a later push stays in the list, or goes to the client
// that blocked after it.
#[test]
fn a_disconnected_blocked_client_leaves_no_trace() {
    let server = Server::start_default();
    let mut pusher = server.raw();
    let gone = block(&server, 0, &["BLPOP", "k", "0"]);
    drop(gone);
    wait_blocked(&server, 0);
    assert_eq!(pusher.command(&["RPUSH", "k", "x"]), Reply::Integer(1));
    assert_eq!(pusher.command(&["LLEN", "k"]), Reply::Integer(1));
    assert_eq!(pusher.command(&["DEL", "k"]), Reply::Integer(1));

    let gone = block(&server, 0, &["BLPOP", "k", "0"]);
    let mut stays = block(&server, 1, &["BLPOP", "k", "0"]);
    drop(gone);
    wait_blocked(&server, 1);
    assert_eq!(pusher.command(&["RPUSH", "k", "y"]), Reply::Integer(1));
    assert_eq!(stays.read_reply(), bulks(&["k", "y"]));
    assert_eq!(pusher.command(&["EXISTS", "k"]), Reply::Integer(0));
}

// Inside MULTI a blocking pop does not block: with nothing to pop it
// answers a nil array in EXEC's reply.
#[test]
fn nothing_blocks_inside_multi() {
    let server = Server::start_default();
    let mut raw = server.raw();
    assert_eq!(raw.command(&["MULTI"]), Reply::simple("OK"));
    assert_eq!(
        raw.command(&["BLPOP", "none", "0"]),
        Reply::simple("QUEUED")
    );
    assert_eq!(raw.command(&["EXEC"]), Reply::Array(vec![Reply::Nil]));
}
