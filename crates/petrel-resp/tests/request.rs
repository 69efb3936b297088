//! Request parser behaviour as a client sees it: what Redis 7.0.15 accepts is
//! accepted with the same arguments, what it refuses is refused with the same
//! error text, at the same limits, however the bytes are split.

use bytes::{Bytes, BytesMut};
use petrel_resp::{Limits, ProtocolError, RequestParser};

/// Feeds `chunks` one after another into one buffer and parser, draining
/// every complete request after each chunk.
fn parse_chunks(chunks: &[&[u8]], authenticated: bool) -> Result<Vec<Vec<Bytes>>, ProtocolError> {
    let mut parser = RequestParser::new(Limits::default());
    let mut buf = BytesMut::new();
    let mut requests = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        while let Some(request) = parser.parse(&mut buf, authenticated)? {
            requests.push(request);
        }
    }
    Ok(requests)
}

fn parse_all(input: &[u8]) -> Result<Vec<Vec<Bytes>>, ProtocolError> {
    parse_chunks(&[input], true)
}

fn args(request: &[Bytes]) -> Vec<&[u8]> {
    request.iter().map(|arg| &arg[..]).collect()
}

/// One parse call on `input`, as an authenticated or unauthenticated client.
fn parse_once(input: &[u8], authenticated: bool) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    RequestParser::default().parse(&mut BytesMut::from(input), authenticated)
}

fn error_text(input: &[u8]) -> String {
    match parse_all(input) {
        Err(error) => error.reply_text(),
        Ok(requests) => panic!(
            "accepted {:?}: {requests:?}",
            String::from_utf8_lossy(&input[..input.len().min(60)])
        ),
    }
}

/// Small deterministic generator for random chunkings (xorshift64).
struct Rng(u64);

impl Rng {
    fn below(&mut self, bound: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % bound as u64) as usize
    }
}

/// A mixed pipeline exercising every accepted form.
fn mixed_pipeline() -> Vec<u8> {
    let mut input = Vec::new();
    input.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nva\r\nl\r\n");
    input.extend_from_slice(b"\r\n\n   \r\n");
    input.extend_from_slice(b"GET key\r\n");
    input.extend_from_slice(b"*0\r\n*-5\r\n");
    input.extend_from_slice(b"ECHO \"a\\x41\\n b\" 'c\\'d' plain\tx\n");
    input.extend_from_slice(b"*2\r\n$4\r\nECHO\r\n$0\r\n\r\n");
    input.extend_from_slice(b"*1\r\n$4\r\nPING\r\n");
    input
}

fn mixed_expected() -> Vec<Vec<&'static [u8]>> {
    vec![
        vec![b"SET", b"key", b"va\r\nl"],
        vec![b"GET", b"key"],
        vec![b"ECHO", b"aA\n b", b"c'd", b"plain", b"x"],
        vec![b"ECHO", b""],
        vec![b"PING"],
    ]
}

#[test]
fn mixed_pipeline_parses_in_order() {
    // Multibulk and inline requests in one buffer come out in order, with
    // empty lines and empty multibulks skipped.
    let requests = parse_all(&mixed_pipeline()).unwrap();
    let got: Vec<Vec<&[u8]>> = requests.iter().map(|r| args(r)).collect();
    assert_eq!(got, mixed_expected());
}

#[test]
fn byte_by_byte_and_random_chunks_match_whole_input() {
    // However the network splits the bytes, the same requests come out.
    let input = mixed_pipeline();
    let whole = parse_all(&input).unwrap();
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(parse_chunks(&bytes, true).unwrap(), whole);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..300 {
        let mut chunks = Vec::new();
        let mut rest = &input[..];
        while !rest.is_empty() {
            let take = 1 + rng.below(rest.len().min(24));
            chunks.push(&rest[..take]);
            rest = &rest[take..];
        }
        assert_eq!(parse_chunks(&chunks, true).unwrap(), whole);
    }
}

