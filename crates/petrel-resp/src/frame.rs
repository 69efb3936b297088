//! Client-side RESP2/RESP3 frame parsing and command encoding.
//!
//! Used by whatever talks to a RESP server: the load generator (which mostly
//! needs [`scan_frame`] to count replies without allocating) and the
//! replication link (which needs [`parse_frame`] to read values). It must not
//! be used for requests arriving at the server: those follow different rules
//! (inline commands, Redis's limits and error texts) and live in `request`.
//!
//! Both functions look at a buffer that holds zero or more complete frames
//! followed by a possibly incomplete one; they never consume anything, the
//! caller advances by the returned length.

use bytes::{Bytes, BytesMut};

use crate::error::ProtocolError;

/// Deepest aggregate nesting [`parse_frame`] accepts. Redis replies nest a
/// few levels at most; the limit keeps a hostile peer from exhausting the
/// stack of the recursive parser.
pub const FRAME_DEPTH_MAX: usize = 128;

/// Preallocation cap for aggregates, so a peer announcing a billion elements
/// cannot make us reserve memory before it has sent them.
const PREALLOCATE_MAX: usize = 1024;

/// One RESP2 or RESP3 value as a server sends it.
///
/// RESP3 attributes (`|`) are parsed and dropped: Redis only sends them for
/// `DEBUG PROTOCOL attrib`, and no Petrel client needs them.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// `+text`
    Simple(Bytes),
    /// `-text` or the RESP3 blob error `!len`.
    Error(Bytes),
    /// `:n`
    Integer(i64),
    /// `$len` with its payload.
    Bulk(Bytes),
    /// `$-1` or the RESP3 null `_`.
    Nil,
    /// `*-1`
    NilArray,
    /// `*n`
    Array(Vec<Frame>),
    /// RESP3 `%n`: n key/value pairs.
    Map(Vec<(Frame, Frame)>),
    /// RESP3 `~n`
    Set(Vec<Frame>),
    /// RESP3 `,value` (`inf`, `-inf` and `nan` included).
    Double(f64),
    /// RESP3 `#t` / `#f`
    Boolean(bool),
    /// RESP3 `(digits`, kept as its decimal text.
    BigNumber(Bytes),
    /// RESP3 `=len` with a three-byte format (`txt`, `mkd`) and the text.
    Verbatim { format: Bytes, text: Bytes },
    /// RESP3 `>n` out-of-band push message.
    Push(Vec<Frame>),
}

/// What [`scan_frame`] learns about the next frame without allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameSummary {
    /// Bytes the frame occupies, attributes in front of it included.
    pub len: usize,
    /// The frame is an error (`-` or `!`).
    pub is_error: bool,
    /// The frame is a nil bulk (`$-1`), a nil array (`*-1`) or a RESP3 null.
    pub is_nil: bool,
}

/// Parses one complete frame from the front of `buf`.
///
/// Returns the frame and the number of bytes it used, or `Ok(None)` when the
/// frame is not complete yet. Bulk payloads and strings are zero-copy slices
/// of `buf`. Completeness is checked first without allocating, so an
/// incomplete frame costs one scan and no allocation.
pub fn parse_frame(buf: &Bytes) -> Result<Option<(Frame, usize)>, ProtocolError> {
    let Some(summary) = scan_frame(buf)? else {
        return Ok(None);
    };
    let mut pos = 0;
    let frame = loop {
        // The scan proved the frame complete and well formed; the parser still
        // reports errors rather than trusting that.
        match parse_at(buf, &mut pos, 0)? {
            Some(frame) => break frame,
            None => continue, // an attribute was skipped
        }
    };
    debug_assert_eq!(pos, summary.len);
    Ok(Some((frame, pos)))
}

/// Finds the length of the next complete frame and whether it is an error or
/// a nil, without allocating. `Ok(None)` means more bytes are needed.
pub fn scan_frame(buf: &[u8]) -> Result<Option<FrameSummary>, ProtocolError> {
    let mut pos = 0;
    // Attributes in front of the frame belong to it.
    loop {
        let Some(&kind) = buf.get(pos) else {
            return Ok(None);
        };
        if kind != b'|' {
            break;
        }
        let Some((count, next)) = count_line(buf, pos, "attribute")? else {
            return Ok(None);
        };
        let pairs = count.ok_or(ProtocolError::InvalidNumber("attribute"))?;
        match skip_frames(buf, next, pairs.saturating_mul(2))? {
            Some(end) => pos = end,
            None => return Ok(None),
        }
    }
    let kind = buf[pos];
    let is_error = kind == b'-' || kind == b'!';
    let is_nil =
        kind == b'_' || ((kind == b'$' || kind == b'*') && buf.get(pos + 1) == Some(&b'-'));
    match skip_frames(buf, pos, 1)? {
        Some(len) => Ok(Some(FrameSummary {
            len,
            is_error,
            is_nil,
        })),
        None => Ok(None),
    }
}

