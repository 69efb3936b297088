//! Server-side request parsing: multibulk and inline commands, incrementally,
//! with Redis 7.0's limits and exact protocol error texts.
//!
//! The parser owns the framing of requests only. It does not know commands,
//! does not look at authentication itself (the caller says whether the
//! client is authenticated), and does not close connections: after an
//! `Err`, the engine sends [`ProtocolError::reply_text`] and closes.
//!
//! Behaviour was checked byte for byte against redis-server 7.0.15. Where
//! Petrel deliberately differs:
//! - An inline line longer than `inline_len_max` is always refused. Redis
//!   only checks while no newline has arrived, so whether it accepts a longer
//!   line depends on how the bytes were split across reads.
//! - A NUL byte is an ordinary byte everywhere. Redis searches lines with
//!   `strchr`, so a NUL in front of the line end makes it wait for more input
//!   (and finally fail with a "too big" error), and its inline splitter ends
//!   the line at a NUL; Petrel keeps the NUL inside the argument, or refuses
//!   the count line as an invalid length.
//!
//! Where Petrel follows Redis although it is lenient: the byte after a
//! length line's CR and the two bytes after a bulk payload are skipped
//! without checking that they are LF and CRLF; `*0` and negative counts are
//! empty requests that are skipped; empty inline lines are skipped.

use bytes::{Buf, Bytes, BytesMut};

use crate::error::ProtocolError;

/// Preallocation cap for a multibulk's argument list (as Redis does), so a
/// peer announcing two billion arguments cannot make us reserve memory
/// before sending them.
const ARGUMENTS_PREALLOCATE_MAX: usize = 1024;

/// Longest number Redis's `string2ll` accepts, sign included (its
/// `LONG_STR_SIZE` is 21 with the terminator).
const NUMBER_LEN_MAX: usize = 20;

/// The limits a request must respect. Defaults are Redis 7.0's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Longest bulk argument (`proto-max-bulk-len`, default 512 MiB).
    pub proto_max_bulk_len: u64,
    /// Longest inline request line, and longest `*`/`$` length line
    /// (`PROTO_INLINE_MAX_SIZE`, 64 KiB).
    pub inline_len_max: usize,
    /// Most arguments in one multibulk request (`INT_MAX` in Redis).
    pub multibulk_len_max: u64,
    /// Most arguments in one request before the client authenticated (10).
    pub unauthenticated_multibulk_len_max: u64,
    /// Longest bulk argument before the client authenticated (16 KiB).
    pub unauthenticated_bulk_len_max: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            proto_max_bulk_len: 512 * 1024 * 1024,
            inline_len_max: 64 * 1024,
            multibulk_len_max: i32::MAX as u64,
            unauthenticated_multibulk_len_max: 10,
            unauthenticated_bulk_len_max: 16 * 1024,
        }
    }
}

/// Incremental parser of client requests.
///
/// Call [`RequestParser::parse`] whenever bytes were appended to the
/// connection's buffer, until it returns `Ok(None)`. Between calls the
/// caller may only append to the buffer (reserving is fine); the parser
/// remembers offsets into it so that a large request arriving in many pieces
/// is scanned once. After an `Err` the connection must be closed.
#[derive(Debug)]
pub struct RequestParser {
    limits: Limits,
    mode: Mode,
    /// Offset where the next length line or bulk payload of the current
    /// multibulk request starts.
    pos: usize,
    /// How far the search for the current line's terminator has looked, so
    /// that a line arriving in pieces is not searched from its start again.
    scanned: usize,
    /// Arguments the current multibulk request still owes.
    arguments_left: u64,
    /// Length of the bulk payload being waited for, once its `$` line is read.
    bulk_len: Option<usize>,
    /// Argument ranges of the current multibulk request, reused across
    /// requests.
    arguments: Vec<(usize, usize)>,
    /// Bytes still missing for the bulk payload being waited for.
    wanted: Option<usize>,
    /// An argument vector handed back by the caller, filled by the next
    /// multibulk request instead of a new allocation.
    spare: Vec<Bytes>,
}

