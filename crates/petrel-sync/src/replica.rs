//! The replica side of Redis replication: the handshake (PING, AUTH,
//! REPLCONF, PSYNC), the RDB payload (`$<len>` or the diskless `$EOF:`
//! form), then the command stream, answering GETACK and acknowledging its
//! offset every second.
//!
//! Inputs: [`ReplicaLink::handle_input`] with bytes from the source,
//! [`ReplicaLink::handle_timeout`] with the time. Outputs:
//! [`ReplicaLink::poll_transmit`] (bytes to send) and
//! [`ReplicaLink::poll_event`] (what to apply). The engine applies events in
//! the order they come; the link counts a command into its offset when it
//! hands it out.

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};

use crate::resp::{encode_command, line, take_command, StreamError};

/// How often a replica acknowledges its offset (Redis: every second).
pub const ACK_INTERVAL_MS: u64 = 1000;
/// Length of the diskless payload's end mark.
const EOF_MARK_BYTES: usize = 40;
/// Largest RDB payload accepted (a bound, not an expectation).
const RDB_BYTES_MAX: u64 = 64 * 1024 * 1024 * 1024;

/// How a replica introduces itself.
#[derive(Debug, Clone, Default)]
pub struct ReplicaConfig {
    /// `AUTH <password>` (or `AUTH <user> <password>`) when set.
    pub username: Option<Bytes>,
    pub password: Option<Bytes>,
    /// Announced with `REPLCONF listening-port`.
    pub listening_port: u16,
    /// The history and offset to resume: `PSYNC <replid> <offset + 1>`.
    pub resume: Option<(String, u64)>,
}

/// What the engine must apply.
#[derive(Debug, Clone, PartialEq)]
pub enum ReplicaEvent {
    /// Replace the whole dataset with this RDB payload; the stream that
    /// follows starts after `offset`.
    FullSync {
        replid: String,
        offset: u64,
        rdb: Bytes,
    },
    /// The source continues our history (possibly under a new id).
    Continue { replid: String },
    /// Apply one command of the stream.
    Command(Vec<Bytes>),
}

