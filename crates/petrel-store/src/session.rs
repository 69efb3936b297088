//! A client connection's protocol state and the connection-level commands
//! (PING, ECHO, HELLO, AUTH, SELECT, QUIT, RESET, CLIENT, COMMAND, CONFIG,
//! INFO, TIME, ROLE, SLOWLOG), decided without I/O.
//!
//! The engine owns one [`Session`] per connection and calls [`handle`] for
//! every command whose route is [`crate::Route::Connection`], after it has
//! checked arity and authentication. When the answer needs state from every
//! data thread (INFO, CLIENT LIST), [`handle`] asks for it with
//! [`Outcome::Gather`]; the engine collects a [`NodeSnapshot`] and calls
//! [`finish_gather`]. CLIENT KILL comes back as [`Outcome::Kill`], a filter
//! the engine applies to every thread's sessions. The commands themselves live in
//! [`crate::family::connection`] and [`crate::family::server`]; this module
//! holds the state they act on and the dispatch.
//!
//! Nothing here reads a clock, a socket or the process: time arrives as
//! `now_ms` in [`SessionEnv`], node-wide numbers in a [`NodeSnapshot`].

use bytes::Bytes;
use petrel_resp::Reply;

use crate::family::{connection, server};
use crate::table::{self, CommandSpec};

/// Per-connection protocol state.
#[derive(Debug, Clone)]
pub struct Session {
    /// Unique across the node, from 1, as CLIENT ID reports it.
    pub id: u64,
    pub name: Option<Bytes>,
    /// 2 or 3, as set by HELLO. The engine encodes every reply, HELLO's own
    /// included, in the protocol this holds after [`handle`] returns.
    pub protocol: u8,
    /// Whether AUTH (or HELLO AUTH) succeeded, or no password is set.
    pub authenticated: bool,
    pub lib_name: Option<Bytes>,
    pub lib_version: Option<Bytes>,
    /// Index of the database this connection's port serves.
    pub database: usize,
    pub peer_address: String,
    pub local_address: String,
    pub created_at_ms: u64,
    pub last_command_at_ms: u64,
    /// Lower-case name of the last command (for CLIENT LIST's `cmd=`), with
    /// its subcommand for containers (`client|list`); empty before the first.
    pub last_command: &'static str,
    /// The socket's file descriptor for CLIENT LIST's `fd=`, or -1 when the
    /// engine does not say.
    pub fd: i32,
    /// CLIENT NO-EVICT ON (flag `e`). Petrel never evicts clients; the state
    /// is kept so that clients that set it see it back.
    pub no_evict: bool,
    /// CLIENT NO-TOUCH ON (flag `T`).
    pub no_touch: bool,
    /// CLIENT REPLY OFF: no reply is sent until CLIENT REPLY ON.
    pub replies_off: bool,
    /// Replies still to drop because of CLIENT REPLY SKIP, counting the
    /// command being handled. Consumed by [`Session::should_reply`].
    pub replies_to_skip: u8,
    /// How the connection's bytes travel: `plain`, `tls` (userspace) or
    /// `ktls`, for CLIENT LIST.
    pub transport: &'static str,
    /// Negotiated TLS protocol version and cipher suite, if any.
    pub tls: Option<(String, String)>,
    /// MULTI's queue and the keys WATCH watches.
    pub transaction: crate::family::transaction::Transaction,
    /// Waiting in a blocking command (CLIENT LIST flag `b`).
    pub blocked: bool,
}

impl Session {
    /// A new connection's state: RESP2, no name, and authenticated unless
    /// the database requires a password.
    pub fn new(
        id: u64,
        database: usize,
        peer_address: impl Into<String>,
        local_address: impl Into<String>,
        now_ms: u64,
        password_required: bool,
    ) -> Session {
        Session {
            id,
            name: None,
            protocol: 2,
            authenticated: !password_required,
            lib_name: None,
            lib_version: None,
            database,
            peer_address: peer_address.into(),
            local_address: local_address.into(),
            created_at_ms: now_ms,
            last_command_at_ms: now_ms,
            last_command: "",
            fd: -1,
            no_evict: false,
            no_touch: false,
            replies_off: false,
            replies_to_skip: 0,
            transport: "plain",
            tls: None,
            transaction: Default::default(),
            blocked: false,
        }
    }

