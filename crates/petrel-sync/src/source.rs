//! The source ("master") side of Redis replication, per database.
//!
//! A replica first runs REPLCONF on an ordinary connection
//! ([`ReplicaCapabilities::replconf`]), then PSYNC, which
//! [`ReplicationSource::psync`] answers with a decision: continue from the
//! backlog, or a full resync. The engine feeds every executed write into
//! [`ReplicationSource::feed`], which frames it (with a SELECT whenever the
//! database changes) and appends it to the backlog; the same bytes go to
//! every replica that is online.

use bytes::Bytes;

use crate::backlog::Backlog;
use crate::rdb::RdbWriter;
use crate::resp::encode_command_into;

/// Redis's replication id: 40 hexadecimal characters.
pub const REPLID_CHARS: usize = 40;

/// The replid Redis replicas send to ask for a full sync.
const UNKNOWN_REPLID: &[u8] = b"?";

/// What a replica said about itself with REPLCONF.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplicaCapabilities {
    pub listening_port: Option<u16>,
    pub ip_address: Option<String>,
    /// Understands the diskless `$EOF:` payload.
    pub eof: bool,
    /// Understands `+CONTINUE <replid>` (PSYNC 2).
    pub psync2: bool,
    /// `REPLCONF rdb-only 1`: wants the snapshot and no stream after it
    /// (`redis-cli --rdb`); the source closes the link once it is sent.
    pub rdb_only: bool,
}

/// What a REPLCONF asks of the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replconf {
    /// Answer with this reply (`+OK` or an error).
    Reply(Bytes),
    /// The replica has processed the stream up to this offset; no reply.
    Ack(u64),
    /// The replica asks for our ACK; ignored on a source.
    GetAck,
}

impl ReplicaCapabilities {
    /// Applies `REPLCONF <option> <value> ...` (`args` includes the name).
    pub fn replconf(&mut self, args: &[Bytes]) -> Replconf {
        if args.len().is_multiple_of(2) {
            return Replconf::Reply(Bytes::from_static(b"-ERR syntax error\r\n"));
        }
        let mut pairs = args[1..].chunks_exact(2);
        let mut ack = None;
        for pair in pairs.by_ref() {
            let option = pair[0].to_ascii_lowercase();
            let value = &pair[1];
            match option.as_slice() {
                b"listening-port" => match parse_u64(value).and_then(|p| u16::try_from(p).ok()) {
                    Some(port) => self.listening_port = Some(port),
                    None => {
                        return Replconf::Reply(Bytes::from_static(
                            b"-ERR value is not an integer or out of range\r\n",
                        ))
                    }
                },
                b"ip-address" => {
                    self.ip_address = Some(String::from_utf8_lossy(value).into_owned());
                }
                b"capa" => {
                    if value.eq_ignore_ascii_case(b"eof") {
                        self.eof = true;
                    } else if value.eq_ignore_ascii_case(b"psync2") {
                        self.psync2 = true;
                    }
                }
                b"ack" => match parse_u64(value) {
                    Some(offset) => ack = Some(offset),
                    None => return Replconf::Reply(Bytes::new()),
                },
                b"rdb-only" => match std::str::from_utf8(value).ok().and_then(parse_strict_i64) {
                    Some(1) => self.rdb_only = true,
                    Some(0) => self.rdb_only = false,
                    Some(_) => {
                        return Replconf::Reply(Bytes::from_static(
                            b"-ERR value is out of range, value must between 0 and 1\r\n",
                        ))
                    }
                    None => {
                        return Replconf::Reply(Bytes::from_static(
                            b"-ERR value is not an integer or out of range\r\n",
                        ))
                    }
                },
                // fack follows ack; a filtered snapshot is not offered, and
                // the whole one is sent.
                b"fack" | b"rdb-filter-only" => {}
                b"getack" => return Replconf::GetAck,
                _ => {
                    return Replconf::Reply(Bytes::from(format!(
                        "-ERR Unrecognized REPLCONF option: {}\r\n",
                        String::from_utf8_lossy(&pair[0])
                    )))
                }
            }
        }
        match ack {
            Some(offset) => Replconf::Ack(offset),
            None => Replconf::Reply(Bytes::from_static(b"+OK\r\n")),
        }
    }
}