/// Argument vectors larger than this are not kept for reuse, so one
/// MSET of many keys does not pin its vector for the connection's life.
const RECYCLED_ARGUMENTS_MAX: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Between requests.
    Idle,
    /// Waiting for the newline of an inline request.
    Inline,
    /// Waiting for the `*<count>` line.
    MultibulkCount,
    /// Reading the arguments of a multibulk request.
    Multibulk,
}

/// Outcome of reading a `*<count>` line.
enum CountProgress {
    /// The count was read; arguments follow.
    Arguments,
    /// An empty request (`*0`, negative counts) was consumed.
    Skipped,
    Incomplete,
}

/// One argument of an inline request: a plain token is a slice of the line,
/// a token with quotes is rebuilt with its escapes resolved.
enum InlineArgument {
    Range(usize, usize),
    Owned(Vec<u8>),
}

impl RequestParser {
    pub fn new(limits: Limits) -> Self {
        RequestParser {
            limits,
            mode: Mode::Idle,
            pos: 0,
            scanned: 0,
            arguments_left: 0,
            bulk_len: None,
            arguments: Vec::new(),
            wanted: None,
            spare: Vec::new(),
        }
    }

    /// Takes back the argument vector of a request that is done with, so
    /// the next request reuses its allocation. Its contents are dropped.
    pub fn recycle(&mut self, mut arguments: Vec<Bytes>) {
        if arguments.capacity() <= RECYCLED_ARGUMENTS_MAX && self.spare.capacity() == 0 {
            arguments.clear();
            self.spare = arguments;
        }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Takes the next complete request off the front of `buf`, consuming
    /// exactly its bytes (and any empty requests in front of it), and returns
    /// its arguments as zero-copy slices of the buffer (quoted inline
    /// arguments excepted). `Ok(None)` means more bytes are needed; nothing is
    /// consumed then. Never returns an empty argument list.
    ///
    /// `authenticated` = false applies Redis's stricter limits for clients
    /// that have not authenticated yet (at most
    /// `unauthenticated_multibulk_len_max` arguments, each at most
    /// `unauthenticated_bulk_len_max` bytes).
    pub fn parse(
        &mut self,
        buf: &mut BytesMut,
        authenticated: bool,
    ) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        let result = self.parse_inner(buf, authenticated);
        if result.is_err() {
            self.reset();
        }
        result
    }

    /// When the request in progress waits for a bulk payload: how many more
    /// bytes it needs (payload and its CRLF), as of the last
    /// [`RequestParser::parse`] call. Lets the engine reserve once for a large
    /// value instead of growing the buffer step by step.
    pub fn bytes_wanted(&self) -> Option<usize> {
        self.wanted
    }

    /// Forgets any request in progress, e.g. when the buffer was discarded.
    pub fn reset(&mut self) {
        self.mode = Mode::Idle;
        self.pos = 0;
        self.scanned = 0;
        self.arguments_left = 0;
        self.bulk_len = None;
        self.arguments.clear();
        self.wanted = None;
    }

