//! The connection family: PING, ECHO, HELLO, AUTH, SELECT, QUIT, RESET and
//! CLIENT, with Redis 7's replies and error texts.
//!
//! These commands act on a [`Session`] and never touch a keyspace; the
//! engine runs them on the connection's own thread through
//! [`crate::session::handle`]. CLIENT LIST needs every thread's connections
//! and so asks the engine to gather them; everything else answers at once.

use bytes::Bytes;
use petrel_resp::Reply;

use crate::session::{
    client_info_reply, error_reply, parse_i64, resolve_subcommand, truncated_text,
    valid_client_attribute, ClientType, GatherRequest, KillFilter, Outcome, Session, SessionEnv,
    SubcommandSpec,
};
use crate::table::flags::{ADMIN, FAST, LOADING, NOSCRIPT, NO_AUTH, STALE};
use crate::table::{arity_error_reply, CommandSpec, Route};

/// A connection-level row: no keys, no shard handler.
const fn row(
    name: &'static str,
    arity: i32,
    flags: u32,
    summary: &'static str,
    since: &'static str,
    arguments: &'static str,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        first_key: 0,
        last_key: 0,
        key_step: 0,
        route: Route::Connection,
        handler: None,
        group: "connection",
        summary,
        since,
        arguments,
    }
}

pub const COMMANDS: &[CommandSpec] = &[
    row("ping", -1, FAST, "Ping the server", "1.0.0", "[message]"),
    row(
        "echo",
        2,
        LOADING | STALE | FAST,
        "Echo the given string",
        "1.0.0",
        "message",
    ),
    row(
        "hello",
        -1,
        NOSCRIPT | LOADING | STALE | FAST | NO_AUTH,
        "Handshake with Redis",
        "6.0.0",
        "[protover [AUTH username password] [SETNAME clientname]]",
    ),
    row(
        "auth",
        -2,
        NOSCRIPT | LOADING | STALE | FAST | NO_AUTH,
        "Authenticate to the server",
        "1.0.0",
        "[username] password",
    ),
    row(
        "select",
        2,
        LOADING | STALE | FAST,
        "Change the selected database for the current connection",
        "1.0.0",
        "index",
    ),
    row(
        "quit",
        -1,
        NOSCRIPT | LOADING | STALE | FAST | NO_AUTH,
        "Close the connection",
        "1.0.0",
        "",
    ),
    row(
        "reset",
        1,
        NOSCRIPT | LOADING | STALE | FAST | NO_AUTH,
        "Reset the connection",
        "6.2.0",
        "",
    ),
    // A container: its subcommands carry the flags, as in Redis.
    row(
        "client",
        -2,
        0,
        "A container for client connection commands",
        "2.4.0",
        "",
    ),
];

const SUBCOMMAND_FLAGS: u32 = NOSCRIPT | LOADING | STALE;

const fn subcommand(
    name: &'static str,
    arity: i32,
    flags: u32,
    summary: &'static str,
    since: &'static str,
    arguments: &'static str,
) -> SubcommandSpec {
    SubcommandSpec {
        name,
        arity,
        flags,
        summary,
        since,
        arguments,
    }
}