    /// What RESET restores: RESP2, no name, the default user's
    /// authentication, and no CLIENT NO-EVICT/NO-TOUCH/REPLY modes. The
    /// library name and version stay: they still describe the client.
    pub fn reset(&mut self, password_required: bool) {
        self.name = None;
        self.protocol = 2;
        self.authenticated = !password_required;
        self.no_evict = false;
        self.no_touch = false;
        self.replies_off = false;
        self.replies_to_skip = 0;
    }

    /// Whether the reply of the command just handled or dispatched should be
    /// sent, as CLIENT REPLY OFF/SKIP decide.
    ///
    /// The engine calls this exactly once per command, in request order, at
    /// the moment the command is handled or dispatched to a shard (not when
    /// its reply comes back), and drops the reply when it returns false.
    pub fn should_reply(&mut self) -> bool {
        if self.replies_to_skip > 0 {
            self.replies_to_skip -= 1;
            return false;
        }
        !self.replies_off
    }
}

/// What the connection-level command handler needs to know about the node
/// and the connection's database, provided by the engine.
#[derive(Debug, Clone)]
pub struct SessionEnv<'a> {
    pub now_ms: u64,
    /// The database's password (`requirepass`-style), if any.
    pub password: Option<&'a str>,
    pub database_name: &'a str,
    pub port: u16,
    pub proto_max_bulk_len: u64,
    pub maxmemory_bytes: u64,
    /// Client connections the node serves at once (INFO, CONFIG GET).
    pub maxclients: u64,
    /// Seconds of silence before a client's peer is probed (CONFIG GET tcp-keepalive).
    pub tcp_keepalive_secs: u64,
    /// `node.slowlog_log_slower_than` (microseconds; negative: off).
    pub slowlog_log_slower_than_us: i64,
    /// `node.slowlog_max_len`.
    pub slowlog_max_len: u64,
    /// Data threads (shards) on this node.
    pub shard_count: usize,
}

/// What the engine must do after a connection-level command.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    Reply(Reply),
    /// Send this reply, then close the connection (QUIT).
    ReplyAndClose(Reply),
    /// Collect a [`NodeSnapshot`] from every data thread and call
    /// [`finish_gather`] with it.
    Gather(GatherRequest),
    /// CLIENT KILL: close the connections the filter matches on every data
    /// thread, then answer with [`KillFilter::reply`]. When the caller's
    /// own connection matches, it is closed after that reply.
    Kill(KillFilter),
    /// SLOWLOG GET, LEN or RESET: ask every data thread for its part of the
    /// database's slow log, then answer with [`crate::slowlog::answer`].
    Slowlog(crate::slowlog::SlowlogRequest),
}

/// A client's type as CLIENT KILL and CLIENT LIST name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientType {
    Normal,
    Master,
    Replica,
    PubSub,
}

/// CLIENT KILL's filters. Every filter given must match; the engine asks
/// [`KillFilter::matches`] of each session on each thread.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KillFilter {
    pub id: Option<u64>,
    /// The peer's address as CLIENT LIST shows it (`addr=`).
    pub addr: Option<String>,
    /// The local address as CLIENT LIST shows it (`laddr=`).
    pub laddr: Option<String>,
    /// TYPE, if given. Every session on a data port is a normal client;
    /// replication links are `master` (a Replica Of database's link to its
    /// source) and `replica` (links to this database's replicas).
    pub client_type: Option<ClientType>,
    /// Spare the connection that sent the command (SKIPME, yes unless the
    /// old form is used).
    pub skip_me: bool,
    /// `CLIENT KILL ip:port`: answered `+OK`, or an error when nobody
    /// matched, instead of a count.
    pub old_form: bool,
}

impl KillFilter {
    /// Whether CLIENT KILL, sent by connection `caller` to `database`,
    /// closes `session`. Only that database's connections are in reach, as
    /// CLIENT LIST shows only those.
    pub fn matches(&self, session: &Session, database: usize, caller: u64) -> bool {
        session.database == database
            && !(self.skip_me && session.id == caller)
            && matches!(self.client_type, None | Some(ClientType::Normal))
            && self.id.is_none_or(|id| session.id == id)
            && self
                .addr
                .as_deref()
                .is_none_or(|addr| session.peer_address == addr)
            && self
                .laddr
                .as_deref()
                .is_none_or(|laddr| session.local_address == laddr)
    }