    fn parse_inner(
        &mut self,
        buf: &mut BytesMut,
        authenticated: bool,
    ) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        self.wanted = None;
        // Offsets from earlier calls are only valid if the caller kept the
        // buffer; if it was cut short, start over instead of slicing past it.
        if buf.len() < self.scanned.max(self.pos) {
            self.reset();
        }
        loop {
            match self.mode {
                Mode::Idle => {
                    let Some(&first) = buf.first() else {
                        return Ok(None);
                    };
                    self.mode = if first == b'*' {
                        Mode::MultibulkCount
                    } else {
                        Mode::Inline
                    };
                    self.pos = 0;
                    self.scanned = 0;
                }
                Mode::Inline => match self.parse_inline(buf)? {
                    Progress::Request(arguments) => return Ok(Some(arguments)),
                    Progress::Skipped => self.reset(),
                    Progress::Incomplete => return Ok(None),
                },
                Mode::MultibulkCount => match self.parse_count(buf, authenticated)? {
                    CountProgress::Skipped => self.reset(),
                    CountProgress::Incomplete => return Ok(None),
                    CountProgress::Arguments => self.mode = Mode::Multibulk,
                },
                Mode::Multibulk => return self.parse_arguments(buf, authenticated),
            }
        }
    }

    fn parse_inline(&mut self, buf: &mut BytesMut) -> Result<Progress, ProtocolError> {
        let Some(offset) = memchr::memchr(b'\n', &buf[self.scanned..]) else {
            if buf.len() > self.limits.inline_len_max {
                return Err(ProtocolError::TooBigInlineRequest);
            }
            self.scanned = buf.len();
            return Ok(Progress::Incomplete);
        };
        let newline = self.scanned + offset;
        if newline > self.limits.inline_len_max {
            return Err(ProtocolError::TooBigInlineRequest);
        }
        let line_end = if newline > 0 && buf[newline - 1] == b'\r' {
            newline - 1
        } else {
            newline
        };
        let tokens = split_inline(&buf[..line_end])?;
        if tokens.is_empty() {
            buf.advance(newline + 1);
            return Ok(Progress::Skipped);
        }
        let line = buf.split_to(newline + 1).freeze();
        let arguments = tokens
            .into_iter()
            .map(|token| match token {
                InlineArgument::Range(start, end) => line.slice(start..end),
                InlineArgument::Owned(bytes) => Bytes::from(bytes),
            })
            .collect();
        self.reset();
        Ok(Progress::Request(arguments))
    }

    /// Reads the `*<count>` line.
    fn parse_count(
        &mut self,
        buf: &mut BytesMut,
        authenticated: bool,
    ) -> Result<CountProgress, ProtocolError> {
        let (cr, number) = match canonical_length(buf, 0) {
            Some((cr, value)) => (cr, Some(value as i64)),
            None => {
                let Some(cr) = self.find_cr(buf, 0) else {
                    if buf.len() > self.limits.inline_len_max {
                        return Err(ProtocolError::TooBigMultibulkCountString);
                    }
                    return Ok(CountProgress::Incomplete);
                };
                // Redis waits for the byte after CR but does not check it is LF.
                if cr + 1 >= buf.len() {
                    return Ok(CountProgress::Incomplete);
                }
                (cr, parse_redis_number(&buf[1..cr]))
            }
        };
        let count = match number {
            Some(count) if count <= 0 => {
                buf.advance(cr + 2);
                return Ok(CountProgress::Skipped);
            }
            Some(count) if count as u64 <= self.limits.multibulk_len_max => count as u64,
            _ => return Err(ProtocolError::InvalidMultibulkLength),
        };
        if !authenticated && count > self.limits.unauthenticated_multibulk_len_max {
            return Err(ProtocolError::UnauthenticatedMultibulkLength);
        }
        self.arguments_left = count;
        self.arguments.clear();
        self.arguments.reserve(
            usize::try_from(count)
                .unwrap_or(usize::MAX)
                .min(ARGUMENTS_PREALLOCATE_MAX),
        );
        self.pos = cr + 2;
        self.scanned = self.pos;
        Ok(CountProgress::Arguments)
    }

    fn parse_arguments(
        &mut self,
        buf: &mut BytesMut,
        authenticated: bool,
    ) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        while self.arguments_left > 0 {
            let bulk_len = match self.bulk_len {
                Some(len) => len,
                None => {
                    let start = self.pos;
                    let (cr, number) = match canonical_length(buf, start) {
                        Some((cr, value)) if buf[start] == b'$' => (cr, Some(value as i64)),
                        _ => {
                            let Some(cr) = self.find_cr(buf, start) else {
                                if buf.len() - start > self.limits.inline_len_max {
                                    return Err(ProtocolError::TooBigBulkCountString);
                                }
                                return Ok(None);
                            };
                            if cr + 1 >= buf.len() {
                                return Ok(None);
                            }
                            if buf[start] != b'$' {
                                return Err(ProtocolError::ExpectedDollar(buf[start]));
                            }
                            (cr, parse_redis_number(&buf[start + 1..cr]))
                        }
                    };
                    let len = match number {
                        Some(len) if len >= 0 && len as u64 <= self.limits.proto_max_bulk_len => {
                            len as u64
                        }
                        _ => return Err(ProtocolError::InvalidBulkLength),
                    };
                    if !authenticated && len > self.limits.unauthenticated_bulk_len_max {
                        return Err(ProtocolError::UnauthenticatedBulkLength);
                    }
                    let len = usize::try_from(len).map_err(|_| ProtocolError::InvalidBulkLength)?;
                    self.pos = cr + 2;
                    self.bulk_len = Some(len);
                    len
                }
            };
            // Redis needs the two bytes after the payload but does not check
            // that they are CRLF.
            let end = self.pos + bulk_len;
            if buf.len() < end + 2 {
                self.wanted = Some(end + 2 - buf.len());
                return Ok(None);
            }
            self.arguments.push((self.pos, end));
            self.pos = end + 2;
            self.scanned = self.pos;
            self.bulk_len = None;
            self.arguments_left -= 1;
        }
        let request = buf.split_to(self.pos).freeze();
        let mut arguments = std::mem::take(&mut self.spare);
        arguments.extend(
            self.arguments
                .iter()
                .map(|&(start, end)| request.slice(start..end)),
        );
        self.reset();
        Ok(Some(arguments))
    }

    /// Finds the CR ending the line that starts at `start`, resuming where the
    /// previous search stopped.
    fn find_cr(&mut self, buf: &[u8], start: usize) -> Option<usize> {
        let from = self.scanned.max(start);
        match memchr::memchr(b'\r', &buf[from..]) {
            Some(offset) => {
                self.scanned = from + offset;
                Some(from + offset)
            }
            None => {
                self.scanned = buf.len();
                None
            }
        }
    }
}