/// The CLIENT subcommands Petrel implements.
pub const CLIENT_SUBCOMMANDS: &[SubcommandSpec] = &[
    subcommand(
        "client|id",
        2,
        SUBCOMMAND_FLAGS,
        "Returns the client ID for the current connection",
        "5.0.0",
        "",
    ),
    subcommand(
        "client|getname",
        2,
        SUBCOMMAND_FLAGS,
        "Get the current connection name",
        "2.6.9",
        "",
    ),
    subcommand(
        "client|setname",
        3,
        SUBCOMMAND_FLAGS,
        "Set the current connection name",
        "2.6.9",
        "connection-name",
    ),
    subcommand(
        "client|setinfo",
        4,
        SUBCOMMAND_FLAGS,
        "Set client or connection specific info",
        "7.2.0",
        "LIB-NAME libname|LIB-VER libver",
    ),
    subcommand(
        "client|kill",
        -3,
        ADMIN | SUBCOMMAND_FLAGS,
        "Kill the connection of a client",
        "2.4.0",
        "ip:port|[ID client-id]|[TYPE NORMAL|MASTER|SLAVE|REPLICA|PUBSUB]|[USER username]|[ADDR ip:port]|[LADDR ip:port]|[SKIPME YES|NO]",
    ),
    subcommand(
        "client|list",
        -2,
        ADMIN | SUBCOMMAND_FLAGS,
        "Get the list of client connections",
        "2.4.0",
        "[TYPE NORMAL|MASTER|REPLICA|PUBSUB] [ID client-id [client-id ...]]",
    ),
    subcommand(
        "client|info",
        2,
        SUBCOMMAND_FLAGS,
        "Returns information about the current client connection.",
        "6.2.0",
        "",
    ),
    subcommand(
        "client|no-evict",
        3,
        ADMIN | SUBCOMMAND_FLAGS,
        "Set client eviction mode for the current connection",
        "7.0.0",
        "ON|OFF",
    ),
    subcommand(
        "client|no-touch",
        3,
        SUBCOMMAND_FLAGS,
        "Controls whether commands sent by the client will alter the LRU/LFU of the keys they access.",
        "7.2.0",
        "ON|OFF",
    ),
    subcommand(
        "client|reply",
        3,
        SUBCOMMAND_FLAGS,
        "Instruct the server whether to reply to commands",
        "3.2.0",
        "ON|OFF|SKIP",
    ),
    subcommand(
        "client|help",
        2,
        LOADING | STALE,
        "Show helpful text about the different subcommands",
        "5.0.0",
        "",
    ),
];

const CLIENT_HELP: &[&str] = &[
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "    * ID <client-id> [<client-id> ...]",
    "      Return clients with the given IDs.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "SETINFO <option> <value>",
    "    Set client meta attr. Options are:",
    "    * LIB-NAME: the client lib name.",
    "    * LIB-VER: the client lib version.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
    "NO-TOUCH (ON|OFF)",
    "    Will not touch LRU/LFU stats when this mode is on.",
    "HELP",
    "    Prints this help.",
];

const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

/// PING [message]: `+PONG`, or the message as a bulk string.
pub(crate) fn ping(args: &[Bytes]) -> Reply {
    match args {
        [_] => Reply::simple("PONG"),
        [_, message] => Reply::Bulk(message.clone()),
        _ => arity_error_reply(b"ping"),
    }
}

/// ECHO message.
pub(crate) fn echo(args: &[Bytes]) -> Reply {
    Reply::Bulk(args[1].clone())
}

/// AUTH [username] password, against the database's password for the
/// `default` user (the only user Petrel has).
pub(crate) fn auth(session: &mut Session, args: &[Bytes], env: &SessionEnv) -> Reply {
    let (username, password) = match args {
        [_, password] => (None, password),
        [_, username, password] => (Some(username), password),
        _ => return Reply::error("ERR syntax error"),
    };
    if username.is_none() && env.password.is_none() {
        return Reply::error(
            "ERR AUTH <password> called without any password configured for the default \
             user. Are you sure your configuration is correct?",
        );
    }
    if check_credentials(username.map(|name| &name[..]), password, env.password) {
        session.authenticated = true;
        Reply::ok()
    } else {
        // A failed attempt leaves an authenticated connection authenticated, as in Redis.
        Reply::error(WRONGPASS)
    }
}

/// Whether `username`/`password` authenticate as the default user. With no
/// password configured the default user takes any password, as Redis's
/// `nopass` default user does.
fn check_credentials(username: Option<&[u8]>, password: &[u8], required: Option<&str>) -> bool {
    if username.is_some_and(|name| name != b"default") {
        return false;
    }
    match required {
        None => true,
        Some(required) => constant_time_eq(password, required.as_bytes()),
    }
}

