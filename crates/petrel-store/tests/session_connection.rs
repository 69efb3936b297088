//! The connection family through `session::handle`: PING, ECHO, HELLO, AUTH,
//! SELECT, QUIT, RESET and CLIENT, checked against the replies and error
//! texts of a real Redis 7.0 server, in RESP2 and RESP3 wire form.

mod session_support;

use bytes::Bytes;
use petrel_resp::Reply;
use petrel_store::session::{
    client_list_line, finish_gather, ClientType, GatherRequest, KillFilter, NodeSnapshot, Outcome,
    Session, ThreadSnapshot,
};
use session_support::{bulk, env, error, field, reply, run, session, text, wire, NOW_MS};

// PING answers +PONG in both protocols and echoes a message as a bulk string.
#[test]
fn ping_and_echo() {
    let env = env(None);
    let mut session = session(false);
    let pong = reply(&mut session, &env, &["PING"]);
    assert_eq!(wire(&pong, 2), "+PONG\r\n");
    assert_eq!(wire(&pong, 3), "+PONG\r\n");
    assert_eq!(reply(&mut session, &env, &["ping", "hello"]), bulk("hello"));
    assert_eq!(
        reply(&mut session, &env, &["PING", "a", "b"]),
        error("ERR wrong number of arguments for 'ping' command")
    );
    assert_eq!(reply(&mut session, &env, &["ECHO", "x y"]), bulk("x y"));
    assert_eq!(
        reply(&mut session, &env, &["ECHO"]),
        error("ERR wrong number of arguments for 'echo' command")
    );
}

// HELLO 3 switches the connection to RESP3 and answers the map Redis sends,
// naming Petrel as the server.
#[test]
fn hello_3_switches_to_resp3() {
    let env = env(None);
    let mut session = session(false);
    let map = reply(&mut session, &env, &["HELLO", "3"]);
    assert_eq!(session.protocol, 3);
    assert_eq!(
        map,
        Reply::Map(vec![
            (bulk("server"), bulk("petrel")),
            (bulk("version"), bulk(env!("CARGO_PKG_VERSION"))),
            (bulk("proto"), Reply::Integer(3)),
            (bulk("id"), Reply::Integer(7)),
            (bulk("mode"), bulk("standalone")),
            (bulk("role"), bulk("master")),
            (bulk("modules"), Reply::Array(vec![])),
        ])
    );
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        wire(&map, 3),
        format!(
            "%7\r\n$6\r\nserver\r\n$6\r\npetrel\r\n$7\r\nversion\r\n${}\r\n{version}\r\n\
             $5\r\nproto\r\n:3\r\n$2\r\nid\r\n:7\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n\
             $4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n",
            version.len()
        )
    );
    // HELLO without a version reports the current protocol and keeps it.
    let current = reply(&mut session, &env, &["HELLO"]);
    assert_eq!(field(&current, "proto"), Some(&Reply::Integer(3)));
    let back = reply(&mut session, &env, &["HELLO", "2"]);
    assert_eq!(session.protocol, 2);
    assert!(wire(&back, 2).starts_with("*14\r\n$6\r\nserver\r\n"));
}

// HELLO's argument errors are Redis's, and a failed HELLO changes nothing.
#[test]
fn hello_errors() {
    let env = env(None);
    let mut session = session(false);
    let cases: &[(&[&str], &str)] = &[
        (&["HELLO", "4"], "NOPROTO unsupported protocol version"),
        (&["HELLO", "1"], "NOPROTO unsupported protocol version"),
        (
            &["HELLO", "x"],
            "ERR Protocol version is not an integer or out of range",
        ),
        (
            &["HELLO", "3", "FOO"],
            "ERR Syntax error in HELLO option 'FOO'",
        ),
        (
            &["HELLO", "3", "AUTH", "x"],
            "ERR Syntax error in HELLO option 'AUTH'",
        ),
        (
            &["HELLO", "3", "SETNAME"],
            "ERR Syntax error in HELLO option 'SETNAME'",
        ),
        (
            &["HELLO", "3", "SETNAME", "a", "b"],
            "ERR Syntax error in HELLO option 'b'",
        ),
        (
            &["HELLO", "3", "SETNAME", "a b"],
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ),
    ];
    for (words, expected) in cases {
        assert_eq!(
            reply(&mut session, &env, words),
            error(expected),
            "{words:?}"
        );
        assert_eq!(session.protocol, 2, "{words:?}");
        assert_eq!(session.name, None, "{words:?}");
    }
}

