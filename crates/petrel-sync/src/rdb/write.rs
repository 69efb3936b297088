//! Writes RDB payloads: header, AUX fields, databases, entries, EOF and
//! checksum. The caller drains the buffer as it fills ([`RdbWriter::take`]),
//! so a snapshot of any size streams in bounded chunks.

use petrel_store::keyspace::parse_i64;
use petrel_store::{Entry, Value};

use super::{kind, opcode, CRC64, RDB_VERSION};

/// Writes one RDB payload. Call [`RdbWriter::new`], then any number of
/// [`RdbWriter::aux`], then per database [`RdbWriter::select_db`] and its
/// entries, then [`RdbWriter::finish`]; drain with [`RdbWriter::take`] at any
/// point. Every byte written goes through the checksum.
pub struct RdbWriter {
    buffer: Vec<u8>,
    digest: crc::Digest<'static, u64>,
}

impl RdbWriter {
    /// Starts a payload with the `REDIS0010` header.
    pub fn new() -> RdbWriter {
        let mut writer = RdbWriter {
            buffer: Vec::with_capacity(64 * 1024),
            digest: CRC64.digest(),
        };
        let header = format!("REDIS{RDB_VERSION:04}");
        writer.put(header.as_bytes());
        writer
    }

    /// An AUX field (`redis-ver`, `repl-id`, ...).
    pub fn aux(&mut self, key: &[u8], value: &[u8]) {
        self.put(&[opcode::AUX]);
        self.string(key);
        self.string(value);
    }

    /// Starts database `index`, with size hints for the loader's tables.
    pub fn select_db(&mut self, index: u64, keys: u64, expires: u64) {
        self.put(&[opcode::SELECTDB]);
        self.length(index);
        self.put(&[opcode::RESIZEDB]);
        self.length(keys);
        self.length(expires);
    }

    /// One key with its value and deadline.
    pub fn entry(&mut self, key: &[u8], entry: &Entry) {
        let mut encoded = Vec::new();
        encode_entry(&mut encoded, key, entry);
        self.put(&encoded);
    }

    /// Entries another thread encoded with [`encode_entry`] (a shard
    /// serializes its keys; one writer assembles the file and its checksum).
    pub fn put_encoded(&mut self, entries: &[u8]) {
        self.put(entries);
    }

    /// Bytes written so far and not yet taken.
    pub fn pending_bytes(&self) -> usize {
        self.buffer.len()
    }

    /// Hands over what was written since the last call.
    pub fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buffer)
    }

    /// Writes EOF and the checksum and returns the last bytes.
    pub fn finish(mut self) -> Vec<u8> {
        self.put(&[opcode::EOF]);
        let checksum = self.digest.finalize();
        self.buffer.extend_from_slice(&checksum.to_le_bytes());
        self.buffer
    }

    fn put(&mut self, bytes: &[u8]) {
        self.digest.update(bytes);
        self.buffer.extend_from_slice(bytes);
    }

    fn length(&mut self, length: u64) {
        let mut bytes = Vec::with_capacity(9);
        put_length(&mut bytes, length);
        self.put(&bytes);
    }

    fn string(&mut self, bytes: &[u8]) {
        let mut encoded = Vec::with_capacity(bytes.len() + 5);
        put_string(&mut encoded, bytes);
        self.put(&encoded);
    }
}

impl Default for RdbWriter {
    fn default() -> RdbWriter {
        RdbWriter::new()
    }
}

/// Appends one key, its deadline and its value as an RDB entry, without a
/// checksum; hand the bytes to [`RdbWriter::put_encoded`].
pub fn encode_entry(out: &mut Vec<u8>, key: &[u8], entry: &Entry) {
    if let Some(deadline) = entry.expires_at_ms {
        out.push(opcode::EXPIRETIME_MS);
        out.extend_from_slice(&deadline.to_le_bytes());
    }
    let kind_at = out.len();
    out.push(kind::STRING);
    put_string(out, key);
    out[kind_at] = encode_value(out, &entry.value);
}

/// The DUMP payload of `value` as Redis 7.0 makes it (value type, encoded
/// value, RDB version as two bytes, CRC-64 of all that): what RESTORE takes.
pub fn dump_payload(value: &Value) -> Vec<u8> {
    let mut body = Vec::new();
    let value_kind = encode_value(&mut body, value);
    let mut payload = Vec::with_capacity(body.len() + 11);
    payload.push(value_kind);
    payload.extend_from_slice(&body);
    payload.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let checksum = CRC64.checksum(&payload);
    payload.extend_from_slice(&checksum.to_le_bytes());
    payload
}

/// Appends the encoding of `value` and returns its RDB type.
fn encode_value(out: &mut Vec<u8>, value: &Value) -> u8 {
    match value {
        Value::String(string) => {
            put_string(out, string.as_bytes());
            kind::STRING
        }
        Value::List(list) => {
            put_length(out, list.len() as u64);
            for element in list.iter() {
                put_string(out, element);
            }
            kind::LIST
        }
        Value::Set(set) => {
            put_length(out, set.len() as u64);
            for member in set.iter() {
                put_string(out, member);
            }
            kind::SET
        }
        Value::ZSet(zset) => {
            put_length(out, zset.len() as u64);
            for (member, score) in zset.iter() {
                put_string(out, member);
                out.extend_from_slice(&score.to_le_bytes());
            }
            kind::ZSET_2
        }
        Value::Hash(hash) => {
            put_length(out, hash.len() as u64);
            for (field, value) in hash.iter() {
                put_string(out, field);
                put_string(out, value);
            }
            kind::HASH
        }
    }
}

/// Redis's length encoding: 6, 14, 32 or 64 bits.
pub(crate) fn put_length(out: &mut Vec<u8>, length: u64) {
    if length < 1 << 6 {
        out.push(length as u8);
    } else if length < 1 << 14 {
        out.push(0x40 | (length >> 8) as u8);
        out.push(length as u8);
    } else if let Ok(length) = u32::try_from(length) {
        out.push(0x80);
        out.extend_from_slice(&length.to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&length.to_be_bytes());
    }
}

/// A string, integer-encoded when it is the canonical text of an integer
/// that fits 32 bits (as Redis's `rdbTryIntegerEncoding`).
pub(crate) fn put_string(out: &mut Vec<u8>, bytes: &[u8]) {
    if bytes.len() <= 11 {
        if let Some(number) = parse_i64(bytes) {
            if let Ok(small) = i8::try_from(number) {
                out.push(0xC0);
                out.extend_from_slice(&small.to_le_bytes());
                return;
            }
            if let Ok(medium) = i16::try_from(number) {
                out.push(0xC1);
                out.extend_from_slice(&medium.to_le_bytes());
                return;
            }
            if let Ok(large) = i32::try_from(number) {
                out.push(0xC2);
                out.extend_from_slice(&large.to_le_bytes());
                return;
            }
        }
    }
    put_length(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}
