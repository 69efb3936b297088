//! INCRBYFLOAT's arithmetic, bit for bit as Redis 7 does it on x86-64 Linux:
//! numbers are x87 80-bit `long double`s (a 64-bit mantissa), parsed as
//! glibc's `strtold` does (decimal and hexadecimal, `inf`, rounding to
//! nearest, ties to even), added with one rounding, and printed as
//! `printf("%.17Lf")` with the trailing zeros trimmed. Plain `f64` would
//! answer `10.59999999999999964` where Redis answers `10.6`.
//!
//! Every step is exact integer arithmetic on big numbers, so the results
//! do not depend on the host's floating point. This module owns only the
//! numbers; the command's semantics live in the string family.

use num_bigint::{BigInt, BigUint, Sign};

/// Bits in the mantissa, including the explicit integer bit.
const MANTISSA_BITS: i64 = 64;
/// Exponent `e` of the smallest subnormal, `1 × 2^e`.
const EXPONENT_MIN: i64 = -16445;
/// Largest `e` for which `m × 2^e` with a 64-bit `m` is finite.
const EXPONENT_MAX: i64 = 16320;
/// Redis's `MAX_LONG_DOUBLE_CHARS`: longer inputs are refused.
const TEXT_LEN_MAX: usize = 5 * 1024;
/// Decimal magnitudes beyond these certainly overflow, or round to zero.
const DECIMAL_EXPONENT_MAX: i64 = 4933;
const DECIMAL_EXPONENT_MIN: i64 = -4952;
/// Exponents in the text are clamped to this before any arithmetic; beyond
/// it every value has long overflowed or underflowed.
const TEXT_EXPONENT_CLAMP: i64 = 1 << 40;
/// Fractional digits `%.17Lf` prints.
const PRINTED_DECIMALS: u32 = 17;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LongDouble {
    /// `±mantissa × 2^exponent`; `mantissa` is normalised (top bit set)
    /// unless the value is subnormal (then `exponent == EXPONENT_MIN`) or zero.
    Finite {
        negative: bool,
        mantissa: u64,
        exponent: i64,
    },
    Infinite {
        negative: bool,
    },
}

impl LongDouble {
    /// Parses `text` as Redis's `string2ld` does: `strtold` must consume the
    /// whole text, no leading space, and neither NaN, an overflow nor an
    /// underflow to zero is a number. `None` means "not a valid float".
    pub fn parse(text: &[u8]) -> Option<LongDouble> {
        if text.is_empty() || text.len() >= TEXT_LEN_MAX || is_c_space(text[0]) {
            return None;
        }
        let (negative, body) = match text[0] {
            b'-' => (true, &text[1..]),
            b'+' => (false, &text[1..]),
            _ => (false, text),
        };
        if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
            return Some(LongDouble::Infinite { negative });
        }
        let parsed = match body {
            [b'0', b'x' | b'X', hex @ ..] => parse_hex(negative, hex)?,
            _ => parse_decimal(negative, body)?,
        };
        match parsed {
            Parsed::Zero => Some(LongDouble::zero(negative)),
            // strtold reports ERANGE: Redis refuses both.
            Parsed::Value(LongDouble::Infinite { .. }) => None,
            Parsed::Value(value) if value.is_zero() => None,
            Parsed::Value(value) => Some(value),
        }
    }

    pub fn is_finite(&self) -> bool {
        matches!(self, LongDouble::Finite { .. })
    }

    /// The sum rounded once; `None` when it is not a number (∞ − ∞).
    pub fn add(self, other: LongDouble) -> Option<LongDouble> {
        match (self, other) {
            (LongDouble::Infinite { negative: a }, LongDouble::Infinite { negative: b }) => {
                (a == b).then_some(LongDouble::Infinite { negative: a })
            }
            (infinite @ LongDouble::Infinite { .. }, _)
            | (_, infinite @ LongDouble::Infinite { .. }) => Some(infinite),
            (
                LongDouble::Finite {
                    negative: a_negative,
                    mantissa: a_mantissa,
                    exponent: a_exponent,
                },
                LongDouble::Finite {
                    negative: b_negative,
                    mantissa: b_mantissa,
                    exponent: b_exponent,
                },
            ) => {
                let exponent = a_exponent.min(b_exponent);
                let signed = |negative: bool, mantissa: u64, own_exponent: i64| {
                    let magnitude = BigUint::from(mantissa) << (own_exponent - exponent) as u64;
                    BigInt::from_biguint(if negative { Sign::Minus } else { Sign::Plus }, magnitude)
                };
                let sum = signed(a_negative, a_mantissa, a_exponent)
                    + signed(b_negative, b_mantissa, b_exponent);
                let negative = match sum.sign() {
                    Sign::Minus => true,
                    Sign::Plus => false,
                    // x + (−x) is +0 when rounding to nearest; −0 + −0 is −0.
                    Sign::NoSign => a_negative && b_negative,
                };
                Some(round(negative, sum.magnitude(), exponent, false))
            }
        }
    }

    /// Redis's `ld2string(.., LD_STR_HUMAN)`: `%.17Lf`, trailing zeros and
    /// a trailing dot removed, `-0` written as `0`. Only for finite values.
    pub fn to_human_string(self) -> String {
        let LongDouble::Finite {
            negative,
            mantissa,
            exponent,
        } = self
        else {
            return if self == (LongDouble::Infinite { negative: true }) {
                "-inf".to_owned()
            } else {
                "inf".to_owned()
            };
        };
        let scaled = BigUint::from(mantissa) * BigUint::from(10u32).pow(PRINTED_DECIMALS);
        let fixed = if exponent >= 0 {
            scaled << exponent as u64
        } else {
            shift_right_rounded(&scaled, exponent.unsigned_abs())
        };
        let digits = fixed.to_str_radix(10);
        let digits = format!("{digits:0>width$}", width = PRINTED_DECIMALS as usize + 1);
        let split = digits.len() - PRINTED_DECIMALS as usize;
        let mut text = String::with_capacity(digits.len() + 2);
        if negative {
            text.push('-');
        }
        text.push_str(&digits[..split]);
        let fraction = digits[split..].trim_end_matches('0');
        if !fraction.is_empty() {
            text.push('.');
            text.push_str(fraction);
        }
        if text == "-0" {
            text.remove(0);
        }
        text
    }

    fn zero(negative: bool) -> LongDouble {
        LongDouble::Finite {
            negative,
            mantissa: 0,
            exponent: EXPONENT_MIN,
        }
    }

    fn is_zero(&self) -> bool {
        matches!(self, LongDouble::Finite { mantissa: 0, .. })
    }
}