/// Encodes a command as a RESP array of bulk strings, the way clients send
/// requests.
pub fn encode_command(args: &[&[u8]], out: &mut BytesMut) {
    let payload: usize = args.iter().map(|arg| arg.len() + 16).sum();
    out.reserve(payload + 16);
    crate::encode::header(out, b'*', args.len());
    for arg in args {
        crate::encode::encode_bulk(arg, out);
    }
}

/// Walks `count` consecutive frames starting at `pos` and returns where they
/// end. Nesting is handled with a single counter of frames still owed
/// (RESP is prefix-encoded), so the walk needs no stack.
fn skip_frames(buf: &[u8], mut pos: usize, count: u64) -> Result<Option<usize>, ProtocolError> {
    let mut pending = count;
    while pending > 0 {
        let Some(&kind) = buf.get(pos) else {
            return Ok(None);
        };
        match kind {
            b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => {
                let Some((start, end, next)) = line(buf, pos, type_name(kind))? else {
                    return Ok(None);
                };
                check_line_payload(kind, &buf[start..end])?;
                pos = next;
                pending -= 1;
            }
            b'$' | b'!' | b'=' => {
                let name = type_name(kind);
                let Some((length, next)) = count_line(buf, pos, name)? else {
                    return Ok(None);
                };
                match length {
                    None if kind == b'$' => pos = next, // $-1
                    None => return Err(ProtocolError::InvalidNumber(name)),
                    Some(length) => {
                        let length = usize::try_from(length)
                            .map_err(|_| ProtocolError::InvalidNumber(name))?;
                        let Some(end) = next.checked_add(length) else {
                            return Err(ProtocolError::InvalidNumber(name));
                        };
                        if buf.len() < end.saturating_add(2) {
                            return Ok(None);
                        }
                        if &buf[end..end + 2] != b"\r\n" {
                            return Err(ProtocolError::MissingCrlf(name));
                        }
                        if kind == b'=' && (length < 4 || buf[next + 3] != b':') {
                            return Err(ProtocolError::InvalidPayload(name));
                        }
                        pos = end + 2;
                    }
                }
                pending -= 1;
            }
            b'*' | b'~' | b'>' | b'%' | b'|' => {
                let name = type_name(kind);
                let Some((count, next)) = count_line(buf, pos, name)? else {
                    return Ok(None);
                };
                pos = next;
                match (kind, count) {
                    (b'*', None) => pending -= 1, // *-1
                    (_, None) => return Err(ProtocolError::InvalidNumber(name)),
                    // An attribute precedes the frame it annotates, which
                    // stays owed.
                    (b'|', Some(pairs)) => {
                        pending = pending.saturating_add(pairs.saturating_mul(2))
                    }
                    (b'%', Some(pairs)) => {
                        pending = (pending - 1).saturating_add(pairs.saturating_mul(2))
                    }
                    (_, Some(items)) => pending = (pending - 1).saturating_add(items),
                }
            }
            other => return Err(ProtocolError::InvalidFrameType(other)),
        }
    }
    Ok(Some(pos))
}