#[test]
fn errors_are_the_same_however_split() {
    // A protocol error is reported identically when its bytes trickle in.
    for bad in [
        &b"*1\r\n$3\r\nGET\r\n*1\r\n:4\r\n"[..],
        b"ECHO \"abc\r\n",
        b"*01\r\n",
        b"*1\r\n$-1\r\n",
    ] {
        let whole = parse_all(bad).unwrap_err();
        let bytes: Vec<&[u8]> = bad.chunks(1).collect();
        assert_eq!(parse_chunks(&bytes, true).unwrap_err(), whole);
    }
}

#[test]
fn consumes_exactly_one_request() {
    // After a request the buffer starts at the next one; incomplete input is
    // left untouched.
    let mut parser = RequestParser::default();
    let mut buf = BytesMut::from(&b"*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET"[..]);
    let request = parser.parse(&mut buf, true).unwrap().unwrap();
    assert_eq!(args(&request), vec![&b"PING"[..]]);
    assert_eq!(&buf[..], b"*2\r\n$3\r\nGET");
    assert_eq!(parser.parse(&mut buf, true).unwrap(), None);
    assert_eq!(&buf[..], b"*2\r\n$3\r\nGET");
    buf.extend_from_slice(b"\r\n$1\r\nk\r\n");
    let request = parser.parse(&mut buf, true).unwrap().unwrap();
    assert_eq!(args(&request), vec![&b"GET"[..], b"k"]);
    assert!(buf.is_empty());
}

#[test]
fn only_empty_requests_yield_nothing() {
    // Empty lines and *0 are consumed without producing a request.
    let mut parser = RequestParser::default();
    let mut buf = BytesMut::from(&b"\r\n  \n*0\r\n*-1\r\n"[..]);
    assert_eq!(parser.parse(&mut buf, true).unwrap(), None);
    assert!(buf.is_empty());
}

#[test]
fn arguments_are_zero_copy_slices_of_the_buffer() {
    // Bulk and plain inline arguments point into the bytes that were read.
    for input in [&b"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n"[..], b"GET key\r\n"] {
        let mut buf = BytesMut::with_capacity(64);
        buf.extend_from_slice(input);
        let range = buf.as_ptr_range();
        let request = RequestParser::default()
            .parse(&mut buf, true)
            .unwrap()
            .unwrap();
        for arg in &request {
            assert!(range.contains(&arg.as_ptr()), "{arg:?} was copied");
        }
    }
}

#[test]
fn pipeline_of_a_thousand_requests() {
    // 1,000 pipelined SETs in one buffer come out in order, each intact.
    let mut input = Vec::new();
    for i in 0..1000 {
        let key = format!("key:{i}");
        let value = format!("value-{}", i * 7);
        input.extend_from_slice(
            format!(
                "*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n${}\r\n{value}\r\n",
                key.len(),
                value.len()
            )
            .as_bytes(),
        );
    }
    let requests = parse_all(&input).unwrap();
    assert_eq!(requests.len(), 1000);
    for (i, request) in requests.iter().enumerate() {
        assert_eq!(
            args(request),
            vec![
                &b"SET"[..],
                format!("key:{i}").as_bytes(),
                format!("value-{}", i * 7).as_bytes()
            ]
        );
    }
}

#[test]
fn bytes_wanted_reports_the_missing_payload() {
    // While a large value arrives, the parser says how much is still missing.
    let mut parser = RequestParser::default();
    let mut buf = BytesMut::from(&b"*2\r\n$3\r\nSET\r\n$100000\r\n"[..]);
    assert_eq!(parser.parse(&mut buf, true).unwrap(), None);
    assert_eq!(parser.bytes_wanted(), Some(100_002));
    buf.extend_from_slice(&[b'x'; 40_000]);
    assert_eq!(parser.parse(&mut buf, true).unwrap(), None);
    assert_eq!(parser.bytes_wanted(), Some(60_002));
    buf.extend_from_slice(&[b'x'; 60_000]);
    buf.extend_from_slice(b"\r\n");
    let request = parser.parse(&mut buf, true).unwrap().unwrap();
    assert_eq!(request[1].len(), 100_000);
    assert_eq!(parser.bytes_wanted(), None);
}