enum Parsed {
    /// The text spelled zero: not an underflow.
    Zero,
    Value(LongDouble),
}

/// C's `isspace` in the "C" locale.
fn is_c_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

/// Parses `[+-]?[0-9]*` after an exponent marker; `None` if no digit.
/// Clamped so that absurd exponents cannot overflow the arithmetic.
fn parse_exponent(text: &[u8]) -> Option<i64> {
    let (negative, digits) = match text.first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut value: i64 = 0;
    for &digit in digits {
        value = (value * 10 + i64::from(digit - b'0')).min(TEXT_EXPONENT_CLAMP);
    }
    Some(if negative { -value } else { value })
}

/// Splits `digits[.digits]` off the front of `text`; returns the integer
/// and fraction digits and the rest. `None` if there is no digit at all.
fn split_mantissa(text: &[u8], is_digit: fn(&u8) -> bool) -> Option<(&[u8], &[u8], &[u8])> {
    let integer_len = text.iter().take_while(|b| is_digit(b)).count();
    let (integer, rest) = text.split_at(integer_len);
    let (fraction, rest) = match rest {
        [b'.', after @ ..] => {
            let fraction_len = after.iter().take_while(|b| is_digit(b)).count();
            after.split_at(fraction_len)
        }
        _ => (&rest[..0], rest),
    };
    if integer.is_empty() && fraction.is_empty() {
        return None;
    }
    Some((integer, fraction, rest))
}

