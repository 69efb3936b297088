//! Reply encoding as a client sees it: the exact bytes Redis 7.0 sends in
//! RESP2 and RESP3, and round trips through the client-side frame parser
//! however the bytes are split.

use bytes::{Bytes, BytesMut};
use petrel_resp::{encode, parse_frame, scan_frame, Frame, Reply};

fn encoded(reply: &Reply, protocol: u8) -> Vec<u8> {
    let mut out = BytesMut::new();
    encode(reply, protocol, &mut out);
    out.to_vec()
}

fn b(text: &'static str) -> Bytes {
    Bytes::from_static(text.as_bytes())
}

/// One of every variant, plus nesting.
fn every_variant() -> Vec<Reply> {
    vec![
        Reply::ok(),
        Reply::error("ERR wrong"),
        Reply::Integer(0),
        Reply::Integer(i64::MIN),
        Reply::Integer(i64::MAX),
        Reply::bulk(b("hello")),
        Reply::bulk(Bytes::from_static(b"bin\r\n\x00ary")),
        Reply::bulk(Bytes::new()),
        Reply::Nil,
        Reply::NilArray,
        Reply::Array(vec![]),
        Reply::Array(vec![Reply::bulk(b("a")), Reply::Integer(1), Reply::Nil]),
        Reply::Map(vec![
            (Reply::bulk(b("k")), Reply::Integer(1)),
            (Reply::simple("s"), Reply::Array(vec![Reply::Boolean(true)])),
        ]),
        Reply::Set(vec![Reply::bulk(b("x")), Reply::bulk(b("y"))]),
        Reply::Pairs(vec![
            (Reply::bulk(b("member")), Reply::Double(2.0)),
            (Reply::bulk(b("other")), Reply::Double(0.1)),
        ]),
        Reply::Double(0.1),
        Reply::Double(-1.5e-7),
        Reply::Double(f64::INFINITY),
        Reply::Double(f64::NEG_INFINITY),
        Reply::Boolean(true),
        Reply::Boolean(false),
        Reply::Verbatim("txt", b("some text\nwith lines")),
        Reply::Push(vec![
            Reply::bulk(b("invalidate")),
            Reply::Array(vec![Reply::bulk(b("x"))]),
        ]),
        Reply::Array(vec![
            Reply::Map(vec![(
                Reply::Double(2.0),
                Reply::Set(vec![Reply::NilArray]),
            )]),
            Reply::error("WRONGTYPE x"),
        ]),
    ]
}

/// What a client must read back for `reply` sent in `protocol`.
fn expected_frame(reply: &Reply, protocol: u8) -> Frame {
    let resp3 = protocol == 3;
    let all = |items: &[Reply]| {
        items
            .iter()
            .map(|item| expected_frame(item, protocol))
            .collect::<Vec<_>>()
    };
    match reply {
        Reply::Simple(text) => Frame::Simple(text.clone()),
        Reply::Error(text) => Frame::Error(text.clone()),
        Reply::Integer(value) => Frame::Integer(*value),
        Reply::Bulk(data) => Frame::Bulk(data.clone()),
        Reply::Nil => Frame::Nil,
        Reply::NilArray if resp3 => Frame::Nil,
        Reply::NilArray => Frame::NilArray,
        Reply::Array(items) => Frame::Array(all(items)),
        Reply::Map(pairs) if resp3 => Frame::Map(
            pairs
                .iter()
                .map(|(k, v)| (expected_frame(k, protocol), expected_frame(v, protocol)))
                .collect(),
        ),
        Reply::Map(pairs) => Frame::Array(
            pairs
                .iter()
                .flat_map(|(k, v)| [expected_frame(k, protocol), expected_frame(v, protocol)])
                .collect(),
        ),
        Reply::Pairs(pairs) if resp3 => Frame::Array(
            pairs
                .iter()
                .map(|(k, v)| {
                    Frame::Array(vec![
                        expected_frame(k, protocol),
                        expected_frame(v, protocol),
                    ])
                })
                .collect(),
        ),
        Reply::Pairs(pairs) => Frame::Array(
            pairs
                .iter()
                .flat_map(|(k, v)| [expected_frame(k, protocol), expected_frame(v, protocol)])
                .collect(),
        ),
        Reply::Set(items) if resp3 => Frame::Set(all(items)),
        Reply::Push(items) if resp3 => Frame::Push(all(items)),
        Reply::Set(items) | Reply::Push(items) => Frame::Array(all(items)),
        Reply::Double(value) if resp3 => Frame::Double(*value),
        Reply::Double(value) => Frame::Bulk(b(resp2_double_text(*value))),
        Reply::Boolean(value) if resp3 => Frame::Boolean(*value),
        Reply::Boolean(value) => Frame::Integer(i64::from(*value)),
        Reply::Verbatim(format, text) if resp3 => Frame::Verbatim {
            format: Bytes::from_static(format.as_bytes()),
            text: text.clone(),
        },
        Reply::Verbatim(_, text) => Frame::Bulk(text.clone()),
    }
}

/// The %.17g texts of the fixture's doubles, as Redis 7.0 sends them in
/// RESP2.
fn resp2_double_text(value: f64) -> &'static str {
    match value {
        0.1 => "0.10000000000000001",
        -1.5e-7 => "-1.4999999999999999e-07",
        2.0 => "2",
        f64::INFINITY => "inf",
        f64::NEG_INFINITY => "-inf",
        other => panic!("no expected text for fixture double {other}"),
    }
}