impl Default for RequestParser {
    fn default() -> Self {
        RequestParser::new(Limits::default())
    }
}

enum Progress {
    /// A complete request.
    Request(Vec<Bytes>),
    /// An empty request was consumed; parse the next one.
    Skipped,
    Incomplete,
}

/// The common shape of a length line, read without a search: one marker
/// byte at `start` (`*` or `$`, not checked here), a number in canonical
/// form (`0`, or 1 to 18 digits not starting with `0`), CR, and at least one
/// byte after it. Returns the CR's offset and the number. Anything else,
/// including an incomplete line, is `None` and goes the general way, which
/// gives the same answer for every line this accepts.
#[inline]
fn canonical_length(buf: &[u8], start: usize) -> Option<(usize, u64)> {
    const DIGITS_MAX: usize = 18;
    let line = buf.get(start + 1..)?;
    let mut value: u64 = 0;
    for (index, &byte) in line.iter().enumerate().take(DIGITS_MAX + 1) {
        match byte {
            b'0'..=b'9' if !(index > 0 && value == 0) && index < DIGITS_MAX => {
                value = value * 10 + u64::from(byte - b'0');
            }
            b'\r' if index > 0 && line.len() > index + 1 => {
                return Some((start + 1 + index, value));
            }
            _ => return None,
        }
    }
    None
}