fn parse_decimal(negative: bool, text: &[u8]) -> Option<Parsed> {
    let (integer, fraction, rest) = split_mantissa(text, u8::is_ascii_digit)?;
    let exponent = match rest {
        [] => 0,
        [b'e' | b'E', exponent @ ..] => parse_exponent(exponent)?,
        _ => return None,
    };
    let mut digits: Vec<u8> = integer.iter().chain(fraction).copied().collect();
    let leading_zeros = digits.iter().take_while(|&&d| d == b'0').count();
    digits.drain(..leading_zeros);
    if digits.is_empty() {
        return Some(Parsed::Zero);
    }
    // value = digits × 10^power
    let power = exponent - fraction.len() as i64;
    let magnitude = power + digits.len() as i64;
    if magnitude > DECIMAL_EXPONENT_MAX {
        return Some(Parsed::Value(LongDouble::Infinite { negative }));
    }
    if magnitude < DECIMAL_EXPONENT_MIN {
        return Some(Parsed::Value(LongDouble::zero(negative)));
    }
    let number = BigUint::parse_bytes(&digits, 10)?;
    let ten = BigUint::from(10u32);
    let value = if power >= 0 {
        let scaled = number * ten.pow(power as u32);
        round(negative, &scaled, 0, false)
    } else {
        let divisor = ten.pow(power.unsigned_abs() as u32);
        // Enough quotient bits that the rounding bits are all known: the
        // 64 kept, the halfway bit, and one more; the remainder is sticky.
        let shift = (divisor.bits() + MANTISSA_BITS as u64 + 2).saturating_sub(number.bits());
        let numerator = number << shift;
        let quotient = &numerator / &divisor;
        let inexact = numerator != &quotient * &divisor;
        round(negative, &quotient, -(shift as i64), inexact)
    };
    Some(Parsed::Value(value))
}

fn parse_hex(negative: bool, text: &[u8]) -> Option<Parsed> {
    let (integer, fraction, rest) = split_mantissa(text, u8::is_ascii_hexdigit)?;
    let exponent = match rest {
        [] => 0,
        [b'p' | b'P', exponent @ ..] => parse_exponent(exponent)?,
        _ => return None,
    };
    let digits: Vec<u8> = integer.iter().chain(fraction).copied().collect();
    let number = BigUint::parse_bytes(&digits, 16)?;
    if number.bits() == 0 {
        return Some(Parsed::Zero);
    }
    let exponent = exponent - 4 * fraction.len() as i64;
    Some(Parsed::Value(round(negative, &number, exponent, false)))
}

/// Rounds `magnitude × 2^exponent` (plus a positive amount below one unit
/// of `2^exponent` when `inexact`) to the nearest long double, ties to even.
/// Callers that pass `inexact` supply at least two bits beyond the mantissa.
fn round(negative: bool, magnitude: &BigUint, exponent: i64, inexact: bool) -> LongDouble {
    let bits = magnitude.bits() as i64;
    if bits == 0 {
        return LongDouble::zero(negative);
    }
    let target = (exponent + bits - MANTISSA_BITS).max(EXPONENT_MIN);
    if target > EXPONENT_MAX {
        return LongDouble::Infinite { negative };
    }
    let shift = target - exponent;
    let (mut mantissa, round_up) = if shift <= 0 {
        (low_u64(&(magnitude << shift.unsigned_abs())), false)
    } else {
        let shift = shift as u64;
        let kept = low_u64(&(magnitude >> shift));
        let halfway = magnitude.bit(shift - 1);
        let below_halfway = inexact
            || magnitude
                .trailing_zeros()
                .is_some_and(|zeros| zeros < shift - 1);
        (kept, halfway && (below_halfway || kept & 1 == 1))
    };
    let mut exponent = target;
    if round_up {
        let (next, carried) = mantissa.overflowing_add(1);
        mantissa = if carried {
            exponent += 1;
            1 << 63
        } else {
            next
        };
        if exponent > EXPONENT_MAX {
            return LongDouble::Infinite { negative };
        }
    }
    LongDouble::Finite {
        negative,
        mantissa,
        exponent,
    }
}

/// `value × 2^-shift` rounded to an integer, ties to even (glibc's printf
/// in the default rounding mode).
fn shift_right_rounded(value: &BigUint, shift: u64) -> BigUint {
    let kept = value >> shift;
    let halfway = value.bit(shift - 1);
    let below = value
        .trailing_zeros()
        .is_some_and(|zeros| zeros < shift - 1);
    if halfway && (below || kept.bit(0)) {
        kept + 1u32
    } else {
        kept
    }
}