    /// The replication links the filter closes: TYPE master or replica
    /// alone (with SKIPME or USER); a link has no client id or address
    /// the other filters could match.
    pub fn link_type(&self) -> Option<ClientType> {
        let addressed = self.id.is_some() || self.addr.is_some() || self.laddr.is_some();
        match self.client_type {
            Some(kind @ (ClientType::Master | ClientType::Replica)) if !addressed => Some(kind),
            _ => None,
        }
    }

    /// The answer once `killed` connections matched.
    pub fn reply(&self, killed: usize) -> Reply {
        match (self.old_form, killed) {
            (true, 0) => Reply::error("ERR No such client"),
            (true, _) => Reply::ok(),
            (false, killed) => Reply::Integer(killed as i64),
        }
    }
}

/// A request for node-wide state, kept until the snapshot arrives.
#[derive(Debug, Clone, PartialEq)]
pub enum GatherRequest {
    /// INFO with the requested section names (lower-case; empty: default sections).
    Info { sections: Vec<String> },
    /// CLIENT LIST, optionally filtered by `ID id...` (in the order asked,
    /// as Redis answers them).
    ClientList { ids: Option<Vec<u64>> },
    /// CLIENT INFO. [`handle`] answers it from the session itself and never
    /// asks for it; [`finish_gather`] answers it the same way.
    ClientInfo,
    /// ROLE, from [`NodeSnapshot::role`].
    Role,
}

/// A database's place in replication, as ROLE reports it.
#[derive(Debug, Clone, PartialEq)]
pub enum ReplicationRole {
    /// A source: its stream offset and its online replicas (address,
    /// listening port, acknowledged offset).
    Master {
        offset: u64,
        replicas: Vec<(String, u16, u64)>,
    },
    /// Following a source (Replica Of): where it is, how the link stands
    /// (`connect`, `sync` or `connected`, Redis's words) and the offset
    /// applied so far (-1 before the first sync).
    Replica {
        host: String,
        port: u16,
        state: &'static str,
        offset: i64,
    },
}

/// Per-database numbers from one shard.
#[derive(Debug, Clone, Default)]
pub struct DatabaseShardStats {
    pub keys: u64,
    pub expires: u64,
    pub used_memory_bytes: u64,
    pub expired_keys_total: u64,
}

/// Per-command call counters, as INFO commandstats reports them.
#[derive(Debug, Clone, Default)]
pub struct CommandStat {
    pub calls: u64,
    /// Time spent executing, summed in nanoseconds so that commands
    /// shorter than a microsecond still count; INFO shows microseconds.
    pub nanos: u64,
    pub rejected_calls: u64,
    pub failed_calls: u64,
}