#[test]
fn many_arguments_in_small_pieces_are_scanned_once() {
    // A 200,000-argument request fed 7 bytes at a time finishes quickly:
    // progress is kept between calls instead of re-parsing from the start.
    let count = 200_000;
    let mut input = format!("*{count}\r\n").into_bytes();
    for _ in 0..count {
        input.extend_from_slice(b"$1\r\nx\r\n");
    }
    let chunks: Vec<&[u8]> = input.chunks(7).collect();
    let requests = parse_chunks(&chunks, true).unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].len(), count);
}

#[test]
fn inline_splitting_matches_redis() {
    // Quoting and escapes as redis-server 7.0 resolves them (checked by
    // sending the same bytes to it with ECHO).
    let cases: Vec<(&[u8], Vec<&[u8]>)> = vec![
        (b"ECHO a\n", vec![b"ECHO", b"a"]),
        (b"ECHO a\r\r\n", vec![b"ECHO", b"a"]),
        (b"ECHO a\rb\r\n", vec![b"ECHO", b"a", b"b"]),
        (b"\x0cECHO a\r\n", vec![b"ECHO", b"a"]),
        (b"ECHO\x0ba\r\n", vec![b"ECHO\x0ba"]),
        (b"ECHO a\"b c\"\r\n", vec![b"ECHO", b"ab c"]),
        (b"ECHO a'b c' d\r\n", vec![b"ECHO", b"ab c", b"d"]),
        (b"ECHO \"\"\r\n", vec![b"ECHO", b""]),
        (b"ECHO \"a\\qb\"\r\n", vec![b"ECHO", b"aqb"]),
        (b"ECHO \"\\x4A\\x4g\"\r\n", vec![b"ECHO", b"Jx4g"]),
        (
            b"ECHO \"a\\r\\t\\b\\a\"\r\n",
            vec![b"ECHO", b"a\r\t\x08\x07"],
        ),
        (b"ECHO 'a\\nb'\r\n", vec![b"ECHO", b"a\\nb"]),
        (b"ECHO 'a\\'b'\r\n", vec![b"ECHO", b"a'b"]),
        // Deliberate difference: Redis stalls on a NUL in the line.
        (b"ECHO a\x00b c\r\n", vec![b"ECHO", b"a\x00b", b"c"]),
    ];
    for (input, expected) in cases {
        let requests = parse_all(input).unwrap();
        assert_eq!(requests.len(), 1, "{:?}", String::from_utf8_lossy(input));
        assert_eq!(
            args(&requests[0]),
            expected,
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn unbalanced_quotes_are_refused() {
    // Unterminated quotes, or a closing quote glued to more text.
    for input in [
        &b"ECHO \"abc\r\n"[..],
        b"ECHO \"abc\"d\r\n",
        b"ECHO \"a\\\"\r\n",
        b"ECHO 'a\\\r\n",
        b"ECHO a'b c'd\r\n",
        b"ECHO \"a\"'b'\r\n",
    ] {
        assert_eq!(
            error_text(input),
            "ERR Protocol error: unbalanced quotes in request"
        );
    }
}

#[test]
fn lenient_where_redis_is_lenient() {
    // Redis skips the bytes after CR and after a payload without checking
    // them; clients that rely on that keep working.
    let requests = parse_all(b"*1\r\n$4\r\nPINGxx*1\rx$4\rxPING\r\n").unwrap();
    assert_eq!(requests.len(), 2);
    assert!(requests.iter().all(|r| args(r) == vec![&b"PING"[..]]));
}

#[test]
fn lengths_of_every_width_follow_the_same_rules() {
    // Short canonical lengths take a fast path; every width must still
    // parse, or be refused, exactly as the general rules say.
    let requests = parse_all(b"*2\r\n$0\r\n\r\n$10\r\n0123456789\r\n").unwrap();
    assert_eq!(args(&requests[0]), vec![&b""[..], b"0123456789"]);
    for digits in 10..=21 {
        let bulk = format!("*1\r\n${}\r\n", "9".repeat(digits));
        assert_eq!(
            error_text(bulk.as_bytes()),
            "ERR Protocol error: invalid bulk length",
            "{digits} digits"
        );
        let count = format!("*{}\r\n", "9".repeat(digits));
        assert_eq!(
            error_text(count.as_bytes()),
            "ERR Protocol error: invalid multibulk length",
            "{digits} digits"
        );
    }
    // A length line cut after its CR waits for the next byte.
    assert_eq!(parse_once(b"*1\r", true).unwrap(), None);
    assert_eq!(parse_once(b"*1\r\n$4\r", true).unwrap(), None);
}

#[test]
fn multibulk_count_errors() {
    // Counts Redis's string2ll refuses, or above INT_MAX.
    for input in [
        &b"*abc\r\n"[..],
        b"*+1\r\n",
        b"*01\r\n",
        b"*-0\r\n",
        b"*\r\n",
        b"*2147483648\r\n",
        b"*111111111111111111111111111111\r\n",
        b"*1\x00\r\n",
    ] {
        assert_eq!(
            error_text(input),
            "ERR Protocol error: invalid multibulk length"
        );
    }
    // INT_MAX itself is accepted: the parser waits for the arguments.
    assert_eq!(parse_once(b"*2147483647\r\n", true).unwrap(), None);
}

#[test]
fn bulk_length_errors() {
    for input in [
        &b"*1\r\n$x\r\n"[..],
        b"*1\r\n$-1\r\n",
        b"*1\r\n$01\r\n",
        b"*1\r\n$536870913\r\n",
        b"*1\r\n$111111111111111111111111111111\r\n",
    ] {
        assert_eq!(error_text(input), "ERR Protocol error: invalid bulk length");
    }
    // proto-max-bulk-len itself is accepted.
    assert_eq!(parse_once(b"*1\r\n$536870912\r\n", true).unwrap(), None);
    // A lower configured limit applies.
    let limits = Limits {
        proto_max_bulk_len: 10,
        ..Limits::default()
    };
    let mut parser = RequestParser::new(limits);
    assert_eq!(
        parser.parse(&mut BytesMut::from(&b"*1\r\n$11\r\n"[..]), true),
        Err(ProtocolError::InvalidBulkLength)
    );
}

#[test]
fn expected_dollar_names_the_byte() {
    assert_eq!(
        error_text(b"*1\r\n:4\r\nPING\r\n"),
        "ERR Protocol error: expected '$', got ':'"
    );
    assert_eq!(
        error_text(b"*2\r\n$1\r\na\r\nb\r\n"),
        "ERR Protocol error: expected '$', got 'b'"
    );
}

#[test]
fn inline_length_limit() {
    // 64 KiB without a newline waits; one byte more is refused.
    let mut line = vec![b'a'; 65_536];
    assert_eq!(parse_once(&line, true).unwrap(), None);
    line.push(b'a');
    assert_eq!(
        error_text(&line),
        "ERR Protocol error: too big inline request"
    );
    // A complete line of 64 KiB is accepted, a longer one refused.
    let mut line = b"ECHO ".to_vec();
    line.resize(65_536, b'a');
    line.push(b'\n');
    assert_eq!(parse_all(&line).unwrap()[0][1].len(), 65_531);
    line.insert(6, b'a');
    assert_eq!(
        error_text(&line),
        "ERR Protocol error: too big inline request"
    );
}

#[test]
fn count_string_limits() {
    // A length line with no CR within 64 KiB is refused.
    let mut input = b"*".to_vec();
    input.resize(65_536, b'1');
    assert_eq!(parse_once(&input, true).unwrap(), None);
    input.push(b'1');
    assert_eq!(
        error_text(&input),
        "ERR Protocol error: too big mbulk count string"
    );

    let mut input = b"*1\r\n$".to_vec();
    input.resize(4 + 65_536, b'1');
    assert_eq!(parse_once(&input, true).unwrap(), None);
    input.push(b'1');
    assert_eq!(
        error_text(&input),
        "ERR Protocol error: too big bulk count string"
    );
}

#[test]
fn unauthenticated_limits() {
    // Before AUTH: at most 10 arguments and 16 KiB per argument, as Redis
    // 7.0.15 enforces with requirepass set.
    assert_eq!(parse_once(b"*10\r\n", false).unwrap(), None);
    assert_eq!(
        parse_once(b"*11\r\n", false).unwrap_err().reply_text(),
        "ERR Protocol error: unauthenticated multibulk length"
    );
    assert_eq!(parse_once(b"*1\r\n$16384\r\n", false).unwrap(), None);
    assert_eq!(
        parse_once(b"*1\r\n$16385\r\n", false)
            .unwrap_err()
            .reply_text(),
        "ERR Protocol error: unauthenticated bulk length"
    );
    // The same requests are fine once authenticated.
    assert_eq!(parse_once(b"*11\r\n", true).unwrap(), None);
    assert_eq!(parse_once(b"*1\r\n$16385\r\n", true).unwrap(), None);
    // Inline requests have no extra limit before AUTH.
    let mut line = b"ECHO ".to_vec();
    line.resize(30_000, b'a');
    line.extend_from_slice(b"\r\n");
    assert_eq!(parse_chunks(&[&line], false).unwrap().len(), 1);
}

#[test]
fn parser_is_reusable_after_reset() {
    // After an error the engine closes; a reset parser starts clean.
    let mut parser = RequestParser::default();
    assert!(parser
        .parse(&mut BytesMut::from(&b"*x\r\n"[..]), true)
        .is_err());
    let request = parser
        .parse(&mut BytesMut::from(&b"PING\r\n"[..]), true)
        .unwrap()
        .unwrap();
    assert_eq!(args(&request), vec![&b"PING"[..]]);
    let mut buf = BytesMut::from(&b"*2\r\n$3\r\nGET\r\n"[..]);
    assert_eq!(parser.parse(&mut buf, true).unwrap(), None);
    parser.reset();
    let request = parser
        .parse(&mut BytesMut::from(&b"*1\r\n$4\r\nPING\r\n"[..]), true)
        .unwrap()
        .unwrap();
    assert_eq!(args(&request), vec![&b"PING"[..]]);
}

#[test]
fn a_recycled_argument_vector_is_reused_and_holds_only_the_new_request() {
    let mut parser = RequestParser::default();
    let mut buf = BytesMut::from(
        &b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"[..],
    );
    let first = parser.parse(&mut buf, true).unwrap().unwrap();
    let allocation = first.as_ptr();
    parser.recycle(first);
    let second = parser.parse(&mut buf, true).unwrap().unwrap();
    assert_eq!(args(&second), vec![&b"GET"[..], b"k"]);
    assert_eq!(
        second.as_ptr(),
        allocation,
        "the recycled vector was not reused"
    );

    // A vector too big to keep is dropped rather than pinned.
    let mut big = Vec::with_capacity(1000);
    big.push(Bytes::from_static(b"MSET"));
    parser.recycle(big);
    let mut buf = BytesMut::from(&b"*1\r\n$4\r\nPING\r\n"[..]);
    let third = parser.parse(&mut buf, true).unwrap().unwrap();
    assert_eq!(args(&third), vec![&b"PING"[..]]);
    assert!(third.capacity() < 1000);
}