/// Why a link failed; the engine closes it and tries again later.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplicaError {
    #[error("the source refused {step}: {reply}")]
    Refused { step: &'static str, reply: String },
    #[error("unexpected reply to {step}: {reply}")]
    Unexpected { step: &'static str, reply: String },
    #[error(transparent)]
    Stream(#[from] StreamError),
    #[error("the RDB payload is larger than {RDB_BYTES_MAX} bytes")]
    PayloadTooLarge,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Ping,
    Auth,
    Port,
    Capa,
    Psync,
    /// Waiting for `$<len>` or `$EOF:<mark>` (newlines are keepalives).
    PayloadHeader {
        replid: String,
        offset: u64,
    },
    Payload {
        replid: String,
        offset: u64,
        length: u64,
    },
    PayloadUntilMark {
        replid: String,
        offset: u64,
        mark: Vec<u8>,
    },
    Streaming,
    Failed,
}

/// One replica's link to its source. See the module documentation for the
/// order of calls.
#[derive(Debug)]
pub struct ReplicaLink {
    config: ReplicaConfig,
    state: State,
    input: BytesMut,
    transmit: VecDeque<Vec<u8>>,
    events: VecDeque<ReplicaEvent>,
    replid: Option<String>,
    /// Stream bytes processed (Redis's slave_repl_offset).
    offset: u64,
    next_ack_ms: u64,
}

impl ReplicaLink {
    /// A link that starts by sending PING.
    pub fn new(config: ReplicaConfig) -> ReplicaLink {
        let mut link = ReplicaLink {
            replid: config.resume.as_ref().map(|(replid, _)| replid.clone()),
            offset: config.resume.as_ref().map_or(0, |(_, offset)| *offset),
            config,
            state: State::Ping,
            input: BytesMut::new(),
            transmit: VecDeque::new(),
            events: VecDeque::new(),
            next_ack_ms: 0,
        };
        link.send(&[&b"PING"[..]]);
        link
    }

    /// The history this replica follows, once known.
    pub fn replid(&self) -> Option<&str> {
        self.replid.as_deref()
    }

    /// Stream bytes applied so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Whether the handshake and the snapshot are done.
    pub fn is_streaming(&self) -> bool {
        self.state == State::Streaming
    }

    /// Whether the RDB payload is being received.
    pub fn is_loading(&self) -> bool {
        matches!(
            self.state,
            State::Payload { .. } | State::PayloadUntilMark { .. }
        )
    }

    /// Bytes to send to the source.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmit.pop_front()
    }

    /// The next thing to apply.
    pub fn poll_event(&mut self) -> Option<ReplicaEvent> {
        self.events.pop_front()
    }

    /// When [`ReplicaLink::handle_timeout`] wants to run next.
    pub fn poll_timeout(&self) -> Option<u64> {
        (self.state == State::Streaming).then_some(self.next_ack_ms)
    }

    /// Sends the periodic ACK when it is due.
    pub fn handle_timeout(&mut self, now_ms: u64) {
        if self.state == State::Streaming && now_ms >= self.next_ack_ms {
            self.queue_ack();
            self.next_ack_ms = now_ms + ACK_INTERVAL_MS;
        }
    }

    /// Takes bytes from the source.
    pub fn handle_input(&mut self, data: &[u8]) -> Result<(), ReplicaError> {
        self.input.extend_from_slice(data);
        let result = self.process();
        if result.is_err() {
            self.state = State::Failed;
        }
        result
    }

    fn process(&mut self) -> Result<(), ReplicaError> {
        loop {
            match self.state.clone() {
                State::Failed => return Ok(()),
                State::Ping => {
                    let Some(reply) = self.take_line() else {
                        return Ok(());
                    };
                    // An auth-protected source answers PING with NOAUTH
                    // before AUTH; Redis goes on, and so do we.
                    if !(reply == "+PONG"
                        || reply.starts_with("-NOAUTH")
                        || reply.starts_with("-NOPERM"))
                    {
                        return Err(refused_or_unexpected("PING", reply));
                    }
                    if let Some(password) = self.config.password.clone() {
                        match self.config.username.clone() {
                            Some(user) => self.send(&[&b"AUTH"[..], &user, &password]),
                            None => self.send(&[&b"AUTH"[..], &password]),
                        }
                        self.state = State::Auth;
                    } else {
                        self.send_port();
                    }
                }
                State::Auth => {
                    let Some(reply) = self.take_line() else {
                        return Ok(());
                    };
                    if reply != "+OK" {
                        return Err(refused_or_unexpected("AUTH", reply));
                    }
                    self.send_port();
                }
                State::Port => {
                    // A source that does not know the option still works.
                    if self.take_line().is_none() {
                        return Ok(());
                    }
                    self.send(&[&b"REPLCONF"[..], b"capa", b"psync2"]);
                    self.state = State::Capa;
                }
                State::Capa => {
                    if self.take_line().is_none() {
                        return Ok(());
                    }
                    let (replid, next) = match &self.config.resume {
                        Some((replid, offset)) => (replid.clone(), (offset + 1).to_string()),
                        None => ("?".to_string(), "-1".to_string()),
                    };
                    self.send(&[&b"PSYNC"[..], replid.as_bytes(), next.as_bytes()]);
                    self.state = State::Psync;
                }
                State::Psync => {
                    // A source preparing a snapshot may send newlines first.
                    while self.input.first() == Some(&b'\n') {
                        let _ = self.input.split_to(1);
                    }
                    let Some(reply) = self.take_line() else {
                        return Ok(());
                    };
                    if let Some(rest) = reply.strip_prefix("+FULLRESYNC ") {
                        let mut words = rest.split(' ');
                        let replid = words.next().unwrap_or_default().to_string();
                        let offset = words.next().and_then(|word| word.parse::<u64>().ok());
                        match offset {
                            Some(offset) if replid.len() == crate::source::REPLID_CHARS => {
                                self.state = State::PayloadHeader { replid, offset };
                            }
                            _ => return Err(refused_or_unexpected("PSYNC", reply)),
                        }
                    } else if let Some(rest) = reply.strip_prefix("+CONTINUE") {
                        let new_replid = rest.trim();
                        if !new_replid.is_empty() {
                            self.replid = Some(new_replid.to_string());
                        }
                        let replid = self.replid.clone().unwrap_or_default();
                        self.events.push_back(ReplicaEvent::Continue { replid });
                        self.state = State::Streaming;
                    } else {
                        return Err(refused_or_unexpected("PSYNC", reply));
                    }
                }
                State::PayloadHeader { replid, offset } => {
                    // Keepalive newlines while the source prepares the snapshot.
                    while self.input.first() == Some(&b'\n') {
                        let _ = self.input.split_to(1);
                    }
                    let Some(header) = self.take_line() else {
                        return Ok(());
                    };
                    if let Some(mark) = header.strip_prefix("$EOF:") {
                        if mark.len() != EOF_MARK_BYTES {
                            return Err(refused_or_unexpected("the RDB payload", header));
                        }
                        self.state = State::PayloadUntilMark {
                            replid,
                            offset,
                            mark: mark.as_bytes().to_vec(),
                        };
                    } else if let Some(length) = header
                        .strip_prefix('$')
                        .and_then(|text| text.parse::<u64>().ok())
                    {
                        if length > RDB_BYTES_MAX {
                            return Err(ReplicaError::PayloadTooLarge);
                        }
                        self.state = State::Payload {
                            replid,
                            offset,
                            length,
                        };
                    } else {
                        return Err(refused_or_unexpected("the RDB payload", header));
                    }
                }
                State::Payload {
                    replid,
                    offset,
                    length,
                } => {
                    let Ok(length) = usize::try_from(length) else {
                        return Err(ReplicaError::PayloadTooLarge);
                    };
                    if self.input.len() < length {
                        return Ok(());
                    }
                    let rdb = self.input.split_to(length).freeze();
                    self.loaded(replid, offset, rdb);
                }
                State::PayloadUntilMark {
                    replid,
                    offset,
                    mark,
                } => {
                    let Some(end) = self
                        .input
                        .windows(EOF_MARK_BYTES)
                        .position(|window| window == mark.as_slice())
                    else {
                        if self.input.len() as u64 > RDB_BYTES_MAX {
                            return Err(ReplicaError::PayloadTooLarge);
                        }
                        return Ok(());
                    };
                    let rdb = self.input.split_to(end).freeze();
                    let _ = self.input.split_to(EOF_MARK_BYTES);
                    self.loaded(replid, offset, rdb);
                }
                State::Streaming => {
                    let Some((args, used)) = take_command(&mut self.input)? else {
                        return Ok(());
                    };
                    self.offset += used as u64;
                    let is = |index: usize, name: &[u8]| {
                        args.get(index)
                            .is_some_and(|arg| arg.eq_ignore_ascii_case(name))
                    };
                    if args.is_empty() || is(0, b"PING") {
                        continue;
                    }
                    if is(0, b"REPLCONF") && is(1, b"GETACK") {
                        self.queue_ack();
                        continue;
                    }
                    self.events.push_back(ReplicaEvent::Command(args));
                }
            }
        }
    }

    fn loaded(&mut self, replid: String, offset: u64, rdb: Bytes) {
        self.replid = Some(replid.clone());
        self.offset = offset;
        self.events.push_back(ReplicaEvent::FullSync {
            replid,
            offset,
            rdb,
        });
        self.state = State::Streaming;
        // Acknowledge at once: a source waits for it before streaming after
        // a diskless payload.
        self.queue_ack();
    }

    fn send_port(&mut self) {
        let port = self.config.listening_port.to_string();
        self.send(&[&b"REPLCONF"[..], b"listening-port", port.as_bytes()]);
        self.state = State::Port;
    }

    fn queue_ack(&mut self) {
        let offset = self.offset.to_string();
        self.send(&[&b"REPLCONF"[..], b"ACK", offset.as_bytes()]);
    }

    fn send(&mut self, args: &[&[u8]]) {
        self.transmit.push_back(encode_command(args));
    }

    fn take_line(&mut self) -> Option<String> {
        let (text, used) = line(&self.input)?;
        let text = String::from_utf8_lossy(text).into_owned();
        let _ = self.input.split_to(used);
        Some(text)
    }
}

fn refused_or_unexpected(step: &'static str, reply: String) -> ReplicaError {
    if let Some(error) = reply.strip_prefix('-') {
        ReplicaError::Refused {
            step,
            reply: error.to_string(),
        }
    } else {
        ReplicaError::Unexpected { step, reply }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(link: &mut ReplicaLink) -> Vec<String> {
        std::iter::from_fn(|| link.poll_transmit())
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .collect()
    }

    // The whole handshake against a source that wants a password, a full
    // sync with a `$len` payload, then a stream with a PING, a GETACK and a
    // command: the offset counts every stream byte, the ACKs carry it.
    #[test]
    fn handshake_full_sync_and_stream() {
        let mut link = ReplicaLink::new(ReplicaConfig {
            password: Some(Bytes::from("secret")),
            listening_port: 7000,
            ..ReplicaConfig::default()
        });
        assert_eq!(drain(&mut link), vec!["*1\r\n$4\r\nPING\r\n"]);
        link.handle_input(b"-NOAUTH Authentication required.\r\n")
            .expect("ok");
        assert_eq!(
            drain(&mut link),
            vec!["*2\r\n$4\r\nAUTH\r\n$6\r\nsecret\r\n"]
        );
        link.handle_input(b"+OK\r\n").expect("ok");
        assert_eq!(
            drain(&mut link),
            vec!["*3\r\n$8\r\nREPLCONF\r\n$14\r\nlistening-port\r\n$4\r\n7000\r\n"]
        );
        link.handle_input(b"+OK\r\n").expect("ok");
        assert_eq!(
            drain(&mut link),
            vec!["*3\r\n$8\r\nREPLCONF\r\n$4\r\ncapa\r\n$6\r\npsync2\r\n"]
        );
        link.handle_input(b"+OK\r\n").expect("ok");
        assert_eq!(
            drain(&mut link),
            vec!["*3\r\n$5\r\nPSYNC\r\n$1\r\n?\r\n$2\r\n-1\r\n"]
        );
        let replid = "f".repeat(40);
        link.handle_input(format!("\n+FULLRESYNC {replid} 100\r\n\n\n$9\r\nREDIS").as_bytes())
            .expect("ok");
        assert!(link.poll_event().is_none());
        let ping = b"*1\r\n$4\r\nPING\r\n";
        let getack = b"*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n";
        let set = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n";
        let mut stream = b"0010".to_vec();
        stream.extend_from_slice(ping);
        stream.extend_from_slice(getack);
        stream.extend_from_slice(set);
        link.handle_input(&stream).expect("ok");
        assert_eq!(
            link.poll_event(),
            Some(ReplicaEvent::FullSync {
                replid: replid.clone(),
                offset: 100,
                rdb: Bytes::from("REDIS0010")
            })
        );
        let expected_after_getack = 100 + ping.len() + getack.len();
        assert_eq!(
            drain(&mut link),
            vec![
                "*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n$3\r\n100\r\n".to_string(),
                format!("*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n$3\r\n{expected_after_getack}\r\n"),
            ]
        );
        assert_eq!(
            link.poll_event(),
            Some(ReplicaEvent::Command(vec![
                Bytes::from("SET"),
                Bytes::from("k"),
                Bytes::from("v")
            ]))
        );
        assert_eq!(link.offset(), (expected_after_getack + set.len()) as u64);
        assert_eq!(link.replid(), Some(replid.as_str()));
        link.handle_timeout(5_000);
        assert_eq!(drain(&mut link).len(), 1);
        link.handle_timeout(5_500);
        assert!(drain(&mut link).is_empty());
    }

    // A resuming replica asks for the byte after its offset and continues
    // under the id the source names; the diskless form ends at its mark even
    // with stream bytes behind it.
    #[test]
    fn resume_and_diskless_payload() {
        let old = "a".repeat(40);
        let mut link = ReplicaLink::new(ReplicaConfig {
            resume: Some((old.clone(), 500)),
            ..ReplicaConfig::default()
        });
        link.handle_input(b"+PONG\r\n+OK\r\n+OK\r\n").expect("ok");
        let sent = drain(&mut link);
        assert_eq!(
            sent.last().map(String::as_str),
            Some(format!("*3\r\n$5\r\nPSYNC\r\n$40\r\n{old}\r\n$3\r\n501\r\n").as_str())
        );
        let new = "b".repeat(40);
        link.handle_input(format!("+CONTINUE {new}\r\n").as_bytes())
            .expect("ok");
        assert_eq!(
            link.poll_event(),
            Some(ReplicaEvent::Continue {
                replid: new.clone()
            })
        );
        assert_eq!(link.offset(), 500);

        let mut fresh = ReplicaLink::new(ReplicaConfig::default());
        fresh.handle_input(b"+PONG\r\n+OK\r\n+OK\r\n").expect("ok");
        let mark = "m".repeat(40);
        let mut input = format!("+FULLRESYNC {new} 7\r\n$EOF:{mark}\r\nREDIS0010").into_bytes();
        input.extend_from_slice(mark.as_bytes());
        input.extend_from_slice(b"*1\r\n$4\r\nPING\r\n");
        fresh.handle_input(&input).expect("ok");
        assert_eq!(
            fresh.poll_event(),
            Some(ReplicaEvent::FullSync {
                replid: new,
                offset: 7,
                rdb: Bytes::from("REDIS0010")
            })
        );
        assert_eq!(fresh.offset(), 7 + 14);
    }

    // A refused AUTH fails the link with the source's words.
    #[test]
    fn refused_auth_is_an_error() {
        let mut link = ReplicaLink::new(ReplicaConfig {
            password: Some(Bytes::from("wrong")),
            ..ReplicaConfig::default()
        });
        let error = link
            .handle_input(
                b"+PONG\r\n-WRONGPASS invalid username-password pair or user is disabled.\r\n",
            )
            .expect_err("refused");
        assert_eq!(
            error.to_string(),
            "the source refused AUTH: WRONGPASS invalid username-password pair or user is disabled."
        );
    }
}