/// Parses the frame at `*pos`, advancing it. Returns `None` after skipping an
/// attribute, whose annotated frame follows.
fn parse_at(buf: &Bytes, pos: &mut usize, depth: usize) -> Result<Option<Frame>, ProtocolError> {
    if depth > FRAME_DEPTH_MAX {
        return Err(ProtocolError::TooDeep(FRAME_DEPTH_MAX));
    }
    let kind = *buf
        .get(*pos)
        .ok_or(ProtocolError::MissingCrlf("truncated"))?;
    let name = type_name(kind);
    let frame = match kind {
        b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => {
            let (start, end, next) = complete(line(buf, *pos, name)?, name)?;
            let text = &buf[start..end];
            check_line_payload(kind, text)?;
            *pos = next;
            match kind {
                b'+' => Frame::Simple(buf.slice(start..end)),
                b'-' => Frame::Error(buf.slice(start..end)),
                b':' => Frame::Integer(parse_i64(text).ok_or(ProtocolError::InvalidNumber(name))?),
                b'_' => Frame::Nil,
                b',' => {
                    Frame::Double(parse_double(text).ok_or(ProtocolError::InvalidPayload(name))?)
                }
                b'#' => Frame::Boolean(text == b"t"),
                _ => Frame::BigNumber(buf.slice(start..end)),
            }
        }
        b'$' | b'!' | b'=' => {
            let (length, next) = complete(count_line(buf, *pos, name)?, name)?;
            let Some(length) = length else {
                *pos = next;
                return Ok(Some(Frame::Nil));
            };
            let length = usize::try_from(length).map_err(|_| ProtocolError::InvalidNumber(name))?;
            let end = next
                .checked_add(length)
                .filter(|end| end.saturating_add(2) <= buf.len())
                .ok_or(ProtocolError::MissingCrlf(name))?;
            *pos = end + 2;
            match kind {
                b'$' => Frame::Bulk(buf.slice(next..end)),
                b'!' => Frame::Error(buf.slice(next..end)),
                _ => {
                    if length < 4 {
                        return Err(ProtocolError::InvalidPayload(name));
                    }
                    Frame::Verbatim {
                        format: buf.slice(next..next + 3),
                        text: buf.slice(next + 4..end),
                    }
                }
            }
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let (count, next) = complete(count_line(buf, *pos, name)?, name)?;
            *pos = next;
            let Some(count) = count else {
                return Ok(Some(Frame::NilArray));
            };
            let count = usize::try_from(count).map_err(|_| ProtocolError::InvalidNumber(name))?;
            if kind == b'%' || kind == b'|' {
                let mut pairs = Vec::with_capacity(count.min(PREALLOCATE_MAX));
                for _ in 0..count {
                    let key = parse_value(buf, pos, depth + 1)?;
                    let value = parse_value(buf, pos, depth + 1)?;
                    pairs.push((key, value));
                }
                if kind == b'|' {
                    return Ok(None);
                }
                Frame::Map(pairs)
            } else {
                let mut items = Vec::with_capacity(count.min(PREALLOCATE_MAX));
                for _ in 0..count {
                    items.push(parse_value(buf, pos, depth + 1)?);
                }
                match kind {
                    b'*' => Frame::Array(items),
                    b'~' => Frame::Set(items),
                    _ => Frame::Push(items),
                }
            }
        }
        other => return Err(ProtocolError::InvalidFrameType(other)),
    };
    Ok(Some(frame))
}

/// Parses one value, skipping any attributes in front of it.
fn parse_value(buf: &Bytes, pos: &mut usize, depth: usize) -> Result<Frame, ProtocolError> {
    loop {
        if let Some(frame) = parse_at(buf, pos, depth)? {
            return Ok(frame);
        }
    }
}

/// Turns "incomplete" into an error inside `parse_at`, which only runs on
/// frames the scan found complete.
fn complete<T>(value: Option<T>, name: &'static str) -> Result<T, ProtocolError> {
    value.ok_or(ProtocolError::MissingCrlf(name))
}

/// Finds the line of the frame starting at `pos`: returns the payload range
/// (after the type byte, before CR) and the position after LF.
fn line(
    buf: &[u8],
    pos: usize,
    name: &'static str,
) -> Result<Option<(usize, usize, usize)>, ProtocolError> {
    let start = pos + 1;
    let Some(offset) = buf
        .get(start..)
        .and_then(|rest| rest.iter().position(|&b| b == b'\r'))
    else {
        return Ok(None);
    };
    let cr = start + offset;
    match buf.get(cr + 1) {
        None => Ok(None),
        Some(b'\n') => Ok(Some((start, cr, cr + 2))),
        Some(_) => Err(ProtocolError::MissingCrlf(name)),
    }
}

/// Reads a length/count line. `Some(None)` inside means `-1` (nil).
fn count_line(
    buf: &[u8],
    pos: usize,
    name: &'static str,
) -> Result<Option<(Option<u64>, usize)>, ProtocolError> {
    let Some((start, end, next)) = line(buf, pos, name)? else {
        return Ok(None);
    };
    let text = &buf[start..end];
    if text == b"?" {
        return Err(ProtocolError::StreamedUnsupported);
    }
    match parse_i64(text) {
        Some(-1) => Ok(Some((None, next))),
        Some(n) if n >= 0 => Ok(Some((Some(n as u64), next))),
        _ => Err(ProtocolError::InvalidNumber(name)),
    }
}