// With a password set, HELLO needs AUTH in it (or before it); HELLO AUTH
// authenticates, picks the protocol and names the connection in one step.
#[test]
fn hello_with_password() {
    let env = env(Some("secret"));
    let mut session = session(true);
    assert_eq!(
        reply(&mut session, &env, &["HELLO", "3"]),
        error(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the \
             HELLO AUTH <user> <pass> option can be used to authenticate the client and select \
             the RESP protocol version at the same time"
        )
    );
    assert_eq!(
        reply(
            &mut session,
            &env,
            &["HELLO", "3", "AUTH", "default", "wrong"]
        ),
        error("WRONGPASS invalid username-password pair or user is disabled.")
    );
    assert_eq!(
        reply(&mut session, &env, &["HELLO", "3", "AUTH", "bob", "secret"]),
        error("WRONGPASS invalid username-password pair or user is disabled.")
    );
    assert!(!session.authenticated);
    assert_eq!(session.protocol, 2);
    let map = reply(
        &mut session,
        &env,
        &[
            "hello", "3", "auth", "default", "secret", "setname", "worker-1",
        ],
    );
    assert_eq!(field(&map, "proto"), Some(&Reply::Integer(3)));
    assert!(session.authenticated);
    assert_eq!(session.protocol, 3);
    assert_eq!(session.name.as_deref(), Some(&b"worker-1"[..]));
}

// AUTH without a configured password: the one-argument form is refused
// with Redis's hint, the default user takes any password, others fail.
#[test]
fn auth_without_password() {
    let env = env(None);
    let mut session = session(false);
    assert_eq!(
        reply(&mut session, &env, &["AUTH", "x"]),
        error(
            "ERR AUTH <password> called without any password configured for the default user. \
             Are you sure your configuration is correct?"
        )
    );
    assert_eq!(
        reply(&mut session, &env, &["AUTH", "default", "anything"]),
        Reply::ok()
    );
    assert_eq!(
        reply(&mut session, &env, &["AUTH", "bob", "x"]),
        error("WRONGPASS invalid username-password pair or user is disabled.")
    );
    assert_eq!(
        reply(&mut session, &env, &["AUTH", "a", "b", "c"]),
        error("ERR syntax error")
    );
    assert_eq!(
        reply(&mut session, &env, &["AUTH"]),
        error("ERR wrong number of arguments for 'auth' command")
    );
}

// AUTH with a password: both forms work, a wrong password fails without
// undoing an earlier success, and user names are case-sensitive.
#[test]
fn auth_with_password() {
    let env = env(Some("secret"));
    let mut session = session(true);
    assert!(!session.authenticated);
    let wrongpass = error("WRONGPASS invalid username-password pair or user is disabled.");
    assert_eq!(reply(&mut session, &env, &["AUTH", "wrong"]), wrongpass);
    assert_eq!(reply(&mut session, &env, &["AUTH", "secre"]), wrongpass);
    assert_eq!(reply(&mut session, &env, &["AUTH", "secret!"]), wrongpass);
    assert_eq!(
        reply(&mut session, &env, &["AUTH", "DEFAULT", "secret"]),
        wrongpass
    );
    assert!(!session.authenticated);
    assert_eq!(reply(&mut session, &env, &["AUTH", "secret"]), Reply::ok());
    assert!(session.authenticated);
    assert_eq!(reply(&mut session, &env, &["AUTH", "wrong"]), wrongpass);
    assert!(session.authenticated);

    let mut other = session_support::session(true);
    assert_eq!(
        reply(&mut other, &env, &["AUTH", "default", "secret"]),
        Reply::ok()
    );
    assert!(other.authenticated);
}