/// Compares secrets without stopping at the first difference, so that the
/// reply time does not tell how much of a guess was right.
fn constant_time_eq(given: &[u8], expected: &[u8]) -> bool {
    let mut difference = given.len() ^ expected.len();
    for (index, byte) in expected.iter().enumerate() {
        let other = given.get(index).copied().unwrap_or(!byte);
        difference |= usize::from(byte ^ other);
    }
    difference == 0
}

/// HELLO [protover [AUTH username password] [SETNAME clientname]].
pub(crate) fn hello(session: &mut Session, args: &[Bytes], env: &SessionEnv) -> Reply {
    let mut protocol = session.protocol;
    if let Some(version) = args.get(1) {
        match parse_i64(version) {
            Some(version @ 2..=3) => protocol = version as u8,
            Some(_) => return Reply::error("NOPROTO unsupported protocol version"),
            None => return Reply::error("ERR Protocol version is not an integer or out of range"),
        }
    }
    let mut credentials = None;
    let mut client_name = None;
    let mut index = 2;
    while index < args.len() {
        let option = &args[index];
        let remaining = args.len() - 1 - index;
        if option.eq_ignore_ascii_case(b"AUTH") && remaining >= 2 {
            credentials = Some((&args[index + 1], &args[index + 2]));
            index += 3;
        } else if option.eq_ignore_ascii_case(b"SETNAME") && remaining >= 1 {
            client_name = Some(&args[index + 1]);
            index += 2;
        } else {
            return error_reply(format!(
                "ERR Syntax error in HELLO option '{}'",
                truncated_text(option, 128)
            ));
        }
    }
    if let Some((username, password)) = credentials {
        if !check_credentials(Some(username), password, env.password) {
            return Reply::error(WRONGPASS);
        }
        session.authenticated = true;
    }
    if !session.authenticated {
        return Reply::error(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise \
             the HELLO AUTH <user> <pass> option can be used to authenticate the client and \
             select the RESP protocol version at the same time",
        );
    }
    if let Some(name) = client_name {
        if let Err(error) = set_name(session, name) {
            return error;
        }
    }
    session.protocol = protocol;
    Reply::Map(vec![
        (bulk("server"), bulk("petrel")),
        (bulk("version"), bulk(env!("CARGO_PKG_VERSION"))),
        (bulk("proto"), Reply::Integer(i64::from(protocol))),
        (bulk("id"), Reply::Integer(session.id as i64)),
        (bulk("mode"), bulk("standalone")),
        (bulk("role"), bulk("master")),
        (bulk("modules"), Reply::Array(Vec::new())),
    ])
}

/// SELECT index: each Petrel database is its own endpoint with one logical
/// database, so only 0 is accepted, as in a Redis cluster.
pub(crate) fn select(args: &[Bytes]) -> Reply {
    match parse_i64(&args[1]) {
        Some(index) if i32::try_from(index).is_err() => {
            Reply::error("ERR value is not an integer or out of range")
        }
        Some(0) => Reply::ok(),
        Some(_) => Reply::error("ERR SELECT is not allowed in cluster mode"),
        None => Reply::error("ERR value is not an integer or out of range"),
    }
}

