//! Reads RDB payloads item by item from a byte slice.

use bytes::Bytes;
use petrel_store::keyspace::StringValue;
use petrel_store::types::{HashValue, ListValue, SetValue, ZSetValue};
use petrel_store::{Entry, Value};

use super::compact::{intset_elements, listpack_elements, lzf_decompress, ziplist_elements};
use super::{encoding, kind, opcode, RdbError, CRC64, RDB_VERSION, RDB_VERSION_MAX};

/// One thing an RDB payload holds, in file order.
#[derive(Debug, Clone, PartialEq)]
#[expect(
    clippy::large_enum_variant,
    reason = "entries are nearly every item; boxing would cost an allocation per key"
)]
pub enum RdbItem {
    /// An AUX field (`redis-ver`, `repl-id`, `repl-offset`, ...).
    Aux { key: Bytes, value: Bytes },
    /// The following entries belong to database `index`.
    SelectDb(u64),
    /// A key of database `db`, with its value and deadline. Deadlines in the
    /// past are returned as they are: the caller decides.
    Entry { db: u64, key: Bytes, entry: Entry },
}

/// Walks an RDB payload. [`RdbReader::new`] checks the header;
/// [`RdbReader::next_item`] returns items until the EOF opcode, where it
/// checks the checksum (unless the writer left it zero, as
/// `rdbchecksum no` does) and returns `None`.
#[derive(Debug)]
pub struct RdbReader<'a> {
    data: &'a [u8],
    position: usize,
    version: u16,
    db: u64,
    finished: bool,
}

