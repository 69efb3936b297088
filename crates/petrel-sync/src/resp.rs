//! The RESP framing of the replication stream: commands as multibulk
//! arrays, and a parser for the stream a replica receives.

use bytes::{Bytes, BytesMut};

/// `*<n>\r\n$<len>\r\n<arg>\r\n...`, as a command travels in the stream.
pub fn encode_command<A: AsRef<[u8]>>(args: &[A]) -> Vec<u8> {
    let mut out =
        Vec::with_capacity(16 + args.iter().map(|a| a.as_ref().len() + 16).sum::<usize>());
    encode_command_into(&mut out, args);
    out
}

pub fn encode_command_into<A: AsRef<[u8]>>(out: &mut Vec<u8>, args: &[A]) {
    out.push(b'*');
    out.extend_from_slice(args.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    for arg in args {
        let arg = arg.as_ref();
        out.push(b'$');
        out.extend_from_slice(arg.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

/// A line ending in CRLF at the front of `buffer`: its text and the bytes
/// it takes, or `None` if incomplete.
pub(crate) fn line(buffer: &[u8]) -> Option<(&[u8], usize)> {
    let end = buffer.windows(2).position(|pair| pair == b"\r\n")?;
    Some((&buffer[..end], end + 2))
}

/// Why the stream could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("protocol error in the replication stream: {0}")]
pub struct StreamError(pub &'static str);

/// Largest argument accepted in the stream (Redis's proto-max-bulk-len).
const BULK_BYTES_MAX: usize = 512 * 1024 * 1024;
const ARGS_MAX: usize = 1024 * 1024;

/// Takes one command off the front of `buffer`: its arguments and the bytes
/// it took, `Ok(None)` if it is incomplete. Inline commands (a bare line,
/// as a master's newline keepalive) come back as an empty argument list.
pub fn take_command(buffer: &mut BytesMut) -> Result<Option<(Vec<Bytes>, usize)>, StreamError> {
    let Some(&first) = buffer.first() else {
        return Ok(None);
    };
    if first != b'*' {
        let Some((text, used)) = line(buffer) else {
            return Ok(None);
        };
        let args: Vec<Bytes> = text
            .split(|b| *b == b' ')
            .filter(|word| !word.is_empty())
            .map(Bytes::copy_from_slice)
            .collect();
        let _ = buffer.split_to(used);
        return Ok(Some((args, used)));
    }
    let Some((header, mut position)) = line(buffer) else {
        return Ok(None);
    };
    let count = parse_count(&header[1..])?;
    if count > ARGS_MAX {
        return Err(StreamError("too many arguments"));
    }
    let mut spans = Vec::with_capacity(count);
    for _ in 0..count {
        let Some((bulk_header, used)) = line(&buffer[position..]) else {
            return Ok(None);
        };
        if bulk_header.first() != Some(&b'$') {
            return Err(StreamError("expected '$'"));
        }
        let length = parse_count(&bulk_header[1..])?;
        if length > BULK_BYTES_MAX {
            return Err(StreamError("bulk too long"));
        }
        let start = position + used;
        let end = start + length;
        if buffer.len() < end + 2 {
            return Ok(None);
        }
        if &buffer[end..end + 2] != b"\r\n" {
            return Err(StreamError("bulk not followed by CRLF"));
        }
        spans.push((start, end));
        position = end + 2;
    }
    let frame = buffer.split_to(position).freeze();
    let args = spans
        .into_iter()
        .map(|(start, end)| frame.slice(start..end))
        .collect();
    Ok(Some((args, position)))
}

fn parse_count(text: &[u8]) -> Result<usize, StreamError> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|text| text.parse::<usize>().ok())
        .ok_or(StreamError("bad length"))
}

#[cfg(test)]
mod tests {
    use super::*;

    // A command encoded for the stream parses back to the same arguments,
    // byte count included, and a partial frame waits for more.
    #[test]
    fn encode_then_take() {
        let encoded = encode_command(&[&b"SET"[..], b"k", b"v\r\nx"]);
        let mut buffer = BytesMut::from(&encoded[..encoded.len() - 1]);
        assert_eq!(take_command(&mut buffer), Ok(None));
        buffer.extend_from_slice(&encoded[encoded.len() - 1..]);
        buffer.extend_from_slice(b"\n");
        let (args, used) = take_command(&mut buffer).expect("valid").expect("complete");
        assert_eq!(
            args,
            vec![Bytes::from("SET"), Bytes::from("k"), Bytes::from("v\r\nx")]
        );
        assert_eq!(used, encoded.len());
        assert_eq!(&buffer[..], b"\n");
    }
}
