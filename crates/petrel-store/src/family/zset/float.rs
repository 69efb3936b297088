//! Number parsing exactly as Redis's C library calls accept it: `strtod`
//! for scores, range bounds, weights and blocking timeouts.
//!
//! Redis reads doubles with glibc's `strtod` and then applies its own checks
//! (`string2d`, `zslParseRange`, `string2ld`). `strtod` takes more than
//! Rust's `f64::from_str`: leading white space, hexadecimal floats
//! (`0x1.8p3`), `infinity`; and it reports overflow and underflow, which
//! Redis turns into errors for scores but not for range bounds. This module
//! reproduces that grammar and those reports, so that every number a client
//! sends is accepted or refused as Redis 7.0 would.

/// What `strtod` made of a whole argument.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Parsed {
    pub value: f64,
    /// `strtod` set `ERANGE` with a zero or infinite result: the text was a
    /// finite number too large or too small (but not zero) for a double.
    pub out_of_range: bool,
    /// The power of ten of the leading digit, roughly: lets callers that
    /// parse as `long double` (80-bit, exponent up to ±4932) tell which
    /// out-of-range numbers would have fit there.
    pub exponent10: i64,
}

/// Parses `text` as `strtod` would, requiring every byte to be consumed
/// (after the leading white space `strtod` skips). `None` when no number is
/// there or something is left over.
pub fn strtod_whole(text: &[u8]) -> Option<Parsed> {
    let start = text
        .iter()
        .position(|b| !is_c_space(*b))
        .unwrap_or(text.len());
    let text = &text[start..];
    let (negative, body) = match text.first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let sign = if negative { -1.0 } else { 1.0 };
    if let Some(special) = parse_special(body) {
        return Some(Parsed {
            value: sign * special,
            out_of_range: false,
            exponent10: 0,
        });
    }
    let parsed = if body.len() > 2
        && body[0] == b'0'
        && (body[1] | 0x20) == b'x'
        && (body[2].is_ascii_hexdigit()
            || (body[2] == b'.' && body.get(3).is_some_and(u8::is_ascii_hexdigit)))
    {
        parse_hex(&body[2..])?
    } else {
        parse_decimal(body)?
    };
    Some(Parsed {
        value: sign * parsed.value,
        ..parsed
    })
}

/// C's `isspace` in the C locale.
pub fn is_c_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

/// `inf`, `infinity` and `nan` (with an optional `(chars)`), any case.
fn parse_special(body: &[u8]) -> Option<f64> {
    let lower = body.to_ascii_lowercase();
    match lower.as_slice() {
        b"inf" | b"infinity" => Some(f64::INFINITY),
        b"nan" => Some(f64::NAN),
        [b'n', b'a', b'n', b'(', inner @ .., b')']
            if inner
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'_') =>
        {
            Some(f64::NAN)
        }
        _ => None,
    }
}