impl<'a> RdbReader<'a> {
    pub fn new(data: &'a [u8]) -> Result<RdbReader<'a>, RdbError> {
        if data.len() < 9 {
            return Err(if data.starts_with(&b"REDIS"[..data.len().min(5)]) {
                RdbError::Truncated
            } else {
                RdbError::BadMagic
            });
        }
        if &data[..5] != b"REDIS" || !data[5..9].iter().all(u8::is_ascii_digit) {
            return Err(RdbError::BadMagic);
        }
        let version = data[5..9]
            .iter()
            .fold(0u16, |number, digit| number * 10 + u16::from(digit - b'0'));
        if version == 0 || version > RDB_VERSION_MAX {
            return Err(RdbError::UnsupportedVersion(version));
        }
        Ok(RdbReader {
            data,
            position: 9,
            version,
            db: 0,
            finished: false,
        })
    }

    pub fn version(&self) -> u16 {
        self.version
    }

    /// Bytes read so far (the whole payload once `next_item` returned `None`).
    pub fn consumed(&self) -> usize {
        self.position
    }

    /// The next item, or `None` after the EOF opcode and a good checksum.
    pub fn next_item(&mut self) -> Result<Option<RdbItem>, RdbError> {
        if self.finished {
            return Ok(None);
        }
        let mut expires_at_ms = None;
        loop {
            let code = self.byte()?;
            match code {
                opcode::EOF => {
                    self.check_checksum()?;
                    self.finished = true;
                    return Ok(None);
                }
                opcode::AUX => {
                    let key = self.string()?;
                    let value = self.string()?;
                    return Ok(Some(RdbItem::Aux { key, value }));
                }
                opcode::SELECTDB => {
                    self.db = self.length()?;
                    return Ok(Some(RdbItem::SelectDb(self.db)));
                }
                opcode::RESIZEDB => {
                    self.length()?;
                    self.length()?;
                }
                opcode::EXPIRETIME_MS => {
                    let bytes = self.take(8)?;
                    let mut raw = [0u8; 8];
                    raw.copy_from_slice(bytes);
                    expires_at_ms = Some(u64::from_le_bytes(raw));
                }
                opcode::EXPIRETIME => {
                    let bytes = self.take(4)?;
                    let seconds = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
                    expires_at_ms = Some(u64::from(seconds) * 1000);
                }
                opcode::IDLE => {
                    self.length()?;
                }
                opcode::FREQ => {
                    self.byte()?;
                }
                // A function library's code: nothing Petrel runs; skip it.
                opcode::FUNCTION2 => {
                    self.string()?;
                }
                opcode::MODULE_AUX | opcode::FUNCTION_PRE_GA => {
                    return Err(RdbError::UnsupportedOpcode(code));
                }
                value_kind => {
                    let key = self.string()?;
                    let value = self.value(value_kind)?;
                    return Ok(Some(RdbItem::Entry {
                        db: self.db,
                        key,
                        entry: Entry {
                            value,
                            expires_at_ms,
                        },
                    }));
                }
            }
        }
    }

    fn check_checksum(&mut self) -> Result<(), RdbError> {
        // Version 5 and later end with a checksum of everything before it.
        if self.version < 5 {
            return Ok(());
        }
        let covered = self.position;
        let bytes = self.take(8)?;
        let mut raw = [0u8; 8];
        raw.copy_from_slice(bytes);
        let expected = u64::from_le_bytes(raw);
        if expected == 0 {
            return Ok(());
        }
        let computed = CRC64.checksum(&self.data[..covered]);
        if computed != expected {
            return Err(RdbError::Checksum { expected, computed });
        }
        Ok(())
    }

    fn value(&mut self, value_kind: u8) -> Result<Value, RdbError> {
        Ok(match value_kind {
            kind::STRING => Value::String(StringValue::from_owned(self.string()?.to_vec())),
            kind::LIST => {
                let count = self.length()?;
                let mut elements = Vec::with_capacity(capacity_hint(count));
                for _ in 0..count {
                    elements.push(self.string()?);
                }
                Value::List(elements.into_iter().collect::<ListValue>())
            }
            kind::SET => {
                let count = self.length()?;
                let mut members = Vec::with_capacity(capacity_hint(count));
                for _ in 0..count {
                    members.push(self.string()?);
                }
                Value::Set(members.into_iter().collect::<SetValue>())
            }
            kind::ZSET | kind::ZSET_2 => {
                let count = self.length()?;
                let mut zset = ZSetValue::new();
                for _ in 0..count {
                    let member = self.string()?;
                    let score = if value_kind == kind::ZSET_2 {
                        let bytes = self.take(8)?;
                        let mut raw = [0u8; 8];
                        raw.copy_from_slice(bytes);
                        f64::from_le_bytes(raw)
                    } else {
                        self.text_score()?
                    };
                    zset.insert(member, score);
                }
                Value::ZSet(zset)
            }
            kind::HASH => {
                let count = self.length()?;
                let mut hash = HashValue::default();
                for _ in 0..count {
                    let field = self.string()?;
                    let value = self.string()?;
                    hash.insert(&field, &value);
                }
                Value::Hash(hash)
            }
            kind::SET_INTSET => set_of(intset_elements(&self.string()?)?),
            kind::SET_LISTPACK => set_of(listpack_elements(&self.string()?)?),
            kind::HASH_ZIPLIST => hash_of(ziplist_elements(&self.string()?)?)?,
            kind::HASH_LISTPACK => hash_of(listpack_elements(&self.string()?)?)?,
            kind::ZSET_ZIPLIST => zset_of(ziplist_elements(&self.string()?)?)?,
            kind::ZSET_LISTPACK => zset_of(listpack_elements(&self.string()?)?)?,
            kind::LIST_ZIPLIST => Value::List(
                ziplist_elements(&self.string()?)?
                    .into_iter()
                    .collect::<ListValue>(),
            ),
            kind::LIST_QUICKLIST | kind::LIST_QUICKLIST_2 => {
                let nodes = self.length()?;
                let mut elements = Vec::new();
                for _ in 0..nodes {
                    let container = if value_kind == kind::LIST_QUICKLIST_2 {
                        self.length()?
                    } else {
                        QUICKLIST_PACKED
                    };
                    let node = self.string()?;
                    match container {
                        QUICKLIST_PLAIN => elements.push(node),
                        QUICKLIST_PACKED if value_kind == kind::LIST_QUICKLIST_2 => {
                            elements.extend(listpack_elements(&node)?)
                        }
                        QUICKLIST_PACKED => elements.extend(ziplist_elements(&node)?),
                        _ => return Err(RdbError::Corrupt("unknown quicklist container")),
                    }
                }
                Value::List(elements.into_iter().collect::<ListValue>())
            }
            other => return Err(RdbError::UnsupportedType(other)),
        })
    }

    fn byte(&mut self) -> Result<u8, RdbError> {
        let byte = *self.data.get(self.position).ok_or(RdbError::Truncated)?;
        self.position += 1;
        Ok(byte)
    }

    fn take(&mut self, count: usize) -> Result<&'a [u8], RdbError> {
        let end = self
            .position
            .checked_add(count)
            .ok_or(RdbError::Truncated)?;
        let bytes = self
            .data
            .get(self.position..end)
            .ok_or(RdbError::Truncated)?;
        self.position = end;
        Ok(bytes)
    }

    /// A length, or the special encoding of a string (`Err` side of `Ok`).
    fn length_or_encoding(&mut self) -> Result<Result<u64, u8>, RdbError> {
        let first = self.byte()?;
        Ok(match first >> 6 {
            0 => Ok(u64::from(first & 0x3f)),
            1 => Ok((u64::from(first & 0x3f) << 8) | u64::from(self.byte()?)),
            2 => match first {
                0x80 => {
                    let bytes = self.take(4)?;
                    Ok(u64::from(u32::from_be_bytes([
                        bytes[0], bytes[1], bytes[2], bytes[3],
                    ])))
                }
                0x81 => {
                    let bytes = self.take(8)?;
                    let mut raw = [0u8; 8];
                    raw.copy_from_slice(bytes);
                    Ok(u64::from_be_bytes(raw))
                }
                _ => return Err(RdbError::Corrupt("unknown length encoding")),
            },
            _ => Err(first & 0x3f),
        })
    }

