//! Reply encoding: turns a [`Reply`] into RESP2 or RESP3 bytes, byte for byte
//! as Redis 7.0 writes them.
//!
//! This is on the hot path of every command, so it writes straight into the
//! connection's output buffer and formats numbers without allocating. It must
//! not decide what a command replies, only how the reply looks on the wire.

use std::fmt::Write as _;

use bytes::{BufMut, BytesMut};

use crate::reply::Reply;

/// Appends `reply` to `out` in RESP3 when `protocol` is 3, else in RESP2.
///
/// RESP2 has no maps, sets, doubles, booleans, verbatim strings, pushes or a
/// single null, so those are sent the way Redis 7.0 sends them to RESP2
/// clients: maps as flat arrays, sets and pushes as arrays, doubles as bulk
/// strings in `%.17g` form (`inf`, `-inf`), booleans as `:1`/`:0`, verbatim
/// strings as plain bulk strings, nil as `$-1` and the nil array as `*-1`.
pub fn encode(reply: &Reply, protocol: u8, out: &mut BytesMut) {
    let resp3 = protocol == 3;
    match reply {
        Reply::Simple(text) => line(out, b'+', text),
        Reply::Error(text) => line(out, b'-', text),
        Reply::Integer(value) => {
            out.reserve(24);
            out.put_u8(b':');
            out.put_slice(itoa::Buffer::new().format(*value).as_bytes());
            out.put_slice(b"\r\n");
        }
        Reply::Bulk(data) => bulk(out, b'$', data),
        Reply::Nil if resp3 => out.put_slice(b"_\r\n"),
        Reply::Nil => out.put_slice(b"$-1\r\n"),
        Reply::NilArray if resp3 => out.put_slice(b"_\r\n"),
        Reply::NilArray => out.put_slice(b"*-1\r\n"),
        Reply::Array(items) => aggregate(out, b'*', items, protocol),
        Reply::Set(items) => aggregate(out, if resp3 { b'~' } else { b'*' }, items, protocol),
        Reply::Push(items) => aggregate(out, if resp3 { b'>' } else { b'*' }, items, protocol),
        Reply::Map(pairs) => {
            let (marker, count) = if resp3 {
                (b'%', pairs.len())
            } else {
                (b'*', pairs.len() * 2)
            };
            header(out, marker, count);
            for (key, value) in pairs {
                encode(key, protocol, out);
                encode(value, protocol, out);
            }
        }
        Reply::Pairs(pairs) if resp3 => {
            header(out, b'*', pairs.len());
            for (key, value) in pairs {
                header(out, b'*', 2);
                encode(key, protocol, out);
                encode(value, protocol, out);
            }
        }
        Reply::Pairs(pairs) => {
            header(out, b'*', pairs.len() * 2);
            for (key, value) in pairs {
                encode(key, protocol, out);
                encode(value, protocol, out);
            }
        }
        Reply::Double(value) => {
            let mut text = DoubleText::new();
            text.format_g17(*value);
            if resp3 {
                line(out, b',', text.as_bytes());
            } else {
                bulk(out, b'$', text.as_bytes());
            }
        }
        Reply::Boolean(value) if resp3 => out.put_slice(if *value { b"#t\r\n" } else { b"#f\r\n" }),
        Reply::Boolean(value) => out.put_slice(if *value { b":1\r\n" } else { b":0\r\n" }),
        Reply::Verbatim(format, text) if resp3 => {
            // The format is always three bytes; anything else would make the
            // peer misread the payload.
            debug_assert_eq!(format.len(), 3, "verbatim format must be three bytes");
            header(out, b'=', text.len() + 4);
            out.reserve(text.len() + 6);
            out.put_slice(format.as_bytes());
            out.put_u8(b':');
            out.put_slice(text);
            out.put_slice(b"\r\n");
        }
        Reply::Verbatim(_, text) => bulk(out, b'$', text),
    }
}

/// Writes `<marker><count>\r\n`.
pub(crate) fn header(out: &mut BytesMut, marker: u8, count: usize) {
    out.reserve(24);
    out.put_u8(marker);
    out.put_slice(itoa::Buffer::new().format(count).as_bytes());
    out.put_slice(b"\r\n");
}

/// Appends `data` as a RESP bulk string (`$<len>\r\n<data>\r\n`).
pub fn encode_bulk(data: &[u8], out: &mut BytesMut) {
    bulk(out, b'$', data);
}

fn bulk(out: &mut BytesMut, marker: u8, data: &[u8]) {
    header(out, marker, data.len());
    out.reserve(data.len() + 2);
    out.put_slice(data);
    out.put_slice(b"\r\n");
}

fn aggregate(out: &mut BytesMut, marker: u8, items: &[Reply], protocol: u8) {
    header(out, marker, items.len());
    for item in items {
        encode(item, protocol, out);
    }
}

/// Writes a one-line frame. A CR or LF inside would end the line early and
/// desynchronise the client, so they become spaces, as Redis does for
/// formatted status and error replies.
fn line(out: &mut BytesMut, marker: u8, text: &[u8]) {
    out.reserve(text.len() + 3);
    out.put_u8(marker);
    if memchr::memchr2(b'\r', b'\n', text).is_none() {
        out.put_slice(text);
    } else {
        out.extend(
            text.iter()
                .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
        );
    }
    out.put_slice(b"\r\n");
}