/// CLIENT subcommand [arguments].
pub(crate) fn client(session: &mut Session, args: &[Bytes], env: &SessionEnv) -> Outcome {
    let subcommand = match resolve_subcommand("client", args) {
        Ok(subcommand) => subcommand,
        Err(error) => return Outcome::Reply(error),
    };
    session.last_command = subcommand.name;
    let reply = match subcommand.name {
        "client|id" => Reply::Integer(session.id as i64),
        "client|getname" => session.name.clone().map_or(Reply::Nil, Reply::Bulk),
        "client|setname" => match set_name(session, &args[2]) {
            Ok(()) => Reply::ok(),
            Err(error) => error,
        },
        "client|setinfo" => set_info(session, &args[2], &args[3]),
        "client|list" => return client_list(args),
        "client|kill" => return client_kill(args),
        "client|info" => client_info_reply(session, env.now_ms),
        "client|no-evict" => match on_off(&args[2]) {
            Some(on) => {
                session.no_evict = on;
                Reply::ok()
            }
            None => Reply::error("ERR syntax error"),
        },
        "client|no-touch" => match on_off(&args[2]) {
            Some(on) => {
                session.no_touch = on;
                Reply::ok()
            }
            None => Reply::error("ERR syntax error"),
        },
        "client|reply" => client_reply(session, &args[2]),
        "client|help" => help_reply(CLIENT_HELP),
        other => error_reply(format!(
            "ERR unknown subcommand '{other}'. Try CLIENT HELP."
        )),
    };
    Outcome::Reply(reply)
}