    fn length(&mut self) -> Result<u64, RdbError> {
        self.length_or_encoding()?
            .map_err(|_| RdbError::Corrupt("an encoded string where a length belongs"))
    }

    fn string(&mut self) -> Result<Bytes, RdbError> {
        match self.length_or_encoding()? {
            Ok(length) => {
                let length = usize::try_from(length).map_err(|_| RdbError::Truncated)?;
                Ok(Bytes::copy_from_slice(self.take(length)?))
            }
            Err(encoding::INT8) => Ok(number_text(i64::from(self.byte()? as i8))),
            Err(encoding::INT16) => {
                let bytes = self.take(2)?;
                Ok(number_text(i64::from(i16::from_le_bytes([
                    bytes[0], bytes[1],
                ]))))
            }
            Err(encoding::INT32) => {
                let bytes = self.take(4)?;
                Ok(number_text(i64::from(i32::from_le_bytes([
                    bytes[0], bytes[1], bytes[2], bytes[3],
                ]))))
            }
            Err(encoding::LZF) => {
                let compressed =
                    usize::try_from(self.length()?).map_err(|_| RdbError::Truncated)?;
                let length = usize::try_from(self.length()?).map_err(|_| RdbError::Truncated)?;
                let input = self.take(compressed)?;
                Ok(Bytes::from(lzf_decompress(input, length)?))
            }
            Err(_) => Err(RdbError::Corrupt("unknown string encoding")),
        }
    }

    /// A score of the old sorted set type: a length byte, then its text
    /// (253, 254 and 255 stand for NaN, +inf and -inf).
    fn text_score(&mut self) -> Result<f64, RdbError> {
        match self.byte()? {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            length => parse_score(self.take(usize::from(length))?),
        }
    }
}

const QUICKLIST_PLAIN: u64 = 1;
const QUICKLIST_PACKED: u64 = 2;

/// Caps preallocation by a length read from the payload, so a corrupt
/// length cannot make the reader allocate gigabytes before failing.
fn capacity_hint(count: u64) -> usize {
    usize::try_from(count).unwrap_or(0).min(4096)
}

fn number_text(number: i64) -> Bytes {
    Bytes::from(number.to_string())
}

fn parse_score(text: &[u8]) -> Result<f64, RdbError> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|text| text.parse::<f64>().ok())
        .ok_or(RdbError::Corrupt("a sorted set score is not a number"))
}

fn set_of(members: Vec<Bytes>) -> Value {
    Value::Set(members.into_iter().collect::<SetValue>())
}

fn hash_of(elements: Vec<Bytes>) -> Result<Value, RdbError> {
    if !elements.len().is_multiple_of(2) {
        return Err(RdbError::Corrupt("a hash with an odd number of elements"));
    }
    let mut hash = HashValue::default();
    for pair in elements.chunks_exact(2) {
        hash.insert(&pair[0], &pair[1]);
    }
    Ok(Value::Hash(hash))
}

fn zset_of(elements: Vec<Bytes>) -> Result<Value, RdbError> {
    if !elements.len().is_multiple_of(2) {
        return Err(RdbError::Corrupt(
            "a sorted set with an odd number of elements",
        ));
    }
    let mut zset = ZSetValue::new();
    for pair in elements.chunks_exact(2) {
        zset.insert(pair[0].clone(), parse_score(&pair[1])?);
    }
    Ok(Value::ZSet(zset))
}

/// The value in a DUMP payload (RESTORE's argument): checks the footer's
/// RDB version and CRC-64, then decodes the value.
pub fn restore_value(payload: &[u8]) -> Result<Value, RdbError> {
    if payload.len() < 11 {
        return Err(RdbError::Truncated);
    }
    let (body, footer) = payload.split_at(payload.len() - 10);
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    if version > RDB_VERSION_MAX {
        return Err(RdbError::UnsupportedVersion(version));
    }
    let mut raw = [0u8; 8];
    raw.copy_from_slice(&footer[2..]);
    let expected = u64::from_le_bytes(raw);
    let computed = CRC64.checksum(&payload[..payload.len() - 8]);
    if expected != 0 && expected != computed {
        return Err(RdbError::Checksum { expected, computed });
    }
    let mut reader = RdbReader {
        data: body,
        position: 1,
        version: RDB_VERSION,
        db: 0,
        finished: false,
    };
    let value = reader.value(body[0])?;
    if reader.position != body.len() {
        return Err(RdbError::Corrupt("bytes after the value in a DUMP payload"));
    }
    Ok(value)
}