/// How a PSYNC is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PsyncDecision {
    /// Send `reply`, then the backlog from `next_offset` on.
    Continue { reply: Vec<u8>, next_offset: u64 },
    /// A full resync: the engine takes a snapshot, answers with
    /// [`ReplicationSource::fullresync_reply`] and sends the RDB.
    FullResync,
}

/// One database's replication history: its id, its stream offset and
/// backlog, and the database the stream last selected.
#[derive(Debug, Clone)]
pub struct ReplicationSource {
    replid: String,
    backlog: Backlog,
    stream_db: Option<u64>,
}

impl ReplicationSource {
    /// A new history with id `replid` (40 hex characters; see
    /// [`replid_from_random`]) and a backlog of `backlog_bytes`.
    pub fn new(replid: String, backlog_bytes: usize) -> ReplicationSource {
        ReplicationSource {
            replid,
            backlog: Backlog::new(backlog_bytes, 0),
            stream_db: None,
        }
    }

    pub fn replid(&self) -> &str {
        &self.replid
    }

    /// Bytes of stream produced so far (Redis's master_repl_offset).
    pub fn offset(&self) -> u64 {
        self.backlog.offset()
    }

    pub fn backlog(&self) -> &Backlog {
        &self.backlog
    }

    /// Appends one executed write of database `db` to the stream and
    /// returns the bytes appended (a SELECT first when the database changed).
    pub fn feed<A: AsRef<[u8]>>(&mut self, db: u64, args: &[A]) -> Vec<u8> {
        let mut bytes = Vec::new();
        if self.stream_db != Some(db) {
            encode_command_into(
                &mut bytes,
                &[b"SELECT".as_slice(), db.to_string().as_bytes()],
            );
            self.stream_db = Some(db);
        }
        encode_command_into(&mut bytes, args);
        self.backlog.append(&bytes);
        bytes
    }

    /// Appends a PING (the keepalive a source sends every few seconds, which
    /// moves the offset so replicas can measure their lag).
    pub fn feed_ping(&mut self) -> Vec<u8> {
        let mut bytes = Vec::new();
        encode_command_into(&mut bytes, &[b"PING"]);
        self.backlog.append(&bytes);
        bytes
    }

    /// Makes the next command carry a SELECT whatever the database, so a
    /// replica that joins the stream here need not know what came before.
    pub fn forget_stream_db(&mut self) {
        self.stream_db = None;
    }

    /// Starts a new history after the stream lost bytes (a shard's queue
    /// overflowed): no replica may continue the old one. The offset goes on.
    pub fn new_history(&mut self, replid: String) {
        self.replid = replid;
        let capacity = self.backlog.capacity_bytes();
        self.backlog = Backlog::new(capacity, self.backlog.offset());
        self.stream_db = None;
    }

    /// Answers `PSYNC <replid> <offset>`; SYNC (no arguments) always
    /// resyncs fully.
    pub fn psync(&self, args: &[Bytes], capabilities: &ReplicaCapabilities) -> PsyncDecision {
        let [_, replid, offset] = args else {
            return PsyncDecision::FullResync;
        };
        if replid.as_ref() == UNKNOWN_REPLID || replid.as_ref() != self.replid.as_bytes() {
            return PsyncDecision::FullResync;
        }
        let Some(next_offset) = std::str::from_utf8(offset)
            .ok()
            .and_then(|text| text.parse::<u64>().ok())
        else {
            return PsyncDecision::FullResync;
        };
        if !self.backlog.covers(next_offset) {
            return PsyncDecision::FullResync;
        }
        let reply = if capabilities.psync2 {
            format!("+CONTINUE {}\r\n", self.replid).into_bytes()
        } else {
            b"+CONTINUE\r\n".to_vec()
        };
        PsyncDecision::Continue { reply, next_offset }
    }

    /// Whether a full resync is announced with `+FULLRESYNC` before the
    /// snapshot: after PSYNC, yes; after the old SYNC, no (the snapshot's
    /// bulk header comes first, as Redis sends it, and `redis-cli --rdb`
    /// reads it).
    pub fn announces_full_resync(sync_command: &[Bytes]) -> bool {
        sync_command
            .first()
            .is_some_and(|name| name.eq_ignore_ascii_case(b"psync"))
    }