/// Everything INFO and CLIENT LIST need from one data thread.
#[derive(Debug, Clone, Default)]
pub struct ThreadSnapshot {
    /// Indexed like [`NodeSnapshot::databases`].
    pub databases: Vec<DatabaseShardStats>,
    /// Connections waiting in BLPOP, BRPOP or BLMOVE.
    pub blocked_clients: u64,
    pub total_connections_received: u64,
    pub total_commands_processed: u64,
    pub rejected_connections: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub net_input_bytes: u64,
    pub net_output_bytes: u64,
    /// (lower-case command name, counters).
    pub command_stats: Vec<(&'static str, CommandStat)>,
    /// One [`client_list_line`] per connection on this thread (without newline).
    pub client_lines: Vec<(u64, String)>,
}

/// Node-wide state assembled by the engine from every thread.
#[derive(Debug, Clone, Default)]
pub struct NodeSnapshot {
    pub threads: Vec<ThreadSnapshot>,
    /// Client connections open on the node, counted from accept (before a
    /// first command or a finished TLS handshake, as Redis counts them).
    pub connected_clients: u64,
    pub started_at_ms: u64,
    pub now_ms: u64,
    pub process_id: u32,
    pub tcp_port: u16,
    /// Petrel's version; the crate's own when empty.
    pub version: &'static str,
    /// (database name, memory limit in bytes; 0 = none).
    pub databases: Vec<(String, u64)>,
    /// The database's replication role; `None` until the sync ring has
    /// published one (a source with no history: offset 0, no replicas).
    pub role: Option<ReplicationRole>,
    /// Extra INFO sections rendered elsewhere (TLS, replication): (title,
    /// body lines separated by `\n` or `\r\n`). A title equal to a built-in
    /// section's (`Replication`) replaces that section.
    pub extra_sections: Vec<(String, String)>,
}

/// A subcommand of a container command (CLIENT, CONFIG, COMMAND), described
/// like a table row so that COMMAND INFO and COMMAND DOCS can report it.
#[derive(Debug)]
pub struct SubcommandSpec {
    /// `container|subcommand`, lower-case, as Redis names it.
    pub name: &'static str,
    /// Counting the container's name and the subcommand's, as Redis does.
    pub arity: i32,
    pub flags: u32,
    pub summary: &'static str,
    pub since: &'static str,
    /// Argument hint as redis-cli shows it, after the subcommand.
    pub arguments: &'static str,
}

impl SubcommandSpec {
    pub fn has_flag(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    /// Whether `argc` (including container and subcommand) satisfies the arity.
    pub fn arity_ok(&self, argc: usize) -> bool {
        let argc = argc as i64;
        let arity = self.arity as i64;
        if arity >= 0 {
            argc == arity
        } else {
            argc >= -arity
        }
    }

    /// The subcommand's name without its container (`list` for `client|list`).
    pub fn short_name(&self) -> &'static str {
        self.name
            .split_once('|')
            .map_or(self.name, |(_, short)| short)
    }
}

/// The subcommands of a container command, by its lower-case name.
pub fn subcommands(container: &str) -> &'static [SubcommandSpec] {
    match container {
        "client" => connection::CLIENT_SUBCOMMANDS,
        "command" => server::COMMAND_SUBCOMMANDS,
        "config" => server::CONFIG_SUBCOMMANDS,
        "slowlog" => server::SLOWLOG_SUBCOMMANDS,
        _ => &[],
    }
}

/// Finds `container|subcommand` (case-insensitive), as COMMAND INFO and
/// COMMAND DOCS accept it.
pub fn lookup_subcommand(full_name: &[u8]) -> Option<&'static SubcommandSpec> {
    let text = std::str::from_utf8(full_name).ok()?.to_ascii_lowercase();
    let (container, _) = text.split_once('|')?;
    subcommands(container)
        .iter()
        .find(|subcommand| subcommand.name == text)
}

/// Runs one connection-level command. The engine has checked the row's
/// arity and that the connection may run it (NOAUTH); subcommand arity and
/// everything else is checked here.
pub fn handle(
    session: &mut Session,
    spec: &'static CommandSpec,
    args: &[Bytes],
    env: &SessionEnv,
) -> Outcome {
    session.last_command = spec.name;
    session.last_command_at_ms = env.now_ms;
    if args.is_empty() || !spec.arity_ok(args.len()) {
        return Outcome::Reply(table::arity_error_reply(spec.name.as_bytes()));
    }
    match spec.name {
        "ping" => Outcome::Reply(connection::ping(args)),
        "echo" => Outcome::Reply(connection::echo(args)),
        "hello" => Outcome::Reply(connection::hello(session, args, env)),
        "auth" => Outcome::Reply(connection::auth(session, args, env)),
        "select" => Outcome::Reply(connection::select(args)),
        "quit" => Outcome::ReplyAndClose(Reply::ok()),
        "reset" => {
            session.reset(env.password.is_some());
            Outcome::Reply(Reply::simple("RESET"))
        }
        "client" => connection::client(session, args, env),
        "command" => Outcome::Reply(server::command(session, args)),
        "config" => Outcome::Reply(server::config(session, args, env)),
        "info" => server::info(args),
        "time" => Outcome::Reply(server::time(env)),
        "role" => Outcome::Gather(GatherRequest::Role),
        "slowlog" => server::slowlog(session, args),
        other => Outcome::Reply(Reply::error_owned(format!(
            "ERR command '{other}' is not a connection-level command"
        ))),
    }
}