// SELECT 0 is the database itself; any other index is refused as a Redis
// cluster refuses it.
#[test]
fn select() {
    let env = env(None);
    let mut session = session(false);
    assert_eq!(reply(&mut session, &env, &["SELECT", "0"]), Reply::ok());
    assert_eq!(
        reply(&mut session, &env, &["SELECT", "1"]),
        error("ERR SELECT is not allowed in cluster mode")
    );
    for bad in ["x", "", "1.5", "99999999999"] {
        assert_eq!(
            reply(&mut session, &env, &["SELECT", bad]),
            error("ERR value is not an integer or out of range"),
            "{bad}"
        );
    }
}

// QUIT answers OK and closes the connection, whatever follows it.
#[test]
fn quit_closes() {
    let env = env(None);
    let mut session = session(false);
    assert_eq!(
        run(&mut session, &env, &["QUIT"]),
        Outcome::ReplyAndClose(Reply::ok())
    );
    assert_eq!(
        run(&mut session, &env, &["quit", "now"]),
        Outcome::ReplyAndClose(Reply::ok())
    );
}

// RESET answers +RESET and restores RESP2, no name, no modes, and the
// need to authenticate again; the client library's name stays.
#[test]
fn reset_restores_defaults() {
    let env = env(Some("secret"));
    let mut session = session(true);
    reply(
        &mut session,
        &env,
        &["HELLO", "3", "AUTH", "default", "secret", "SETNAME", "n"],
    );
    reply(
        &mut session,
        &env,
        &["CLIENT", "SETINFO", "LIB-NAME", "redis-py"],
    );
    reply(&mut session, &env, &["CLIENT", "NO-EVICT", "on"]);
    reply(&mut session, &env, &["CLIENT", "REPLY", "OFF"]);
    let answer = reply(&mut session, &env, &["RESET"]);
    assert_eq!(wire(&answer, 3), "+RESET\r\n");
    assert_eq!(session.protocol, 2);
    assert_eq!(session.name, None);
    assert!(!session.authenticated);
    assert!(!session.no_evict);
    assert!(!session.replies_off);
    assert!(session.should_reply());
    assert_eq!(session.lib_name.as_deref(), Some(&b"redis-py"[..]));

    let open_env = session_support::env(None);
    let mut open = session_support::session(false);
    reply(&mut open, &open_env, &["RESET"]);
    assert!(open.authenticated);
}

// CLIENT ID, SETNAME and GETNAME, with Redis's name rules.
#[test]
fn client_names() {
    let env = env(None);
    let mut session = session(false);
    assert_eq!(
        reply(&mut session, &env, &["CLIENT", "ID"]),
        Reply::Integer(7)
    );
    assert_eq!(
        reply(&mut session, &env, &["CLIENT", "GETNAME"]),
        Reply::Nil
    );
    assert_eq!(wire(&Reply::Nil, 2), "$-1\r\n");
    assert_eq!(
        reply(&mut session, &env, &["client", "setname", "api-7"]),
        Reply::ok()
    );
    assert_eq!(
        reply(&mut session, &env, &["CLIENT", "GETNAME"]),
        bulk("api-7")
    );
    for bad in ["a b", "a\nb", "a\x7f", "caf\u{e9}"] {
        assert_eq!(
            reply(&mut session, &env, &["CLIENT", "SETNAME", bad]),
            error("ERR Client names cannot contain spaces, newlines or special characters."),
            "{bad:?}"
        );
    }
    assert_eq!(
        reply(&mut session, &env, &["CLIENT", "GETNAME"]),
        bulk("api-7")
    );
    assert_eq!(
        reply(&mut session, &env, &["CLIENT", "SETNAME", ""]),
        Reply::ok()
    );
    assert_eq!(
        reply(&mut session, &env, &["CLIENT", "GETNAME"]),
        Reply::Nil
    );
    assert_eq!(
        reply(&mut session, &env, &["CLIENT", "SETNAME"]),
        error("ERR wrong number of arguments for 'client|setname' command")
    );
    assert_eq!(
        reply(&mut session, &env, &["CLIENT", "ID", "x"]),
        error("ERR wrong number of arguments for 'client|id' command")
    );
    assert_eq!(
        reply(&mut session, &env, &["CLIENT", "FOO"]),
        error("ERR unknown subcommand 'FOO'. Try CLIENT HELP.")
    );
    assert_eq!(
        reply(&mut session, &env, &["CLIENT"]),
        error("ERR wrong number of arguments for 'client' command")
    );
}