#[test]
fn exact_bytes_in_both_protocols() {
    // The bytes Redis 7.0.15 sends for each shape (checked with HELLO 3,
    // ZSCORE, CONFIG GET, LOLWUT and CLIENT TRACKING).
    let cases: Vec<(Reply, &[u8], &[u8])> = vec![
        (Reply::ok(), b"+OK\r\n", b"+OK\r\n"),
        (Reply::error("ERR x"), b"-ERR x\r\n", b"-ERR x\r\n"),
        (Reply::Integer(-12), b":-12\r\n", b":-12\r\n"),
        (Reply::bulk(b("ab")), b"$2\r\nab\r\n", b"$2\r\nab\r\n"),
        (Reply::Nil, b"$-1\r\n", b"_\r\n"),
        (Reply::NilArray, b"*-1\r\n", b"_\r\n"),
        (
            Reply::Array(vec![Reply::Integer(1)]),
            b"*1\r\n:1\r\n",
            b"*1\r\n:1\r\n",
        ),
        (
            Reply::Map(vec![(Reply::bulk(b("maxmemory")), Reply::bulk(b("0")))]),
            b"*2\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n",
            b"%1\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n",
        ),
        (
            Reply::Set(vec![Reply::Integer(1)]),
            b"*1\r\n:1\r\n",
            b"~1\r\n:1\r\n",
        ),
        (
            Reply::Double(0.1),
            b"$19\r\n0.10000000000000001\r\n",
            b",0.10000000000000001\r\n",
        ),
        (
            Reply::Double(f64::NEG_INFINITY),
            b"$4\r\n-inf\r\n",
            b",-inf\r\n",
        ),
        (Reply::Double(1e20), b"$5\r\n1e+20\r\n", b",1e+20\r\n"),
        (Reply::Boolean(true), b":1\r\n", b"#t\r\n"),
        (Reply::Boolean(false), b":0\r\n", b"#f\r\n"),
        (
            Reply::Verbatim("txt", b("hi\n")),
            b"$3\r\nhi\n\r\n",
            b"=7\r\ntxt:hi\n\r\n",
        ),
        (
            Reply::Push(vec![Reply::bulk(b("invalidate"))]),
            b"*1\r\n$10\r\ninvalidate\r\n",
            b">1\r\n$10\r\ninvalidate\r\n",
        ),
    ];
    for (reply, resp2, resp3) in cases {
        assert_eq!(encoded(&reply, 2), resp2, "{reply:?} in RESP2");
        assert_eq!(encoded(&reply, 3), resp3, "{reply:?} in RESP3");
    }
}

#[test]
fn line_replies_never_break_the_stream() {
    // CR or LF inside a status or error line would end it early; they are
    // sent as spaces.
    assert_eq!(
        encoded(&Reply::error_owned("ERR a\r\nb".into()), 2),
        b"-ERR a  b\r\n"
    );
    assert_eq!(encoded(&Reply::Simple(b("x\ny")), 3), b"+x y\r\n");
}

#[test]
fn round_trip_every_variant_in_both_protocols() {
    // What the encoder writes, the frame parser reads back as the reply's
    // protocol-specific shape, using every byte.
    for protocol in [2, 3] {
        for reply in every_variant() {
            let wire = Bytes::from(encoded(&reply, protocol));
            let (frame, used) = parse_frame(&wire).unwrap().unwrap();
            assert_eq!(used, wire.len(), "{reply:?} in RESP{protocol}");
            assert_eq!(
                frame,
                expected_frame(&reply, protocol),
                "{reply:?} in RESP{protocol}"
            );
            let summary = scan_frame(&wire).unwrap().unwrap();
            assert_eq!(summary.len, wire.len());
            assert_eq!(summary.is_error, reply.is_error());
            assert_eq!(
                summary.is_nil,
                matches!(reply, Reply::Nil | Reply::NilArray)
            );
        }
    }
}

/// Feeds `chunks` into one buffer, taking every complete frame after each.
fn frames_from_chunks(chunks: &[&[u8]]) -> Vec<Frame> {
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        loop {
            let view = buf.clone().freeze();
            let Some((frame, used)) = parse_frame(&view).unwrap() else {
                break;
            };
            assert_eq!(scan_frame(&buf).unwrap().map(|s| s.len), Some(used));
            let _ = buf.split_to(used);
            frames.push(frame);
        }
    }
    assert!(buf.is_empty());
    frames
}

#[test]
fn split_replies_parse_the_same_as_whole() {
    // A client reading a pipeline of replies gets the same frames whether
    // they arrive at once, byte by byte, or in random pieces.
    for protocol in [2, 3] {
        let replies = every_variant();
        let mut wire = Vec::new();
        for reply in &replies {
            wire.extend_from_slice(&encoded(reply, protocol));
        }
        let whole = frames_from_chunks(&[&wire]);
        assert_eq!(
            whole,
            replies
                .iter()
                .map(|r| expected_frame(r, protocol))
                .collect::<Vec<_>>()
        );
        let bytes: Vec<&[u8]> = wire.chunks(1).collect();
        assert_eq!(frames_from_chunks(&bytes), whole);
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..200 {
            let mut chunks = Vec::new();
            let mut rest = &wire[..];
            while !rest.is_empty() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let take = 1 + (state % rest.len().min(19) as u64) as usize;
                chunks.push(&rest[..take]);
                rest = &rest[take..];
            }
            assert_eq!(frames_from_chunks(&chunks), whole);
        }
    }
}