/// Answers a command that asked for node-wide state, once the engine has
/// the snapshot.
pub fn finish_gather(
    session: &Session,
    request: &GatherRequest,
    snapshot: &NodeSnapshot,
    env: &SessionEnv,
) -> Reply {
    match request {
        GatherRequest::Info { sections } => server::render_info(sections, snapshot, env),
        GatherRequest::ClientList { ids } => client_list(ids.as_deref(), snapshot, env),
        GatherRequest::ClientInfo => client_info_reply(session, env.now_ms),
        GatherRequest::Role => server::role_reply(snapshot.role.as_ref()),
    }
}

/// One line of CLIENT LIST (and CLIENT INFO) for `session`, without the
/// newline, in Redis 7.2's field order. Fields Petrel does not track (query
/// and output buffers, pub/sub, MULTI) read as an idle client's would.
pub fn client_list_line(session: &Session, now_ms: u64) -> String {
    let mut flags = String::new();
    if session.blocked {
        flags.push('b');
    }
    if session.transaction.in_multi() {
        flags.push('x');
    }
    if session.no_evict {
        flags.push('e');
    }
    if session.no_touch {
        flags.push('T');
    }
    if flags.is_empty() {
        flags.push('N');
    }
    let cmd = if session.last_command.is_empty() {
        "NULL"
    } else {
        session.last_command
    };
    let (tls_version, tls_cipher) = match &session.tls {
        Some((version, cipher)) => (version.as_str(), cipher.as_str()),
        None => ("", ""),
    };
    format!(
        "id={id} addr={addr} laddr={laddr} fd={fd} name={name} age={age} idle={idle} \
         flags={flags} db=0 sub=0 psub=0 ssub=0 multi={multi} qbuf=0 qbuf-free=0 argv-mem=0 \
         multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd={cmd} \
         user=default redir=-1 resp={resp} lib-name={lib_name} lib-ver={lib_version} \
         transport={transport} tls-version={tls_version} tls-cipher={tls_cipher}",
        transport = session.transport,
        multi = session
            .transaction
            .queued_count()
            .map_or(-1, |count| count as i64),
        id = session.id,
        addr = session.peer_address,
        laddr = session.local_address,
        fd = session.fd,
        name = text_of(session.name.as_ref()),
        age = now_ms.saturating_sub(session.created_at_ms) / 1000,
        idle = now_ms.saturating_sub(session.last_command_at_ms) / 1000,
        resp = session.protocol,
        lib_name = text_of(session.lib_name.as_ref()),
        lib_version = text_of(session.lib_version.as_ref()),
    )
}

/// CLIENT INFO's reply: the session's own line, newline-terminated.
pub(crate) fn client_info_reply(session: &Session, now_ms: u64) -> Reply {
    let mut line = client_list_line(session, now_ms);
    line.push('\n');
    Reply::Verbatim("txt", Bytes::from(line))
}

/// CLIENT LIST over every thread's lines: only connections to this
/// database's port, by id, or in the order of the ids asked for.
fn client_list(ids: Option<&[u64]>, snapshot: &NodeSnapshot, env: &SessionEnv) -> Reply {
    let mut lines: Vec<&(u64, String)> = snapshot
        .threads
        .iter()
        .flat_map(|thread| thread.client_lines.iter())
        .filter(|(_, line)| serves_port(line, env.port))
        .collect();
    lines.sort_by_key(|(id, _)| *id);
    let mut text = String::new();
    let mut push = |line: &str| {
        text.push_str(line);
        text.push('\n');
    };
    match ids {
        Some(ids) => {
            for wanted in ids {
                if let Ok(index) = lines.binary_search_by_key(wanted, |(id, _)| *id) {
                    push(&lines[index].1);
                }
            }
        }
        None => lines.iter().for_each(|(_, line)| push(line)),
    }
    Reply::Verbatim("txt", Bytes::from(text))
}