/// Validates the payload of a one-line frame so that `scan_frame` rejects
/// what `parse_frame` would.
fn check_line_payload(kind: u8, text: &[u8]) -> Result<(), ProtocolError> {
    let name = type_name(kind);
    let valid = match kind {
        b':' => parse_i64(text).is_some(),
        b'_' => text.is_empty(),
        b',' => parse_double(text).is_some(),
        b'#' => text == b"t" || text == b"f",
        b'(' => {
            let digits = text.strip_prefix(b"-").unwrap_or(text);
            !digits.is_empty() && digits.iter().all(u8::is_ascii_digit)
        }
        _ => true,
    };
    if valid {
        Ok(())
    } else if kind == b':' {
        Err(ProtocolError::InvalidNumber(name))
    } else {
        Err(ProtocolError::InvalidPayload(name))
    }
}

/// Parses a signed decimal integer with an optional sign; `None` on anything
/// else or on overflow.
fn parse_i64(text: &[u8]) -> Option<i64> {
    let (negative, digits) = match text.first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() {
        return None;
    }
    let mut value: i64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        let digit = i64::from(b - b'0');
        // Accumulate negatively so i64::MIN parses.
        value = value.checked_mul(10)?.checked_sub(digit)?;
    }
    if negative {
        Some(value)
    } else {
        value.checked_neg()
    }
}

fn parse_double(text: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(text).ok()?;
    match text {
        "inf" | "+inf" => Some(f64::INFINITY),
        "-inf" => Some(f64::NEG_INFINITY),
        "nan" | "-nan" => Some(f64::NAN),
        _ if text
            .bytes()
            .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b)) =>
        {
            text.parse().ok()
        }
        _ => None,
    }
}