// CLIENT SETINFO records the library, as Redis 7.2 does.
#[test]
fn client_setinfo() {
    let env = env(None);
    let mut session = session(false);
    assert_eq!(
        reply(
            &mut session,
            &env,
            &["CLIENT", "SETINFO", "lib-name", "redis-py"]
        ),
        Reply::ok()
    );
    assert_eq!(
        reply(
            &mut session,
            &env,
            &["CLIENT", "SETINFO", "LIB-VER", "5.0.1"]
        ),
        Reply::ok()
    );
    assert_eq!(session.lib_name.as_deref(), Some(&b"redis-py"[..]));
    assert_eq!(session.lib_version.as_deref(), Some(&b"5.0.1"[..]));
    assert_eq!(
        reply(&mut session, &env, &["CLIENT", "SETINFO", "foo", "x"]),
        error("ERR Unrecognized option 'foo'")
    );
    assert_eq!(
        reply(
            &mut session,
            &env,
            &["CLIENT", "SETINFO", "lib-name", "a b"]
        ),
        error("ERR lib-name cannot contain spaces, newlines or special characters.")
    );
}

// CLIENT INFO answers at once with the connection's own line, in Redis
// 7.2's field order, as a verbatim string (a bulk string in RESP2).
#[test]
fn client_info_line() {
    let env = env(None);
    let mut session = session(false);
    reply(&mut session, &env, &["CLIENT", "SETNAME", "api"]);
    reply(
        &mut session,
        &env,
        &["CLIENT", "SETINFO", "LIB-NAME", "redis-py"],
    );
    let info = reply(&mut session, &env, &["CLIENT", "INFO"]);
    let expected = "id=7 addr=10.0.0.7:51000 laddr=127.0.0.1:6379 fd=-1 name=api age=2 idle=0 \
                    flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 \
                    multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r \
                    cmd=client|info user=default redir=-1 resp=2 lib-name=redis-py lib-ver= \
                    transport=plain tls-version= tls-cipher=\n";
    assert_eq!(text(&info), expected);
    assert!(matches!(info, Reply::Verbatim("txt", _)));
    assert_eq!(
        wire(&info, 2),
        format!("${}\r\n{expected}\r\n", expected.len())
    );
    assert_eq!(
        wire(&info, 3),
        format!("={}\r\ntxt:{expected}\r\n", expected.len() + 4)
    );

    // Idle time counts from the last command; no-evict and no-touch show as flags.
    reply(&mut session, &env, &["CLIENT", "NO-EVICT", "ON"]);
    reply(&mut session, &env, &["CLIENT", "NO-TOUCH", "on"]);
    let later = client_list_line(&session, NOW_MS + 5_000);
    assert!(later.contains(" age=7 idle=5 flags=eT "), "{later}");
    assert!(later.contains(" cmd=client|no-touch "), "{later}");
    reply(&mut session, &env, &["CLIENT", "NO-EVICT", "off"]);
    reply(&mut session, &env, &["CLIENT", "NO-TOUCH", "OFF"]);
    assert!(client_list_line(&session, NOW_MS).contains(" flags=N "));
    assert_eq!(
        reply(&mut session, &env, &["CLIENT", "NO-EVICT", "maybe"]),
        error("ERR syntax error")
    );
    // A connection that has run nothing yet shows cmd=NULL.
    let fresh = session_support::session(false);
    assert!(client_list_line(&fresh, NOW_MS).contains(" cmd=NULL "));
}