fn low_u64(value: &BigUint) -> u64 {
    value.iter_u64_digits().next().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::LongDouble;

    /// INCRBYFLOAT as Redis computes it: parse both, add, print.
    fn incr(value: &str, increment: &str) -> Option<String> {
        let value = LongDouble::parse(value.as_bytes())?;
        let increment = LongDouble::parse(increment.as_bytes())?;
        value
            .add(increment)
            .filter(LongDouble::is_finite)
            .map(LongDouble::to_human_string)
    }

    /// Results recorded from redis-server 7.0 on x86-64, where long double
    /// is the x87 80-bit format.
    #[test]
    fn matches_redis_results() {
        let cases = [
            ("0", "10.5", "10.5"),
            ("10.5", "0.1", "10.6"),
            ("10.6", "-5", "5.6"),
            ("5.6", "5.0e3", "5005.60000000000000009"),
            ("5005.60000000000000009", "2.0e-5", "5005.60002000000000022"),
            ("0.1", "0.2", "0.3"),
            ("1e20", "0.1", "100000000000000000000"),
            ("3", "1.23456789012345678901", "4.23456789012345679"),
            ("-1", "1", "0"),
            ("0x10", "0x1p-2", "16.25"),
            ("1", "+1", "2"),
            ("2", ".5", "2.5"),
            ("2.5", "5.", "7.5"),
            ("0", "-0.0", "0"),
            ("0", "1e-20", "0"),
            ("1.5", "0.000000000000000005", "1.5"),
            ("1", "0.1e1", "2"),
            ("2", "1E2", "102"),
            ("0", "0.000003814697265625", "0.00000381469726562"),
            ("0", "0.000011444091796875", "0.00001144409179688"),
            ("0", "-0.000003814697265625", "-0.00000381469726562"),
            ("0", "1e-4940", "0"),
            ("0", "3e-4951", "0"),
            ("0", "1.9e-4951", "0"),
            ("5", "0x.8", "5.5"),
            ("5.5", "0x1P1", "7.5"),
            ("7.5", "-.5e1", "2.5"),
            ("2.5", "1e-19", "2.5"),
            ("2.5", "-5.5", "-3"),
            ("-3", "-1e-18", "-3"),
            ("2", "00012.5000", "14.5"),
            ("14.5", "0e999999999999999999999", "14.5"),
            (
                "14.5",
                "0.0000000000000000000000000000000000000000001e43",
                "15.5",
            ),
            ("-0", "-0", "0"),
            ("1", "-1.00000000000000000001", "0"),
            ("1", "1e-4900", "1"),
        ];
        for (value, increment, expected) in cases {
            assert_eq!(
                incr(value, increment).as_deref(),
                Some(expected),
                "{value} + {increment}"
            );
        }
    }

    /// Huge magnitudes print every integer digit, as %.17Lf does.
    #[test]
    fn huge_values_print_in_full() {
        let sum = incr("1e308", "1e308").expect("finite");
        assert!(sum.starts_with("199999999999999999993371759311691291321120199694831134415594095989843469737676123744200253843777078640893494450108026446304269499187921167194841628860392837535918200039206381557326219209014213335878306791577877829121087126122536729803237260434173178506889763247582601711514636284849020905456510092687857156096"));
        assert_eq!(sum.len(), 309);
        let largest = incr("1.18973149535723176502e+4932", "0").expect("finite");
        assert_eq!(largest.len(), 4933);
        assert!(largest.starts_with("118973149535723176502126385303097020516906332229462420044032373389173700552297072261641029033652888285354569780749557731442744315367028843419812557385374367867359320070697326320191591828296152436552951064679108661431179063216977883889613478656060039914875343321145491116008867984515486651285234014977303760000912547939396622315138362241783854274391783813871780588948754057516822634765923557697480511372564902088485522249479139937758502601177354918009979622602685950855888360815984690023564513234659447638493985927645628457966177293040780660922910271504608538808795932778162298682754783076808004015069494230341172895777710033571401055977524212405734700738625166011082837911962300846927720096515350020847447079244384854591288672300061908512647211195136146752763351956292759795725027800298079590419313960302147099703527646744553092202267965628099149823208332964124103850923918473478612192169721054348428704835340811304257300221642134891734717423480071488075100206439051723424765600472176809648610799494341570347632064355862420744350442438056613601760883747816538902780957697597728686007148702828795556714140463261583262360276289631617397848425448686060994827086796804807870251185893083854658422304090880599629459458620190376604844679092600222541053077590106576067134720012584640695703025713896098375799892695455305236856075868317922311363951946885088077187210470520395758748001314313144425494391994017575316933939236688185618912993172910425292123683515992232205099800167710278403536014082929639811512287776813570604578934353545169653956125404884644716978689321167108722908808277835051822885764606221873970285165508372099234948333443522898475123275372663606621390228126470623407535207172405866507951821730346378263135339370677490195019784169044182473806316282858685774143258116536404021840272491339332094921949842244273042701987304453662035026238695780468200360144729199712309553005720614186697485284685618651483271597448120312194675168637934309618961510733006555242148519520176285859509105183947250286387163249416761380499631979144187025430270675849519200883791516940158174004671147787720145964446117520405945350476472180797576111172084627363927960033967047003761337450955318415007379641260504792325166135484129188421134082301547330475406707281876350361733290800595189632520707167390454777712968226520622565143991937680440029238090311243791261477625596469422198137514696707944687035800439250765945161837981185939204954403611491531078225107269148697980924094677214272701240437718740921675661363493890045123235166814608932240069799317601780533819184998193300841098599393876029260139091141452600372028487213241195542428210183120421610446740462163533690058366460659115629876474552506814500393294140413149540067760295100596225302282300363147382468105964844244132486457313743759509641616804802412935187620466813563687753281467553879887177183651289394719533506188500326760735438867336800207438784965701457609034985757124304510203873049485425670247933932280911052604153852899484920399109194612991249163328991799809438033787952209313146694614970593966415237594928589096048991612194498998638483702248667224914892467841020618336462741696957630763248023558797524525373703543388296086275342774001633343405508353704850737454481975472222897528108302089868263302028525992308416805453968791141829762998896457648276528750456285492426516521775079951625966922911497778896235667095662713848201819134832168799586365263762097828507009933729439678463987902491451422274252700636394232799848397673998715441855420156224415492665301451550468548925862027608576183712976335876121538256512963353814166394951655600026415918655485005705261143195291991880795452239464962763563017858089669222640623538289853586759599064700838568712381032959192649484625076899225841930548076362021508902214922052806984201835084058693849381549890944546197789302911357651677540623227829831403347327660395223160342282471752818181884430488092132193355086987339586127607367086665237555567580317149010847732009642431878007000879734603290627894355374356444885190719161645514115576193939969076741515640282654366402676009508752394550734155613586793306603174472092444651353236664764973540085196704077110364053815007348689179836404957060618953500508984091382686953509006678332447257871219660441528492484004185093281190896363417573989716659600075948780061916409485433875852065711654107226099628815012314437794400874930194474433078438899570184271000480830501217712356062289507626904285680004771889315808935851559386317665294808903126774702966254511086154895839508779675546413794489596052797520987481383976257859210575628440175934932416214833956535018919681138909184379573470326940634289008780584694035245347939808067427323629788710086717580253156130235606487870925986528841635097252953709111431720488774740553905400942537542411931794417513706468964386151771884986701034153254238591108962471088538580868883777725864856414593426212108664758848926003176234596076950884914966244415660441955208681198977024"));
    }

    /// Texts strtold would not take whole, NaN, overflow and underflow to
    /// zero are not floats; infinity is, but adding it is refused later.
    #[test]
    fn refuses_what_redis_refuses() {
        for text in [
            "",
            "abc",
            " 1",
            "1 ",
            "\t1",
            "nan",
            "NaN",
            "1e5000",
            "1e-5000",
            "1e-4951",
            "1.7e-4951",
            "0x",
            "1e",
            "1e+",
            "-",
            ".",
            "1.5x",
            "0x1p",
            "--1",
            "1..2",
            "1.18973149535723176508e+4932",
            "1.2e+4932",
        ] {
            assert_eq!(LongDouble::parse(text.as_bytes()), None, "{text:?}");
        }
        assert_eq!(LongDouble::parse(&[b'1'; 5120]), None, "too long");
        assert!(LongDouble::parse(&[b'1'; 5119]).is_none(), "overflows");
        for text in ["inf", "-INF", "infinity", "+Infinity"] {
            let value = LongDouble::parse(text.as_bytes()).expect("infinity parses");
            assert!(!value.is_finite());
        }
        assert_eq!(incr("inf", "1"), None);
        assert_eq!(incr("1", "-infinity"), None);
        assert_eq!(incr("inf", "-inf"), None, "NaN");
        assert_eq!(incr("1.18973149535723176502e+4932", "1e4913"), None);
        assert!(incr("1.18973149535723176502e+4932", "1e4912").is_some());
    }

    /// Integers up to 2^64 survive exactly, as the 64-bit mantissa allows.
    #[test]
    fn integers_are_exact() {
        assert_eq!(
            incr("9223372036854775807", "0").as_deref(),
            Some("9223372036854775807")
        );
        assert_eq!(
            incr("-9223372036854775808", "-1").as_deref(),
            Some("-9223372036854775809")
        );
        assert_eq!(
            incr("18446744073709551615", "0").as_deref(),
            Some("18446744073709551615")
        );
        assert_eq!(
            incr("18446744073709551617", "0").as_deref(),
            Some("18446744073709551616"),
            "2^64 + 1 rounds to even"
        );
    }
}