    /// `+FULLRESYNC <replid> <offset>`: the replica's offset once it has
    /// loaded the snapshot that follows.
    pub fn fullresync_reply(&self, offset: u64) -> Vec<u8> {
        format!("+FULLRESYNC {} {}\r\n", self.replid, offset).into_bytes()
    }

    /// Starts the RDB of a full sync at stream offset `offset`, with the
    /// AUX fields a Redis 7.0 source writes.
    pub fn snapshot_writer(&self, offset: u64, now_ms: u64, used_memory_bytes: u64) -> RdbWriter {
        let mut writer = RdbWriter::new();
        writer.aux(b"redis-ver", REDIS_VERSION.as_bytes());
        writer.aux(b"redis-bits", b"64");
        writer.aux(b"ctime", (now_ms / 1000).to_string().as_bytes());
        writer.aux(b"used-mem", used_memory_bytes.to_string().as_bytes());
        writer.aux(b"repl-stream-db", b"0");
        writer.aux(b"repl-id", self.replid.as_bytes());
        writer.aux(b"repl-offset", offset.to_string().as_bytes());
        writer.aux(b"aof-base", b"0");
        writer
    }
}

/// The Redis version Petrel's snapshots claim to come from (the protocol
/// level it speaks).
pub const REDIS_VERSION: &str = "7.0.0";