fn snapshot_with_clients() -> NodeSnapshot {
    let line = |id: u64, port: u16| {
        (
            id,
            format!("id={id} addr=10.0.0.1:1 laddr=127.0.0.1:{port} fd=9 name= cmd=get"),
        )
    };
    NodeSnapshot {
        threads: vec![
            ThreadSnapshot {
                client_lines: vec![line(9, 6379), line(3, 6379)],
                ..ThreadSnapshot::default()
            },
            ThreadSnapshot {
                client_lines: vec![line(5, 6380), line(7, 6379)],
                ..ThreadSnapshot::default()
            },
        ],
        ..NodeSnapshot::default()
    }
}

// CLIENT LIST gathers every thread's connections to this database's port,
// by id; ID filters answer in the order asked.
#[test]
fn client_list_gathers() {
    let env = env(None);
    let mut session = session(false);
    let snapshot = snapshot_with_clients();
    let outcome = run(&mut session, &env, &["CLIENT", "LIST"]);
    let Outcome::Gather(request) = outcome else {
        panic!("CLIENT LIST must gather: {outcome:?}");
    };
    assert_eq!(request, GatherRequest::ClientList { ids: None });
    assert_eq!(session.last_command, "client|list");
    let listed = text(&finish_gather(&session, &request, &snapshot, &env));
    let ids: Vec<&str> = listed
        .lines()
        .map(|line| line.split(' ').next().unwrap_or(""))
        .collect();
    assert_eq!(ids, ["id=3", "id=7", "id=9"]);
    assert!(listed.ends_with('\n'));

    let outcome = run(
        &mut session,
        &env,
        &["CLIENT", "LIST", "ID", "9", "5", "0", "3"],
    );
    assert_eq!(
        outcome,
        Outcome::Gather(GatherRequest::ClientList {
            ids: Some(vec![9, 5, 0, 3])
        })
    );
    let Outcome::Gather(request) = outcome else {
        unreachable!()
    };
    let listed = text(&finish_gather(&session, &request, &snapshot, &env));
    let ids: Vec<&str> = listed
        .lines()
        .map(|line| line.split(' ').next().unwrap_or(""))
        .collect();
    assert_eq!(ids, ["id=9", "id=3"]);

    assert_eq!(
        run(&mut session, &env, &["CLIENT", "LIST", "TYPE", "normal"]),
        Outcome::Gather(GatherRequest::ClientList { ids: None })
    );
    let empty = reply(&mut session, &env, &["CLIENT", "LIST", "TYPE", "replica"]);
    assert_eq!(wire(&empty, 2), "$0\r\n\r\n");
    assert_eq!(wire(&empty, 3), "=4\r\ntxt:\r\n");
    let cases: &[(&[&str], &str)] = &[
        (
            &["CLIENT", "LIST", "TYPE", "foo"],
            "ERR Unknown client type 'foo'",
        ),
        (&["CLIENT", "LIST", "TYPE"], "ERR syntax error"),
        (&["CLIENT", "LIST", "ID"], "ERR syntax error"),
        (&["CLIENT", "LIST", "ID", "1", "x"], "ERR Invalid client ID"),
        (&["CLIENT", "LIST", "foo"], "ERR syntax error"),
    ];
    for (words, expected) in cases {
        assert_eq!(
            reply(&mut session, &env, words),
            error(expected),
            "{words:?}"
        );
    }
}