/// A double formatted without allocating, on a stack buffer.
struct DoubleText {
    bytes: [u8; DoubleText::CAPACITY],
    len: usize,
}

impl DoubleText {
    /// `-d.dddddddddddddddde-308` is 24 bytes; leave room.
    const CAPACITY: usize = 32;
    /// Significant digits of `%.17g`.
    const PRECISION: i32 = 17;

    fn new() -> Self {
        DoubleText {
            bytes: [0; DoubleText::CAPACITY],
            len: 0,
        }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    fn push(&mut self, byte: u8) {
        self.bytes[self.len] = byte;
        self.len += 1;
    }

    /// Formats like C's `printf("%.17g")`, which Redis 7.0 uses for doubles,
    /// with infinities written `inf`/`-inf` as Redis does explicitly.
    fn format_g17(&mut self, value: f64) {
        self.len = 0;
        if value.is_nan() {
            self.extend(b"nan");
            return;
        }
        if value.is_infinite() {
            self.extend(if value > 0.0 { &b"inf"[..] } else { b"-inf" });
            return;
        }
        // Integral scores (the common case in sorted sets) print as the
        // integer itself: below 1e17 %.17g shows every digit, no exponent.
        if value.fract() == 0.0 && value.abs() < 1e17 && !(value == 0.0 && value.is_sign_negative())
        {
            self.extend(itoa::Buffer::new().format(value as i64).as_bytes());
            return;
        }
        // Rust's `{:.16e}` rounds exactly to 17 significant digits, the same
        // digits glibc's %.17g picks; only the layout differs.
        let mut scientific = DoubleText::new();
        // Writing into the fixed buffer cannot fail: the longest output is
        // 24 bytes.
        let _ = write!(scientific, "{:.16e}", value);
        let text = scientific.as_bytes();
        let (negative, text) = match text.strip_prefix(b"-") {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let e = text.iter().position(|&b| b == b'e').unwrap_or(text.len());
        let mut digits = [0u8; DoubleText::PRECISION as usize];
        let mut count = 0;
        for &b in text[..e].iter().filter(|b| b.is_ascii_digit()) {
            if count < digits.len() {
                digits[count] = b;
                count += 1;
            }
        }
        let exponent: i32 = std::str::from_utf8(&text[(e + 1).min(text.len())..])
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        // %g drops trailing zeros of the fraction.
        let significant = digits[..count]
            .iter()
            .rposition(|&d| d != b'0')
            .map_or(1, |i| i + 1);
        if negative {
            self.push(b'-');
        }
        if (-4..DoubleText::PRECISION).contains(&exponent) {
            if exponent >= 0 {
                let integer_digits = exponent as usize + 1;
                self.extend(&digits[..integer_digits]);
                if significant > integer_digits {
                    self.push(b'.');
                    self.extend(&digits[integer_digits..significant]);
                }
            } else {
                self.extend(b"0.");
                for _ in 0..(-exponent - 1) {
                    self.push(b'0');
                }
                self.extend(&digits[..significant]);
            }
        } else {
            self.push(digits[0]);
            if significant > 1 {
                self.push(b'.');
                self.extend(&digits[1..significant]);
            }
            self.push(b'e');
            self.push(if exponent < 0 { b'-' } else { b'+' });
            let magnitude = exponent.unsigned_abs();
            if magnitude < 10 {
                self.push(b'0');
            }
            self.extend(itoa::Buffer::new().format(magnitude).as_bytes());
        }
    }

    fn extend(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.push(b);
        }
    }
}

impl std::fmt::Write for DoubleText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        if self.len + s.len() > DoubleText::CAPACITY {
            return Err(std::fmt::Error);
        }
        self.extend(s.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g17(value: f64) -> String {
        let mut text = DoubleText::new();
        text.format_g17(value);
        String::from_utf8(text.as_bytes().to_vec()).unwrap_or_default()
    }

    #[test]
    fn doubles_match_redis_7_0() {
        // Texts redis-server 7.0.15 sent for ZSCORE of these scores.
        let cases = [
            (0.1, "0.10000000000000001"),
            (1.5, "1.5"),
            (1e20, "1e+20"),
            (1e-5, "1.0000000000000001e-05"),
            (123456789012345678.0, "1.2345678901234568e+17"),
            (0.0, "0"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (1e16, "10000000000000000"),
            (1e17, "1e+17"),
            (3.0, "3"),
            (0.0001, "0.0001"),
            (1e300, "1.0000000000000001e+300"),
        ];
        for (value, expected) in cases {
            assert_eq!(g17(value), expected, "{value:e}");
        }
    }

    #[test]
    fn doubles_match_printf_edge_cases() {
        // Values at the fixed/scientific boundaries and the extremes, as
        // glibc's %.17g prints them.
        let cases = [
            (-0.0, "-0"),
            (-2.5, "-2.5"),
            (0.00012345, "0.00012344999999999999"),
            (0.000012345, "1.2345e-05"),
            (f64::MAX, "1.7976931348623157e+308"),
            (f64::MIN_POSITIVE, "2.2250738585072014e-308"),
            (5e-324, "4.9406564584124654e-324"),
            (99999999999999999.0, "1e+17"),
            (1234567.125, "1234567.125"),
            (-99999999999999984.0, "-99999999999999984"),
            (-7.0, "-7"),
            (f64::NAN, "nan"),
        ];
        for (value, expected) in cases {
            assert_eq!(g17(value), expected, "{value:e}");
        }
    }
}
