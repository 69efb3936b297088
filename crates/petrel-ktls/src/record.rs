//! Reading and writing records on a socket whose record layer the kernel owns.
//!
//! After the handoff, a plain `read`/`recv` (or an io_uring recv) returns
//! application data only. When the next record is anything else (an alert such
//! as close_notify, or a handshake message such as a TLS 1.3 NewSessionTicket
//! or KeyUpdate), the kernel fails that plain read with `EIO` and leaves the
//! record queued. The caller then calls [`recv_record`], which reads it with
//! `recvmsg` and a control-message buffer and says what it was. This module
//! decides nothing about what to do with a record: the engine does.

use std::fmt;
use std::io;
use std::os::fd::RawFd;

use crate::sys;

/// TLS content type `change_cipher_spec`.
pub const CONTENT_CHANGE_CIPHER_SPEC: u8 = 20;
/// TLS content type `alert`.
pub const CONTENT_ALERT: u8 = 21;
/// TLS content type `handshake`.
pub const CONTENT_HANDSHAKE: u8 = 22;
/// TLS content type `application_data`.
pub const CONTENT_APPLICATION_DATA: u8 = 23;

/// Alert level `warning`.
pub const ALERT_LEVEL_WARNING: u8 = 1;
/// Alert level `fatal`.
pub const ALERT_LEVEL_FATAL: u8 = 2;
/// Alert description `close_notify`.
pub const ALERT_CLOSE_NOTIFY: u8 = 0;

/// Handshake message type `new_session_ticket`.
pub const HANDSHAKE_NEW_SESSION_TICKET: u8 = 4;
/// Handshake message type `key_update` (TLS 1.3).
pub const HANDSHAKE_KEY_UPDATE: u8 = 24;

/// What one [`recv_record`] call read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Record {
    /// `n > 0` bytes of application data, now at the start of the buffer.
    Data(usize),
    /// The peer closed TCP (no more records will come).
    Eof,
    /// An alert record. `close_notify` is a clean end; any other alert ends
    /// the connection too (TLS 1.3 has no warning alerts besides
    /// close_notify and user_canceled).
    Alert { level: u8, description: u8 },
    /// A handshake record of `len` bytes, now at the start of the buffer;
    /// `msg_type` is its first message's type (4 NewSessionTicket, 24
    /// KeyUpdate). A KeyUpdate must end the connection: the kernel keeps
    /// the old receive key, and this crate does not re-key it.
    Handshake { len: usize, msg_type: u8 },
    /// A record of any other content type, `len` bytes at the start of the
    /// buffer (change_cipher_spec, or a type the peer should not send).
    Other { content_type: u8, len: usize },
}

impl Record {
    /// True for the close_notify alert: the peer is done and expects no error.
    pub fn is_close_notify(&self) -> bool {
        matches!(
            self,
            Record::Alert {
                description: ALERT_CLOSE_NOTIFY,
                ..
            }
        )
    }
}

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Record::Data(n) => write!(f, "{n} bytes of application data"),
            Record::Eof => f.write_str("end of stream"),
            Record::Alert {
                level,
                description: ALERT_CLOSE_NOTIFY,
            } => write!(f, "close_notify alert (level {level})"),
            Record::Alert { level, description } => {
                write!(f, "alert {description} (level {level})")
            }
            Record::Handshake {
                len,
                msg_type: HANDSHAKE_KEY_UPDATE,
            } => write!(f, "KeyUpdate handshake record ({len} bytes)"),
            Record::Handshake {
                len,
                msg_type: HANDSHAKE_NEW_SESSION_TICKET,
            } => write!(f, "NewSessionTicket handshake record ({len} bytes)"),
            Record::Handshake { len, msg_type } => {
                write!(f, "handshake record type {msg_type} ({len} bytes)")
            }
            Record::Other { content_type, len } => {
                write!(f, "record of content type {content_type} ({len} bytes)")
            }
        }
    }
}