/// `digits [. digits] [e [+-] digits]`, at least one digit in the mantissa.
fn parse_decimal(body: &[u8]) -> Option<Parsed> {
    let mut index = 0;
    let integer_digits = count_while(&body[index..], u8::is_ascii_digit);
    index += integer_digits;
    let mut fraction_digits = 0;
    if body.get(index) == Some(&b'.') {
        index += 1;
        fraction_digits = count_while(&body[index..], u8::is_ascii_digit);
        index += fraction_digits;
    }
    if integer_digits + fraction_digits == 0 {
        return None;
    }
    let mantissa_end = index;
    let mut exponent: i64 = 0;
    if matches!(body.get(index), Some(b'e' | b'E')) {
        let mut cursor = index + 1;
        let exponent_negative = match body.get(cursor) {
            Some(b'-') => {
                cursor += 1;
                true
            }
            Some(b'+') => {
                cursor += 1;
                false
            }
            _ => false,
        };
        let digits = count_while(&body[cursor..], u8::is_ascii_digit);
        if digits > 0 {
            for &digit in &body[cursor..cursor + digits] {
                exponent = exponent
                    .saturating_mul(10)
                    .saturating_add(i64::from(digit - b'0'));
            }
            if exponent_negative {
                exponent = -exponent;
            }
            index = cursor + digits;
        }
    }
    if index != body.len() {
        return None;
    }
    // Rust's parser is exact on this grammar; give it the plain text.
    let text = std::str::from_utf8(&body[..index]).ok()?;
    let value: f64 = if exponent.unsigned_abs() > 100_000 {
        // Rust refuses nothing here, but a huge exponent need not be parsed.
        let mantissa_zero = body[..mantissa_end]
            .iter()
            .all(|b| *b == b'0' || *b == b'.');
        if mantissa_zero {
            0.0
        } else if exponent > 0 {
            f64::INFINITY
        } else {
            0.0
        }
    } else {
        text.parse().ok()?
    };
    let mantissa = &body[..mantissa_end];
    let first_nonzero = mantissa
        .iter()
        .filter(|b| **b != b'.')
        .position(|b| *b != b'0');
    let nonzero = first_nonzero.is_some();
    let exponent10 = match first_nonzero {
        Some(position) => integer_digits as i64 - 1 - position as i64 + exponent,
        None => 0,
    };
    Some(Parsed {
        value,
        out_of_range: value.is_infinite() || (value == 0.0 && nonzero),
        exponent10,
    })
}

/// The part after `0x`: `hexdigits [. hexdigits] [p [+-] digits]`.
fn parse_hex(body: &[u8]) -> Option<Parsed> {
    let mut mantissa: u64 = 0;
    let mut binary_exponent: i64 = 0;
    let mut nonzero = false;
    let mut index = 0;
    let mut seen_point = false;
    let mut digits = 0;
    while let Some(&byte) = body.get(index) {
        if byte == b'.' && !seen_point {
            seen_point = true;
            index += 1;
            continue;
        }
        let Some(digit) = (byte as char).to_digit(16) else {
            break;
        };
        digits += 1;
        nonzero |= digit != 0;
        if mantissa >> 60 == 0 {
            mantissa = mantissa << 4 | u64::from(digit);
            if seen_point {
                binary_exponent -= 4;
            }
        } else if !seen_point {
            // Digits beyond 64 bits of precision only scale the value.
            binary_exponent += 4;
        }
        index += 1;
    }
    if digits == 0 {
        return None;
    }
    if matches!(body.get(index), Some(b'p' | b'P')) {
        let mut cursor = index + 1;
        let negative = match body.get(cursor) {
            Some(b'-') => {
                cursor += 1;
                true
            }
            Some(b'+') => {
                cursor += 1;
                false
            }
            _ => false,
        };
        let count = count_while(&body[cursor..], u8::is_ascii_digit);
        if count > 0 {
            let mut exponent: i64 = 0;
            for &digit in &body[cursor..cursor + count] {
                exponent = exponent
                    .saturating_mul(10)
                    .saturating_add(i64::from(digit - b'0'));
            }
            binary_exponent =
                binary_exponent.saturating_add(if negative { -exponent } else { exponent });
            index = cursor + count;
        }
    }
    if index != body.len() {
        return None;
    }
    let value = scale_by_power_of_two(mantissa as f64, binary_exponent);
    let magnitude_bits = 63 - i64::from(mantissa.max(1).leading_zeros()) + binary_exponent;
    Some(Parsed {
        value,
        out_of_range: value.is_infinite() || (value == 0.0 && nonzero),
        exponent10: (magnitude_bits as f64 * std::f64::consts::LOG10_2) as i64,
    })
}

