//! Shared helpers for the session tests: a session, an environment, and a
//! way to run one command the way the engine does, without a socket.

#![allow(dead_code, reason = "each test file uses a different subset")]

use bytes::{Bytes, BytesMut};
use petrel_resp::Reply;
use petrel_store::session::{self, Outcome, Session, SessionEnv};
use petrel_store::table;

pub const NOW_MS: u64 = 1_795_812_893_688;

/// The environment of database `default` on port 6379, with `password`.
pub fn env(password: Option<&'static str>) -> SessionEnv<'static> {
    SessionEnv {
        now_ms: NOW_MS,
        password,
        database_name: "default",
        port: 6379,
        proto_max_bulk_len: 536_870_912,
        maxmemory_bytes: 1 << 30,
        maxclients: 4_064,
        tcp_keepalive_secs: 120,
        slowlog_log_slower_than_us: 10_000,
        slowlog_max_len: 128,
        shard_count: 2,
    }
}

/// A fresh connection from 10.0.0.7:51000 to 127.0.0.1:6379.
pub fn session(password_required: bool) -> Session {
    Session::new(
        7,
        0,
        "10.0.0.7:51000",
        "127.0.0.1:6379",
        NOW_MS - 2_000,
        password_required,
    )
}

pub fn args(words: &[&str]) -> Vec<Bytes> {
    words
        .iter()
        .map(|word| Bytes::copy_from_slice(word.as_bytes()))
        .collect()
}

/// Runs one command as the engine does: looks up its row, checks arity,
/// then calls [`session::handle`].
pub fn run(session: &mut Session, env: &SessionEnv, words: &[&str]) -> Outcome {
    let args = args(words);
    let spec = table::lookup(&args[0]).expect("command is in the table");
    if !spec.arity_ok(args.len()) {
        return Outcome::Reply(table::arity_error_reply(&args[0]));
    }
    session::handle(session, spec, &args, env)
}

/// Runs a command that answers at once and returns its reply.
pub fn reply(session: &mut Session, env: &SessionEnv, words: &[&str]) -> Reply {
    match run(session, env, words) {
        Outcome::Reply(reply) => reply,
        other => panic!("{words:?} did not answer at once: {other:?}"),
    }
}

pub fn bulk(text: &str) -> Reply {
    Reply::Bulk(Bytes::copy_from_slice(text.as_bytes()))
}

pub fn error(text: &str) -> Reply {
    Reply::Error(Bytes::copy_from_slice(text.as_bytes()))
}

/// The bytes a client receives for `reply` in `protocol`.
pub fn wire(reply: &Reply, protocol: u8) -> String {
    let mut out = BytesMut::new();
    petrel_resp::encode(reply, protocol, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// The text of a bulk or verbatim reply.
pub fn text(reply: &Reply) -> String {
    match reply {
        Reply::Bulk(data) | Reply::Verbatim(_, data) => String::from_utf8_lossy(data).into_owned(),
        other => panic!("not a string reply: {other:?}"),
    }
}

/// Looks `key` up in a map reply.
pub fn field<'a>(map: &'a Reply, key: &str) -> Option<&'a Reply> {
    match map {
        Reply::Map(pairs) => pairs
            .iter()
            .find(|(name, _)| matches!(name, Reply::Bulk(name) if name == key.as_bytes()))
            .map(|(_, value)| value),
        other => panic!("not a map: {other:?}"),
    }
}