/// Sets (or, with an empty name, clears) the connection's name.
fn set_name(session: &mut Session, name: &Bytes) -> Result<(), Reply> {
    if !valid_client_attribute(name) {
        return Err(Reply::error(
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    session.name = (!name.is_empty()).then(|| name.clone());
    Ok(())
}

/// CLIENT SETINFO LIB-NAME|LIB-VER value (Redis 7.2).
fn set_info(session: &mut Session, attribute: &Bytes, value: &Bytes) -> Reply {
    let slot = if attribute.eq_ignore_ascii_case(b"lib-name") {
        &mut session.lib_name
    } else if attribute.eq_ignore_ascii_case(b"lib-ver") {
        &mut session.lib_version
    } else {
        return error_reply(format!(
            "ERR Unrecognized option '{}'",
            truncated_text(attribute, 128)
        ));
    };
    if !valid_client_attribute(value) {
        return error_reply(format!(
            "ERR {} cannot contain spaces, newlines or special characters.",
            truncated_text(attribute, 128)
        ));
    }
    *slot = (!value.is_empty()).then(|| value.clone());
    Reply::ok()
}

/// CLIENT LIST [TYPE type | ID id [id ...]]: normal clients are gathered
/// from every thread; Petrel has no replica, master or pub/sub clients on a
/// data port, so those types list nothing.
fn client_list(args: &[Bytes]) -> Outcome {
    let empty = || Outcome::Reply(Reply::Verbatim("txt", Bytes::new()));
    match args.get(2) {
        None => Outcome::Gather(GatherRequest::ClientList { ids: None }),
        Some(option) if option.eq_ignore_ascii_case(b"TYPE") && args.len() == 4 => {
            let kind = args[3].to_ascii_lowercase();
            match kind.as_slice() {
                b"normal" => Outcome::Gather(GatherRequest::ClientList { ids: None }),
                b"master" | b"replica" | b"slave" | b"pubsub" => empty(),
                _ => Outcome::Reply(error_reply(format!(
                    "ERR Unknown client type '{}'",
                    truncated_text(&args[3], 128)
                ))),
            }
        }
        Some(option) if option.eq_ignore_ascii_case(b"ID") && args.len() > 3 => {
            let mut ids = Vec::with_capacity(args.len() - 3);
            for id in &args[3..] {
                match parse_i64(id) {
                    // Ids start at 1: zero or a negative id matches nobody.
                    Some(id) => ids.extend(u64::try_from(id).ok()),
                    None => return Outcome::Reply(Reply::error("ERR Invalid client ID")),
                }
            }
            Outcome::Gather(GatherRequest::ClientList { ids: Some(ids) })
        }
        Some(_) => Outcome::Reply(Reply::error("ERR syntax error")),
    }
}

/// CLIENT KILL ip:port, or CLIENT KILL with filter-value pairs (ID, TYPE,
/// USER, ADDR, LADDR, SKIPME), checked as Redis 7.0 checks them. Every
/// client on a data port is a normal one (TYPE master and replica reach
/// the replication links), and `default` is the only user.
fn client_kill(args: &[Bytes]) -> Outcome {
    if args.len() == 3 {
        return Outcome::Kill(KillFilter {
            addr: Some(String::from_utf8_lossy(&args[2]).into_owned()),
            old_form: true,
            ..KillFilter::default()
        });
    }
    if !args.len().is_multiple_of(2) {
        return Outcome::Reply(Reply::error("ERR syntax error"));
    }
    let mut filter = KillFilter {
        skip_me: true,
        ..KillFilter::default()
    };
    for pair in args[2..].chunks_exact(2) {
        let (option, value) = (&pair[0], &pair[1]);
        match option.to_ascii_lowercase().as_slice() {
            b"id" => match parse_i64(value) {
                Some(id) if id > 0 => filter.id = Some(id as u64),
                _ => return Outcome::Reply(Reply::error("ERR client-id should be greater than 0")),
            },
            b"type" => match value.to_ascii_lowercase().as_slice() {
                b"normal" => filter.client_type = Some(ClientType::Normal),
                b"master" => filter.client_type = Some(ClientType::Master),
                b"replica" | b"slave" => filter.client_type = Some(ClientType::Replica),
                b"pubsub" => filter.client_type = Some(ClientType::PubSub),
                _ => {
                    return Outcome::Reply(error_reply(format!(
                        "ERR Unknown client type '{}'",
                        truncated_text(value, 128)
                    )))
                }
            },
            b"user" if value.as_ref() != b"default" => {
                return Outcome::Reply(error_reply(format!(
                    "ERR No such user '{}'",
                    truncated_text(value, 128)
                )))
            }
            b"user" => {}
            b"addr" => filter.addr = Some(String::from_utf8_lossy(value).into_owned()),
            b"laddr" => filter.laddr = Some(String::from_utf8_lossy(value).into_owned()),
            b"skipme" => match switch(value, b"YES", b"NO") {
                Some(skip_me) => filter.skip_me = skip_me,
                None => return Outcome::Reply(Reply::error("ERR syntax error")),
            },
            _ => return Outcome::Reply(Reply::error("ERR syntax error")),
        }
    }
    Outcome::Kill(filter)
}

/// CLIENT REPLY ON|OFF|SKIP. OFF and SKIP send no reply of their own: the
/// engine learns that from [`Session::should_reply`].
fn client_reply(session: &mut Session, mode: &Bytes) -> Reply {
    if mode.eq_ignore_ascii_case(b"ON") {
        // A SKIP still pending covers this command too, as in Redis.
        session.replies_off = false;
    } else if mode.eq_ignore_ascii_case(b"OFF") {
        session.replies_off = true;
    } else if mode.eq_ignore_ascii_case(b"SKIP") {
        if !session.replies_off {
            // This command's reply and the next command's.
            session.replies_to_skip = 2;
        }
    } else {
        return Reply::error("ERR syntax error");
    }
    Reply::ok()
}

/// A two-way option's value, either word in any case.
fn switch(value: &[u8], on: &[u8], off: &[u8]) -> Option<bool> {
    if value.eq_ignore_ascii_case(on) {
        Some(true)
    } else if value.eq_ignore_ascii_case(off) {
        Some(false)
    } else {
        None
    }
}

fn on_off(value: &[u8]) -> Option<bool> {
    switch(value, b"ON", b"OFF")
}

/// A HELP subcommand's reply: one status line per text line.
pub(crate) fn help_reply(lines: &[&'static str]) -> Reply {
    Reply::Array(lines.iter().map(|line| Reply::simple(line)).collect())
}

fn bulk(text: &'static str) -> Reply {
    Reply::Bulk(Bytes::from_static(text.as_bytes()))
}