fn type_name(kind: u8) -> &'static str {
    match kind {
        b'+' => "simple string",
        b'-' => "error",
        b':' => "integer",
        b'_' => "null",
        b',' => "double",
        b'#' => "boolean",
        b'(' => "big number",
        b'$' => "bulk string",
        b'!' => "blob error",
        b'=' => "verbatim string",
        b'*' => "array",
        b'~' => "set",
        b'>' => "push",
        b'%' => "map",
        b'|' => "attribute",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &'static [u8]) -> Result<Option<(Frame, usize)>, ProtocolError> {
        parse_frame(&Bytes::from_static(bytes))
    }

    fn bulk(text: &'static str) -> Frame {
        Frame::Bulk(Bytes::from_static(text.as_bytes()))
    }

    #[test]
    fn parses_every_resp3_type() {
        // Each wire form parses to its variant and reports its exact length.
        let cases: Vec<(&'static [u8], Frame)> = vec![
            (b"+OK\r\n", Frame::Simple(Bytes::from_static(b"OK"))),
            (b"-ERR no\r\n", Frame::Error(Bytes::from_static(b"ERR no"))),
            (
                b"!6\r\nERR no\r\n",
                Frame::Error(Bytes::from_static(b"ERR no")),
            ),
            (b":-42\r\n", Frame::Integer(-42)),
            (b":-9223372036854775808\r\n", Frame::Integer(i64::MIN)),
            (b"$3\r\na\r\n\r\n", bulk("a\r\n")),
            (b"$0\r\n\r\n", bulk("")),
            (b"$-1\r\n", Frame::Nil),
            (b"_\r\n", Frame::Nil),
            (b"*-1\r\n", Frame::NilArray),
            (
                b"*2\r\n$1\r\na\r\n:1\r\n",
                Frame::Array(vec![bulk("a"), Frame::Integer(1)]),
            ),
            (
                b"%1\r\n+k\r\n#t\r\n",
                Frame::Map(vec![(
                    Frame::Simple(Bytes::from_static(b"k")),
                    Frame::Boolean(true),
                )]),
            ),
            (b"~1\r\n#f\r\n", Frame::Set(vec![Frame::Boolean(false)])),
            (b",1.5\r\n", Frame::Double(1.5)),
            (b",-inf\r\n", Frame::Double(f64::NEG_INFINITY)),
            (
                b"(-123456789012345678901234567890\r\n",
                Frame::BigNumber(Bytes::from_static(b"-123456789012345678901234567890")),
            ),
            (
                b"=8\r\ntxt:abcd\r\n",
                Frame::Verbatim {
                    format: Bytes::from_static(b"txt"),
                    text: Bytes::from_static(b"abcd"),
                },
            ),
            (
                b">2\r\n+message\r\n$1\r\nx\r\n",
                Frame::Push(vec![
                    Frame::Simple(Bytes::from_static(b"message")),
                    bulk("x"),
                ]),
            ),
            (b"|1\r\n+ttl\r\n:3\r\n$1\r\nv\r\n", bulk("v")),
            (
                b"*1\r\n|1\r\n+a\r\n+b\r\n:7\r\n",
                Frame::Array(vec![Frame::Integer(7)]),
            ),
        ];
        for (wire, expected) in cases {
            let (frame, used) = parse(wire).unwrap().unwrap();
            assert_eq!(frame, expected, "{:?}", String::from_utf8_lossy(wire));
            assert_eq!(used, wire.len());
            assert_eq!(scan_frame(wire).unwrap().unwrap().len, wire.len());
            for cut in 0..wire.len() {
                assert_eq!(
                    scan_frame(&wire[..cut]).unwrap(),
                    None,
                    "prefix {cut} of {:?}",
                    String::from_utf8_lossy(wire)
                );
                assert_eq!(
                    parse_frame(&Bytes::copy_from_slice(&wire[..cut])).unwrap(),
                    None
                );
            }
        }
    }

    #[test]
    fn scan_reports_errors_and_nils() {
        // The load generator counts errors and misses from the summary alone.
        let summary = scan_frame(b"-ERR x\r\n+OK\r\n").unwrap().unwrap();
        assert_eq!(
            (summary.len, summary.is_error, summary.is_nil),
            (8, true, false)
        );
        for nil in [
            &b"$-1\r\n"[..],
            b"*-1\r\n",
            b"_\r\n",
            b"|1\r\n+a\r\n+b\r\n_\r\n",
        ] {
            assert!(scan_frame(nil).unwrap().unwrap().is_nil);
        }
        let bulk = scan_frame(b"$2\r\n-1\r\n").unwrap().unwrap();
        assert!(!bulk.is_nil && !bulk.is_error);
    }

    #[test]
    fn rejects_malformed_frames() {
        // Garbage is an error, not a request for more bytes.
        for bad in [
            &b"?x\r\n"[..],
            b":12a\r\n",
            b"$2\r\nabc\r\n",
            b"$-2\r\n",
            b"*-2\r\n",
            b"#x\r\n",
            b"_x\r\n",
            b",1.2.3x\r\n",
            b"+a\rb",
            b"=2\r\nab\r\n",
            b"$?\r\n",
        ] {
            assert!(
                scan_frame(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
            assert!(parse_frame(&Bytes::from_static(bad)).is_err());
        }
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        // A hostile server cannot exhaust the stack of the recursive parser.
        let mut wire = b"*1\r\n".repeat(FRAME_DEPTH_MAX + 10);
        wire.extend_from_slice(b":1\r\n");
        assert!(scan_frame(&wire).unwrap().is_some());
        assert_eq!(
            parse_frame(&Bytes::from(wire)),
            Err(ProtocolError::TooDeep(FRAME_DEPTH_MAX))
        );
    }

    #[test]
    fn bulk_payloads_are_zero_copy() {
        // A bulk frame points into the buffer it was parsed from.
        let buf = Bytes::from_static(b"*1\r\n$5\r\nhello\r\n");
        let (frame, _) = parse_frame(&buf).unwrap().unwrap();
        let Frame::Array(items) = frame else {
            panic!("not an array")
        };
        let Frame::Bulk(payload) = &items[0] else {
            panic!("not a bulk")
        };
        let range = buf.as_ptr_range();
        assert!(range.contains(&payload.as_ptr()));
    }

    #[test]
    fn encode_command_writes_bulk_array() {
        // A command goes out as an array of bulk strings that parses back.
        let mut out = BytesMut::new();
        encode_command(&[b"SET", b"k", b""], &mut out);
        assert_eq!(&out[..], b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");
        let (frame, _) = parse_frame(&out.freeze()).unwrap().unwrap();
        assert_eq!(frame, Frame::Array(vec![bulk("SET"), bulk("k"), bulk("")]));
    }
}