/// Whether a CLIENT LIST line belongs to a connection on `port`: each
/// database has its own port, and one database's clients must not see
/// another's. A line without a parseable `laddr` is kept.
fn serves_port(line: &str, port: u16) -> bool {
    let local_port = line
        .split(' ')
        .find_map(|field| field.strip_prefix("laddr="))
        .and_then(|address| address.rsplit_once(':'))
        .and_then(|(_, port)| port.parse::<u16>().ok());
    match local_port {
        Some(local_port) => port == 0 || local_port == port,
        None => true,
    }
}

/// A validated client attribute (name, library) as text; empty when unset.
fn text_of(value: Option<&Bytes>) -> std::borrow::Cow<'_, str> {
    value.map_or(std::borrow::Cow::Borrowed(""), |value| {
        String::from_utf8_lossy(value)
    })
}

/// Resolves a container's subcommand, or the error Redis gives: unknown
/// subcommand, or wrong number of arguments for `container|sub`.
pub(crate) fn resolve_subcommand(
    container: &'static str,
    args: &[Bytes],
) -> Result<&'static SubcommandSpec, Reply> {
    let Some(sub_name) = args.get(1) else {
        return Err(table::arity_error_reply(container.as_bytes()));
    };
    let found = subcommands(container)
        .iter()
        .find(|subcommand| sub_name.eq_ignore_ascii_case(subcommand.short_name().as_bytes()));
    match found {
        Some(subcommand) if subcommand.arity_ok(args.len()) => Ok(subcommand),
        Some(subcommand) => Err(table::arity_error_reply(subcommand.name.as_bytes())),
        None => Err(error_reply(format!(
            "ERR unknown subcommand '{}'. Try {} HELP.",
            truncated_text(sub_name, 128),
            container.to_ascii_uppercase()
        ))),
    }
}

/// An error reply from text that may quote client input: CR and LF become
/// spaces so that the error stays one line, as Redis does.
pub(crate) fn error_reply(text: String) -> Reply {
    Reply::error_owned(text.replace(['\r', '\n'], " "))
}

/// Client input quoted in an error, cut at `max_len` bytes as Redis's `%.128s`.
pub(crate) fn truncated_text(bytes: &[u8], max_len: usize) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(max_len)]).into_owned()
}

/// Parses a signed 64-bit integer as Redis's `string2ll` does: optional `-`,
/// no `+`, no spaces, no leading zeros.
pub(crate) fn parse_i64(bytes: &[u8]) -> Option<i64> {
    let digits = bytes.strip_prefix(b"-").unwrap_or(bytes);
    let well_formed = match digits {
        [] => false,
        [b'0'] => digits.len() == bytes.len(),
        [first, rest @ ..] => (b'1'..=b'9').contains(first) && rest.iter().all(u8::is_ascii_digit),
    };
    if !well_formed {
        return None;
    }
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

/// Redis's rule for client names and library attributes: printable ASCII
/// without spaces (`!` to `~`).
pub(crate) fn valid_client_attribute(value: &[u8]) -> bool {
    value.iter().all(|byte| (b'!'..=b'~').contains(byte))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Integers parse exactly as Redis's string2ll accepts them.
    #[test]
    fn parse_i64_follows_redis_rules() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-12"), Some(-12));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"-",
            b"+1",
            b"01",
            b"-0",
            b" 1",
            b"1 ",
            b"1a",
            b"9223372036854775808",
        ] {
            assert_eq!(parse_i64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    // CLIENT REPLY SKIP drops its own reply and the next one only.
    #[test]
    fn reply_skip_drops_two_replies() {
        let mut session = Session::new(1, 0, "a:1", "b:2", 0, false);
        session.replies_to_skip = 2;
        assert!(!session.should_reply());
        assert!(!session.should_reply());
        assert!(session.should_reply());
        session.replies_off = true;
        assert!(!session.should_reply());
    }

    // A line whose laddr names another port belongs to another database.
    #[test]
    fn client_lines_are_filtered_by_port() {
        assert!(serves_port("id=1 addr=a:1 laddr=127.0.0.1:6379 fd=1", 6379));
        assert!(!serves_port(
            "id=1 addr=a:1 laddr=127.0.0.1:6380 fd=1",
            6379
        ));
        assert!(serves_port("id=1 addr=a:1 laddr=[::1]:6379 fd=1", 6379));
        assert!(serves_port("id=1 addr=a:1 laddr= fd=1", 6379));
    }
}