/// `value * 2^exponent` without overflowing on the way (C's `ldexp`).
fn scale_by_power_of_two(mut value: f64, mut exponent: i64) -> f64 {
    while exponent > 1000 {
        value *= 2f64.powi(1000);
        exponent -= 1000;
        if value.is_infinite() {
            return value;
        }
    }
    while exponent < -1000 {
        value *= 2f64.powi(-1000);
        exponent += 1000;
        if value == 0.0 {
            return value;
        }
    }
    value * 2f64.powi(exponent as i32)
}

fn count_while(bytes: &[u8], predicate: impl Fn(&u8) -> bool) -> usize {
    bytes.iter().take_while(|b| predicate(b)).count()
}

/// Redis's `string2d`: a score, weight or increment. No white space, no
/// NaN, nothing out of a double's range.
pub fn parse_score(text: &[u8]) -> Option<f64> {
    if text.first().is_none_or(|b| is_c_space(*b)) {
        return None;
    }
    let parsed = strtod_whole(text)?;
    if parsed.out_of_range || parsed.value.is_nan() {
        return None;
    }
    Some(parsed.value)
}

/// One bound of ZRANGEBYSCORE and friends, after an optional `(`: Redis
/// calls `strtod` and only refuses leftovers and NaN, so leading white
/// space, the empty string (zero) and out-of-range numbers (infinity) pass.
/// A NUL byte ends the text, as it ends a C string.
pub fn parse_range_bound(text: &[u8]) -> Option<f64> {
    let text = match text.iter().position(|b| *b == 0) {
        Some(end) => &text[..end],
        None => text,
    };
    if text.is_empty() {
        return Some(0.0);
    }
    let parsed = strtod_whole(text)?;
    if parsed.value.is_nan() {
        return None;
    }
    Some(parsed.value)
}

/// Blocking commands' timeout in seconds, as Redis's
/// `getTimeoutFromObjectOrReply` reads it: a `long double`, times 1000,
/// truncated to whole milliseconds. `Ok(None)` blocks forever (zero, or a
/// positive timeout below a millisecond).
pub fn parse_timeout_ms(text: &[u8]) -> Result<Option<u64>, TimeoutError> {
    // `long double` reaches about 1.19e4932; beyond it strtold says ERANGE.
    const LONG_DOUBLE_EXPONENT10_MAX: i64 = 4931;
    if text.is_empty() || text.len() >= 5 * 1024 || is_c_space(text[0]) {
        return Err(TimeoutError::NotAFloat);
    }
    // Whole seconds are exact in a long double but not always in a double
    // (beyond 2^53): compute them exactly so the limit falls where Redis's does.
    if let Some(seconds) = whole_seconds(text) {
        return match seconds.checked_mul(1000).map(i64::try_from) {
            Some(Ok(0)) => Ok(None),
            Some(Ok(milliseconds)) if milliseconds > 0 => Ok(Some(milliseconds as u64)),
            _ => Err(TimeoutError::Negative),
        };
    }
    let parsed = strtod_whole(text).ok_or(TimeoutError::NotAFloat)?;
    if parsed.value.is_nan() {
        return Err(TimeoutError::NotAFloat);
    }
    let seconds = if parsed.out_of_range {
        if parsed.exponent10.abs() > LONG_DOUBLE_EXPONENT10_MAX {
            return Err(TimeoutError::NotAFloat);
        }
        // Representable as a long double: huge ones overflow the
        // conversion to milliseconds below, tiny ones truncate to zero.
        if parsed.value == 0.0 {
            0.0
        } else {
            parsed.value
        }
    } else {
        parsed.value
    };
    let milliseconds = seconds * 1000.0;
    // C's conversion of an out-of-range value to `long long` yields its
    // minimum on x86-64, which Redis then calls negative.
    if !(milliseconds > -1.0 && milliseconds < 9_223_372_036_854_775_808.0) {
        return Err(TimeoutError::Negative);
    }
    let milliseconds = milliseconds.trunc() as i64;
    match milliseconds {
        0 => Ok(None),
        ms => Ok(Some(ms as u64)),
    }
}