/// Parses a length the way Redis's `string2ll` does: optional `-`, no `+`,
/// no leading zeros (except "0" itself), at most 20 characters, no overflow.
fn parse_redis_number(text: &[u8]) -> Option<i64> {
    if text.is_empty() || text.len() > NUMBER_LEN_MAX {
        return None;
    }
    if text == b"0" {
        return Some(0);
    }
    let (negative, digits) = match text.strip_prefix(b"-") {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let mut value: u64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    if negative {
        0i64.checked_sub_unsigned(value)
    } else {
        i64::try_from(value).ok()
    }
}

/// C's `isspace` in the C locale.
fn is_c_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Splits an inline request line as Redis's `sdssplitargs` does: tokens are
/// separated by blanks; `"..."` understands `\n \r \t \b \a \xHH` and `\<c>`;
/// `'...'` understands `\'`; a closing quote must be followed by a blank or
/// the line end.
fn split_inline(line: &[u8]) -> Result<Vec<InlineArgument>, ProtocolError> {
    #[derive(PartialEq)]
    enum Quote {
        None,
        Double,
        Single,
    }
    let mut arguments = Vec::new();
    let n = line.len();
    let mut p = 0;
    loop {
        while p < n && is_c_space(line[p]) {
            p += 1;
        }
        if p == n {
            return Ok(arguments);
        }
        let start = p;
        let mut end = n;
        // A token turns into an owned buffer at its first quote.
        let mut owned: Option<Vec<u8>> = None;
        let mut quote = Quote::None;
        loop {
            match quote {
                Quote::Double => {
                    let Some(&c) = line.get(p) else {
                        return Err(ProtocolError::UnbalancedQuotes);
                    };
                    let token = owned.get_or_insert_with(Vec::new);
                    if c == b'\\'
                        && line.get(p + 1) == Some(&b'x')
                        && line.get(p + 2).is_some_and(u8::is_ascii_hexdigit)
                        && line.get(p + 3).is_some_and(u8::is_ascii_hexdigit)
                    {
                        token.push(hex_value(line[p + 2]) * 16 + hex_value(line[p + 3]));
                        p += 4;
                    } else if c == b'\\' && p + 1 < n {
                        token.push(match line[p + 1] {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => 0x08,
                            b'a' => 0x07,
                            other => other,
                        });
                        p += 2;
                    } else if c == b'"' {
                        if line.get(p + 1).is_some_and(|&next| !is_c_space(next)) {
                            return Err(ProtocolError::UnbalancedQuotes);
                        }
                        p += 1;
                        break;
                    } else {
                        token.push(c);
                        p += 1;
                    }
                }
                Quote::Single => {
                    let Some(&c) = line.get(p) else {
                        return Err(ProtocolError::UnbalancedQuotes);
                    };
                    let token = owned.get_or_insert_with(Vec::new);
                    if c == b'\\' && line.get(p + 1) == Some(&b'\'') {
                        token.push(b'\'');
                        p += 2;
                    } else if c == b'\'' {
                        if line.get(p + 1).is_some_and(|&next| !is_c_space(next)) {
                            return Err(ProtocolError::UnbalancedQuotes);
                        }
                        p += 1;
                        break;
                    } else {
                        token.push(c);
                        p += 1;
                    }
                }
                Quote::None => {
                    let Some(&c) = line.get(p) else {
                        break;
                    };
                    match c {
                        // Only these end an unquoted token (not \v or \f,
                        // which sdssplitargs skips only between tokens).
                        b' ' | b'\n' | b'\r' | b'\t' => {
                            end = p;
                            p += 1;
                            break;
                        }
                        b'"' | b'\'' => {
                            owned.get_or_insert_with(|| line[start..p].to_vec());
                            quote = if c == b'"' {
                                Quote::Double
                            } else {
                                Quote::Single
                            };
                            p += 1;
                        }
                        _ => {
                            if let Some(token) = owned.as_mut() {
                                token.push(c);
                            }
                            p += 1;
                        }
                    }
                }
            }
        }
        arguments.push(match owned {
            Some(token) => InlineArgument::Owned(token),
            None => InlineArgument::Range(start, end),
        });
    }
}

fn hex_value(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        b'a'..=b'f' => digit - b'a' + 10,
        _ => digit - b'A' + 10,
    }
}
