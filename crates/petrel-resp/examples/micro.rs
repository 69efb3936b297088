//! A small timing loop for the hot paths (no criterion): parsing pipelined
//! SET requests and encoding typical replies. Run with
//! `cargo run --release -p petrel-resp --example micro`.

use std::hint::black_box;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use petrel_resp::{encode, encode_command, scan_frame, Limits, Reply, RequestParser};

const REQUESTS: usize = 1_000_000;
const PIPELINE: usize = 50;

fn main() {
    // One pipeline of 50 SETs with 32-byte values, as memtier sends them.
    let value = [b'v'; 32];
    let mut pipeline = BytesMut::new();
    for i in 0..PIPELINE {
        let key = format!("memtier-{i}");
        encode_command(&[b"SET", key.as_bytes(), &value], &mut pipeline);
    }
    let pipeline = pipeline.freeze();

    let mut parser = RequestParser::new(Limits::default());
    let start = Instant::now();
    let mut arguments = 0;
    for _ in 0..REQUESTS / PIPELINE {
        let mut buf = BytesMut::from(&pipeline[..]);
        while let Ok(Some(request)) = parser.parse(&mut buf, true) {
            arguments += black_box(request).len();
        }
    }
    report("parse SET requests", start, REQUESTS);
    assert_eq!(arguments, REQUESTS * 3);

    let replies = [
        Reply::ok(),
        Reply::bulk(Bytes::from_static(&[b'v'; 32])),
        Reply::Integer(123_456),
        Reply::Nil,
        Reply::Double(0.1),
    ];
    let mut out = BytesMut::with_capacity(1 << 20);
    let start = Instant::now();
    for i in 0..REQUESTS {
        if out.len() > (1 << 19) {
            out.clear();
        }
        encode(black_box(&replies[i % replies.len()]), 2, &mut out);
    }
    report("encode mixed replies", start, REQUESTS);

    let mut wire = BytesMut::new();
    for reply in replies.iter().cycle().take(PIPELINE) {
        encode(reply, 3, &mut wire);
    }
    let start = Instant::now();
    let mut frames = 0;
    for _ in 0..REQUESTS / PIPELINE {
        let mut rest = &wire[..];
        while let Ok(Some(summary)) = scan_frame(rest) {
            rest = &rest[summary.len..];
            frames += 1;
        }
    }
    report("scan reply frames", start, frames);
}

fn report(name: &str, start: Instant, operations: usize) {
    let elapsed = start.elapsed();
    let per_second = operations as f64 / elapsed.as_secs_f64();
    println!(
        "{name:24} {operations} in {elapsed:.2?}: {:.1} M/s, {:.1} ns each",
        per_second / 1e6,
        elapsed.as_nanos() as f64 / operations as f64
    );
}