// CLIENT REPLY OFF silences every reply (its own too) until ON; SKIP
// silences its own and the next command's.
#[test]
fn client_reply_modes() {
    let env = env(None);
    let mut session = session(false);
    reply(&mut session, &env, &["CLIENT", "REPLY", "OFF"]);
    assert!(!session.should_reply());
    reply(&mut session, &env, &["PING"]);
    assert!(!session.should_reply());
    assert_eq!(
        reply(&mut session, &env, &["CLIENT", "REPLY", "ON"]),
        Reply::ok()
    );
    assert!(session.should_reply());

    reply(&mut session, &env, &["CLIENT", "REPLY", "SKIP"]);
    assert!(!session.should_reply());
    reply(&mut session, &env, &["PING"]);
    assert!(!session.should_reply());
    reply(&mut session, &env, &["PING"]);
    assert!(session.should_reply());
    assert_eq!(
        reply(&mut session, &env, &["CLIENT", "REPLY", "LOUD"]),
        error("ERR syntax error")
    );
}

// CLIENT HELP lists the subcommands as status lines.
#[test]
fn client_help() {
    let env = env(None);
    let mut session = session(false);
    let Reply::Array(lines) = reply(&mut session, &env, &["CLIENT", "HELP"]) else {
        panic!("CLIENT HELP is an array");
    };
    assert_eq!(
        lines[0],
        Reply::Simple(Bytes::from_static(
            b"CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
        ))
    );
    assert!(lines.contains(&Reply::simple("SETNAME <name>")));
}

// CLIENT KILL's two forms and its errors, with the texts and the order of
// checks of redis-server 7.0.15.
#[test]
fn client_kill_filters_and_errors() {
    let env = env(None);
    let mut session = session(false);
    assert_eq!(
        run(&mut session, &env, &["CLIENT", "KILL", "10.0.0.8:4000"]),
        Outcome::Kill(KillFilter {
            addr: Some("10.0.0.8:4000".into()),
            old_form: true,
            ..KillFilter::default()
        })
    );
    assert_eq!(
        run(
            &mut session,
            &env,
            &[
                "client",
                "kill",
                "id",
                "12",
                "TYPE",
                "Normal",
                "user",
                "default",
                "LADDR",
                "127.0.0.1:6379"
            ]
        ),
        Outcome::Kill(KillFilter {
            id: Some(12),
            laddr: Some("127.0.0.1:6379".into()),
            client_type: Some(ClientType::Normal),
            skip_me: true,
            ..KillFilter::default()
        })
    );
    assert_eq!(
        run(&mut session, &env, &["CLIENT", "KILL", "TYPE", "slave"]),
        Outcome::Kill(KillFilter {
            client_type: Some(ClientType::Replica),
            skip_me: true,
            ..KillFilter::default()
        })
    );
    assert_eq!(
        run(
            &mut session,
            &env,
            &["CLIENT", "KILL", "TYPE", "replica", "SKIPME", "no"]
        ),
        Outcome::Kill(KillFilter {
            client_type: Some(ClientType::Replica),
            ..KillFilter::default()
        })
    );
    for (words, expected) in [
        (
            &["CLIENT", "KILL"][..],
            "ERR wrong number of arguments for 'client|kill' command",
        ),
        (
            &["CLIENT", "KILL", "ID", "0"],
            "ERR client-id should be greater than 0",
        ),
        (
            &["CLIENT", "KILL", "ID", "x"],
            "ERR client-id should be greater than 0",
        ),
        (
            &["CLIENT", "KILL", "TYPE", "bogus"],
            "ERR Unknown client type 'bogus'",
        ),
        (
            &["CLIENT", "KILL", "USER", "nosuch"],
            "ERR No such user 'nosuch'",
        ),
        (&["CLIENT", "KILL", "SKIPME", "maybe"], "ERR syntax error"),
        (&["CLIENT", "KILL", "BOGUS", "x"], "ERR syntax error"),
        (&["CLIENT", "KILL", "MAXAGE", "5"], "ERR syntax error"),
        (&["CLIENT", "KILL", "ID", "1", "ID"], "ERR syntax error"),
        // The first bad pair decides, as Redis checks them in order.
        (
            &["CLIENT", "KILL", "TYPE", "bogus", "ID", "0"],
            "ERR Unknown client type 'bogus'",
        ),
    ] {
        assert_eq!(
            reply(&mut session, &env, words),
            error(expected),
            "{words:?}"
        );
    }
}