/// A replication id from 20 random bytes.
pub fn replid_from_random(random: [u8; 20]) -> String {
    random.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// An integer as Redis reads one: no sign but a leading `-`, no leading
/// zeros, no spaces.
fn parse_strict_i64(text: &str) -> Option<i64> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let canonical = !digits.is_empty()
        && digits.bytes().all(|byte| byte.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'))
        && text != "-0";
    canonical.then(|| text.parse().ok()).flatten()
}

fn parse_u64(text: &[u8]) -> Option<u64> {
    std::str::from_utf8(text).ok()?.parse().ok()
}

/// Frames the stream for one replica while it joins: a SELECT whenever the
/// database changes, as [`ReplicationSource::feed`] does for the backlog.
#[derive(Debug, Clone, Default)]
pub struct StreamFramer {
    db: Option<u64>,
}

impl StreamFramer {
    pub fn frame<A: AsRef<[u8]>>(&mut self, db: u64, args: &[A], out: &mut Vec<u8>) {
        if self.db != Some(db) {
            encode_command_into(out, &[b"SELECT".as_slice(), db.to_string().as_bytes()]);
            self.db = Some(db);
        }
        encode_command_into(out, args);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Vec<Bytes> {
        text.split(' ')
            .map(|word| Bytes::copy_from_slice(word.as_bytes()))
            .collect()
    }

    // The handshake a redis-server 7 replica sends is accepted: the port and
    // capabilities are remembered, an unknown option is refused with
    // Redis's wording, an ACK is recorded without a reply.
    #[test]
    fn replconf_from_a_redis_replica() {
        let mut capabilities = ReplicaCapabilities::default();
        assert_eq!(
            capabilities.replconf(&args("REPLCONF listening-port 6380")),
            Replconf::Reply(Bytes::from_static(b"+OK\r\n"))
        );
        assert_eq!(
            capabilities.replconf(&args("REPLCONF capa eof capa psync2")),
            Replconf::Reply(Bytes::from_static(b"+OK\r\n"))
        );
        assert_eq!(capabilities.listening_port, Some(6380));
        assert!(capabilities.eof && capabilities.psync2);
        assert_eq!(
            capabilities.replconf(&args("REPLCONF nonsense 1")),
            Replconf::Reply(Bytes::from_static(
                b"-ERR Unrecognized REPLCONF option: nonsense\r\n"
            ))
        );
        assert_eq!(
            capabilities.replconf(&args("REPLCONF ack 42 fack 40")),
            Replconf::Ack(42)
        );
        assert_eq!(
            capabilities.replconf(&args("REPLCONF capa")),
            Replconf::Reply(Bytes::from_static(b"-ERR syntax error\r\n"))
        );
    }

    // The stream selects the database before the first command and again
    // only when it changes; offsets count every byte.
    #[test]
    fn feed_frames_select_and_counts_offsets() {
        let mut source = ReplicationSource::new("a".repeat(40), 1024);
        let first = source.feed(0, &["SET", "k", "v"]);
        assert_eq!(
            first,
            b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"
        );
        let second = source.feed(0, &["DEL", "k"]);
        assert_eq!(second, b"*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n");
        assert_eq!(source.offset(), (first.len() + second.len()) as u64);
        source.forget_stream_db();
        assert!(source
            .feed(0, &["DEL", "k"])
            .starts_with(b"*2\r\n$6\r\nSELECT"));
    }

    // PSYNC continues only with our replid and an offset the backlog still
    // covers; `?`, another id, or a lost offset means a full resync, and a
    // new history refuses the old id.
    #[test]
    fn psync_decisions() {
        let mut source = ReplicationSource::new("b".repeat(40), 64);
        let psync2 = ReplicaCapabilities {
            psync2: true,
            ..ReplicaCapabilities::default()
        };
        assert_eq!(
            source.psync(&args("PSYNC ? -1"), &psync2),
            PsyncDecision::FullResync
        );
        source.feed(0, &["SET", "k", "v"]);
        let offset = source.offset();
        let resume = format!("PSYNC {} {}", "b".repeat(40), offset + 1);
        assert_eq!(
            source.psync(&args(&resume), &psync2),
            PsyncDecision::Continue {
                reply: format!("+CONTINUE {}\r\n", "b".repeat(40)).into_bytes(),
                next_offset: offset + 1
            }
        );
        let other = format!("PSYNC {} {}", "c".repeat(40), offset + 1);
        assert_eq!(
            source.psync(&args(&other), &psync2),
            PsyncDecision::FullResync
        );
        for _ in 0..10 {
            source.feed(0, &["SET", "k", "v"]);
        }
        assert_eq!(
            source.psync(&args(&resume), &psync2),
            PsyncDecision::FullResync
        );
        let current = format!("PSYNC {} {}", "b".repeat(40), source.offset() + 1);
        assert!(matches!(
            source.psync(&args(&current), &psync2),
            PsyncDecision::Continue { .. }
        ));
        source.new_history("d".repeat(40));
        assert_eq!(
            source.psync(&args(&current), &psync2),
            PsyncDecision::FullResync
        );
        assert_eq!(
            source.psync(&args("SYNC"), &psync2),
            PsyncDecision::FullResync
        );
    }

    // `redis-cli --rdb` asks for the snapshot only, then sends the old SYNC:
    // rdb-only is remembered (and checked as Redis 7.0 checks it), and
    // only PSYNC announces a full resync with +FULLRESYNC.
    #[test]
    fn a_snapshot_only_client_is_recognised() {
        let mut capabilities = ReplicaCapabilities::default();
        assert_eq!(
            capabilities.replconf(&args("REPLCONF rdb-only 1")),
            Replconf::Reply(Bytes::from_static(b"+OK\r\n"))
        );
        assert!(capabilities.rdb_only);
        assert_eq!(
            capabilities.replconf(&args("REPLCONF rdb-only 0")),
            Replconf::Reply(Bytes::from_static(b"+OK\r\n"))
        );
        assert!(!capabilities.rdb_only);
        for (value, error) in [
            (
                "2",
                "-ERR value is out of range, value must between 0 and 1\r\n",
            ),
            (
                "-1",
                "-ERR value is out of range, value must between 0 and 1\r\n",
            ),
            ("x", "-ERR value is not an integer or out of range\r\n"),
            ("01", "-ERR value is not an integer or out of range\r\n"),
        ] {
            assert_eq!(
                capabilities.replconf(&args(&format!("REPLCONF rdb-only {value}"))),
                Replconf::Reply(Bytes::from(error)),
                "{value}"
            );
        }
        assert!(!ReplicationSource::announces_full_resync(&args("SYNC")));
        assert!(ReplicationSource::announces_full_resync(&args(
            "psync ? -1"
        )));
    }
}