/// `[+-]digits`, as an exact integer, when it fits an i128.
fn whole_seconds(text: &[u8]) -> Option<i128> {
    let (negative, digits) = match text.first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || digits.len() > 30 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let magnitude = digits
        .iter()
        .fold(0i128, |value, digit| value * 10 + i128::from(digit - b'0'));
    Some(if negative { -magnitude } else { magnitude })
}

/// Why a blocking command's timeout was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutError {
    NotAFloat,
    Negative,
}

impl TimeoutError {
    pub fn message(self) -> &'static str {
        match self {
            TimeoutError::NotAFloat => "ERR timeout is not a float or out of range",
            TimeoutError::Negative => "ERR timeout is negative",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scores as ZADD accepts or refuses them on redis-server 7.0.
    #[test]
    fn scores_follow_string2d() {
        assert_eq!(parse_score(b"1.5"), Some(1.5));
        assert_eq!(parse_score(b"+2"), Some(2.0));
        assert_eq!(parse_score(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_score(b"+Infinity"), Some(f64::INFINITY));
        assert_eq!(parse_score(b"0x10"), Some(16.0));
        assert_eq!(parse_score(b"0x1.8p1"), Some(3.0));
        assert_eq!(parse_score(b".5"), Some(0.5));
        assert_eq!(parse_score(b"5."), Some(5.0));
        assert_eq!(parse_score(b"1e3"), Some(1000.0));
        assert_eq!(parse_score(b"4e-320"), Some(4e-320));
        for refused in [
            &b""[..],
            b" 1",
            b"1 ",
            b"nan",
            b"NaN",
            b"1e400",
            b"1e-400",
            b"abc",
            b"1e",
            b"e5",
            b".",
            b"0x",
            b"--1",
            b"1.5.2",
            b"inf1",
        ] {
            assert_eq!(
                parse_score(refused),
                None,
                "{:?}",
                String::from_utf8_lossy(refused)
            );
        }
    }

    /// Range bounds pass through strtod alone: white space, empty text and
    /// overflow are fine, NaN and leftovers are not.
    #[test]
    fn range_bounds_follow_strtod() {
        assert_eq!(parse_range_bound(b""), Some(0.0));
        assert_eq!(parse_range_bound(b" 7"), Some(7.0));
        assert_eq!(parse_range_bound(b"1e400"), Some(f64::INFINITY));
        assert_eq!(parse_range_bound(b"3\0junk"), Some(3.0));
        assert_eq!(parse_range_bound(b"nan"), None);
        assert_eq!(parse_range_bound(b"7 "), None);
    }

    /// Timeouts as BLPOP reads them on redis-server 7.0.15.
    #[test]
    fn timeouts_follow_redis() {
        assert_eq!(parse_timeout_ms(b"0"), Ok(None));
        assert_eq!(parse_timeout_ms(b"0.0001"), Ok(None));
        assert_eq!(parse_timeout_ms(b"-0.0001"), Ok(None));
        assert_eq!(parse_timeout_ms(b"1.5"), Ok(Some(1500)));
        assert_eq!(parse_timeout_ms(b"0x10"), Ok(Some(16_000)));
        assert_eq!(parse_timeout_ms(b"86400"), Ok(Some(86_400_000)));
        assert_eq!(
            parse_timeout_ms(b"9223372036854775"),
            Ok(Some(9_223_372_036_854_775_000))
        );
        assert_eq!(parse_timeout_ms(b"-0"), Ok(None));
        for negative in [&b"-1"[..], b"inf", b"1e400", b"9223372036854776"] {
            assert_eq!(parse_timeout_ms(negative), Err(TimeoutError::Negative));
        }
        for not_a_float in [&b""[..], b" 1", b"1 ", b"nan", b"1e5000", b"1e-5000", b"x"] {
            assert_eq!(parse_timeout_ms(not_a_float), Err(TimeoutError::NotAFloat));
        }
    }
}