fn session_at(id: u64, database: usize, peer: &str, local: &str) -> Session {
    Session::new(id, database, peer, local, NOW_MS, false)
}

// A filter reaches only its own database's connections, every filter given
// must match, SKIPME spares the caller, and the answer is a count (or, for
// the old form, OK or "No such client").
#[test]
fn kill_filter_matches_and_answers() {
    let caller = session_at(1, 0, "10.0.0.1:1000", "127.0.0.1:6379");
    let other = session_at(2, 0, "10.0.0.2:2000", "127.0.0.1:6379");
    let elsewhere = session_at(3, 1, "10.0.0.2:2000", "127.0.0.1:6380");
    let matched = |filter: &KillFilter| -> Vec<u64> {
        [&caller, &other, &elsewhere]
            .into_iter()
            .filter(|session| filter.matches(session, 0, caller.id))
            .map(|session| session.id)
            .collect()
    };
    let every_normal = KillFilter {
        skip_me: true,
        ..KillFilter::default()
    };
    assert_eq!(matched(&every_normal), [2]);
    assert_eq!(
        matched(&KillFilter {
            skip_me: false,
            ..KillFilter::default()
        }),
        [1, 2]
    );
    assert_eq!(
        matched(&KillFilter {
            addr: Some("10.0.0.2:2000".into()),
            ..every_normal.clone()
        }),
        [2]
    );
    assert!(matched(&KillFilter {
        addr: Some("10.0.0.2:2000".into()),
        id: Some(3),
        ..every_normal.clone()
    })
    .is_empty());
    assert!(matched(&KillFilter {
        laddr: Some("127.0.0.1:6380".into()),
        ..every_normal.clone()
    })
    .is_empty());
    assert!(matched(&KillFilter {
        client_type: Some(ClientType::PubSub),
        ..every_normal.clone()
    })
    .is_empty());
    // TYPE master or replica alone reaches the replication links; with an
    // id or an address it reaches nothing, as a link has neither.
    let links = |kind| KillFilter {
        client_type: Some(kind),
        ..every_normal.clone()
    };
    assert!(matched(&links(ClientType::Master)).is_empty());
    assert_eq!(
        links(ClientType::Master).link_type(),
        Some(ClientType::Master)
    );
    assert_eq!(
        links(ClientType::Replica).link_type(),
        Some(ClientType::Replica)
    );
    assert_eq!(links(ClientType::PubSub).link_type(), None);
    assert_eq!(every_normal.link_type(), None);
    assert_eq!(
        KillFilter {
            id: Some(9),
            ..links(ClientType::Replica)
        }
        .link_type(),
        None
    );
    let old_form = KillFilter {
        addr: Some("10.0.0.1:1000".into()),
        old_form: true,
        ..KillFilter::default()
    };
    assert_eq!(matched(&old_form), [1], "the old form may kill its caller");
    assert_eq!(old_form.reply(1), Reply::ok());
    assert_eq!(old_form.reply(0), error("ERR No such client"));
    assert_eq!(every_normal.reply(0), Reply::Integer(0));
    assert_eq!(every_normal.reply(3), Reply::Integer(3));
}