/// Reads the next record (or the next run of application data) from a
/// socket with kTLS receive installed.
///
/// Application data comes back as `Data(n)`, possibly spanning several
/// records, and never mixed with a control record. A control record comes
/// back whole if `buf` can hold it: pass at least 16 KiB (the largest
/// plaintext record) when reading after an `EIO`. Follows the socket's
/// blocking mode: a non-blocking socket without data fails with
/// `WouldBlock`. `EINTR` is retried.
pub fn recv_record(fd: RawFd, buf: &mut [u8]) -> io::Result<Record> {
    if buf.is_empty() {
        // A zero-length read returns 0, which would look like end of stream.
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "recv_record needs a non-empty buffer",
        ));
    }
    let (n, record_type) = sys::recv_with_record_type(fd, buf)?;
    Ok(match record_type {
        // No control message: end of stream, or a socket without kTLS receive.
        None | Some(CONTENT_APPLICATION_DATA) if n == 0 => Record::Eof,
        None | Some(CONTENT_APPLICATION_DATA) => Record::Data(n),
        Some(CONTENT_ALERT) if n >= 2 => Record::Alert {
            level: buf[0],
            description: buf[1],
        },
        Some(CONTENT_HANDSHAKE) if n >= 1 => Record::Handshake {
            len: n,
            msg_type: buf[0],
        },
        Some(content_type) => Record::Other {
            content_type,
            len: n,
        },
    })
}

/// Sends one alert record through the kernel's record layer.
pub fn send_alert(fd: RawFd, level: u8, description: u8) -> io::Result<()> {
    send_record(fd, CONTENT_ALERT, &[level, description])
}

/// Sends a close_notify alert: the clean end of our sending direction. The
/// caller may shut down or close the socket afterwards.
pub fn send_close_notify(fd: RawFd) -> io::Result<()> {
    send_alert(fd, ALERT_LEVEL_WARNING, ALERT_CLOSE_NOTIFY)
}

/// Sends `payload` as records of `content_type` (the kernel splits it into
/// records of at most 16 KiB). Blocks or fails with `WouldBlock` according to
/// the socket's mode; a partial send is an error of kind `WriteZero`, since the
/// rest of a control record cannot be sent later as a separate record.
pub fn send_record(fd: RawFd, content_type: u8, payload: &[u8]) -> io::Result<()> {
    let sent = sys::send_with_record_type(fd, content_type, payload)?;
    if sent == payload.len() {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::WriteZero,
            format!(
                "kernel took {sent} of {} bytes of a record of content type {content_type}",
                payload.len()
            ),
        ))
    }
}

/// The kernel's global kTLS counters (`/proc/net/tls_stat`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsStat {
    counters: Vec<(String, u64)>,
}

impl TlsStat {
    /// Reads `/proc/net/tls_stat`. Fails with `NotFound` where the kernel has
    /// no kTLS (or the `tls` module is not loaded yet).
    pub fn read() -> io::Result<Self> {
        Ok(Self::parse(&std::fs::read_to_string("/proc/net/tls_stat")?))
    }

    /// Parses the file's `Name value` lines; malformed lines are skipped.
    pub fn parse(text: &str) -> Self {
        let counters = text
            .lines()
            .filter_map(|line| {
                let mut fields = line.split_whitespace();
                let name = fields.next()?;
                let value = fields.next()?.parse().ok()?;
                Some((name.to_owned(), value))
            })
            .collect();
        TlsStat { counters }
    }

    /// One counter by name, e.g. `TlsCurrTxSw`.
    pub fn counter(&self, name: &str) -> Option<u64> {
        self.counters
            .iter()
            .find(|(n, _)| n == name)
            .map(|&(_, v)| v)
    }

    /// Sockets with kernel TLS transmit in software right now.
    pub fn current_tx_sw(&self) -> u64 {
        self.counter("TlsCurrTxSw").unwrap_or(0)
    }

    /// Sockets with kernel TLS receive in software right now.
    pub fn current_rx_sw(&self) -> u64 {
        self.counter("TlsCurrRxSw").unwrap_or(0)
    }
}
