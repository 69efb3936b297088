//! The compact encodings Redis nests inside RDB strings: LZF compression,
//! listpacks (Redis 7), ziplists (before 7) and intsets. Each decoder turns
//! its blob into a list of elements, integers as their decimal text, and
//! checks every length against the blob so corrupt input is an error, never
//! a panic.

use bytes::Bytes;

use super::RdbError;

const CORRUPT_LZF: RdbError = RdbError::Corrupt("bad LZF-compressed string");
const CORRUPT_LISTPACK: RdbError = RdbError::Corrupt("bad listpack");
const CORRUPT_ZIPLIST: RdbError = RdbError::Corrupt("bad ziplist");
const CORRUPT_INTSET: RdbError = RdbError::Corrupt("bad intset");

/// Decompresses LZF (`lzf_d.c`) into exactly `length` bytes.
pub(crate) fn lzf_decompress(input: &[u8], length: usize) -> Result<Vec<u8>, RdbError> {
    let mut output: Vec<u8> = Vec::with_capacity(length);
    let mut position = 0;
    while position < input.len() {
        let control = usize::from(input[position]);
        position += 1;
        if control < 32 {
            // A literal run of control + 1 bytes.
            let run = control + 1;
            let literal = input.get(position..position + run).ok_or(CORRUPT_LZF)?;
            output.extend_from_slice(literal);
            position += run;
        } else {
            // A back reference: length in the top 3 bits (7 = one more byte).
            let mut run = control >> 5;
            if run == 7 {
                run += usize::from(*input.get(position).ok_or(CORRUPT_LZF)?);
                position += 1;
            }
            run += 2;
            let low = usize::from(*input.get(position).ok_or(CORRUPT_LZF)?);
            position += 1;
            let distance = ((control & 0x1f) << 8) + low + 1;
            let start = output.len().checked_sub(distance).ok_or(CORRUPT_LZF)?;
            // Byte by byte: the reference may overlap what it produces.
            for index in start..start + run {
                let byte = output[index];
                output.push(byte);
            }
        }
        if output.len() > length {
            return Err(CORRUPT_LZF);
        }
    }
    if output.len() != length {
        return Err(CORRUPT_LZF);
    }
    Ok(output)
}

fn integer_text(value: i64) -> Bytes {
    Bytes::from(value.to_string())
}

fn read_le(bytes: &[u8]) -> i64 {
    // Sign-extends a little-endian integer of 1 to 8 bytes.
    let mut value: i64 = 0;
    for (index, byte) in bytes.iter().enumerate() {
        value |= i64::from(*byte) << (8 * index);
    }
    let bits = 8 * bytes.len() as u32;
    if bits < 64 {
        let shift = 64 - bits;
        value = (value << shift) >> shift;
    }
    value
}

/// The elements of a listpack (`listpack.c`).
pub(crate) fn listpack_elements(blob: &[u8]) -> Result<Vec<Bytes>, RdbError> {
    if blob.len() < 7 {
        return Err(CORRUPT_LISTPACK);
    }
    let total = u32::from_le_bytes([blob[0], blob[1], blob[2], blob[3]]) as usize;
    if total != blob.len() {
        return Err(CORRUPT_LISTPACK);
    }
    let mut elements = Vec::new();
    let mut position = 6;
    loop {
        let first = *blob.get(position).ok_or(CORRUPT_LISTPACK)?;
        if first == 0xFF {
            break;
        }
        let (element, entry_bytes) = listpack_entry(&blob[position..])?;
        elements.push(element);
        position += entry_bytes + backlen_bytes(entry_bytes);
    }
    Ok(elements)
}

/// One entry: its element and the bytes of its encoding and data (the
/// back-length that follows is not counted).
fn listpack_entry(entry: &[u8]) -> Result<(Bytes, usize), RdbError> {
    let first = entry[0];
    let take = |start: usize, length: usize| -> Result<&[u8], RdbError> {
        entry.get(start..start + length).ok_or(CORRUPT_LISTPACK)
    };
    if first & 0x80 == 0 {
        return Ok((integer_text(i64::from(first & 0x7f)), 1));
    }
    if first & 0xC0 == 0x80 {
        let length = usize::from(first & 0x3f);
        return Ok((Bytes::copy_from_slice(take(1, length)?), 1 + length));
    }
    if first & 0xE0 == 0xC0 {
        let low = *entry.get(1).ok_or(CORRUPT_LISTPACK)?;
        let raw = (i64::from(first & 0x1f) << 8) | i64::from(low);
        let value = if raw >= 1 << 12 { raw - (1 << 13) } else { raw };
        return Ok((integer_text(value), 2));
    }
    if first & 0xF0 == 0xE0 {
        let low = *entry.get(1).ok_or(CORRUPT_LISTPACK)?;
        let length = (usize::from(first & 0x0f) << 8) | usize::from(low);
        return Ok((Bytes::copy_from_slice(take(2, length)?), 2 + length));
    }
    match first {
        0xF0 => {
            let header = take(1, 4)?;
            let length = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
            Ok((Bytes::copy_from_slice(take(5, length)?), 5 + length))
        }
        0xF1 => Ok((integer_text(read_le(take(1, 2)?)), 3)),
        0xF2 => Ok((integer_text(read_le(take(1, 3)?)), 4)),
        0xF3 => Ok((integer_text(read_le(take(1, 4)?)), 5)),
        0xF4 => Ok((integer_text(read_le(take(1, 8)?)), 9)),
        _ => Err(CORRUPT_LISTPACK),
    }
}

/// How many bytes `lpEncodeBacklen` uses for an entry of `length` bytes.
fn backlen_bytes(length: usize) -> usize {
    match length {
        0..=127 => 1,
        128..16383 => 2,
        16383..2097151 => 3,
        2097151..268435455 => 4,
        _ => 5,
    }
}

/// The elements of a ziplist (`ziplist.c`, Redis before 7.0).
pub(crate) fn ziplist_elements(blob: &[u8]) -> Result<Vec<Bytes>, RdbError> {
    if blob.len() < 11 {
        return Err(CORRUPT_ZIPLIST);
    }
    let mut elements = Vec::new();
    let mut position = 10;
    loop {
        let first = *blob.get(position).ok_or(CORRUPT_ZIPLIST)?;
        if first == 0xFF {
            break;
        }
        // The previous entry's length: one byte, or 0xFE and four bytes.
        position += if first == 0xFE { 5 } else { 1 };
        let encoding = *blob.get(position).ok_or(CORRUPT_ZIPLIST)?;
        let take = |start: usize, length: usize| -> Result<&[u8], RdbError> {
            blob.get(start..start + length).ok_or(CORRUPT_ZIPLIST)
        };
        let (element, size) = match encoding >> 6 {
            0 => {
                let length = usize::from(encoding & 0x3f);
                (
                    Bytes::copy_from_slice(take(position + 1, length)?),
                    1 + length,
                )
            }
            1 => {
                let low = *blob.get(position + 1).ok_or(CORRUPT_ZIPLIST)?;
                let length = (usize::from(encoding & 0x3f) << 8) | usize::from(low);
                (
                    Bytes::copy_from_slice(take(position + 2, length)?),
                    2 + length,
                )
            }
            2 => {
                let header = take(position + 1, 4)?;
                let length =
                    u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
                (
                    Bytes::copy_from_slice(take(position + 5, length)?),
                    5 + length,
                )
            }
            _ => match encoding {
                0xC0 => (integer_text(read_le(take(position + 1, 2)?)), 3),
                0xD0 => (integer_text(read_le(take(position + 1, 4)?)), 5),
                0xE0 => (integer_text(read_le(take(position + 1, 8)?)), 9),
                0xF0 => (integer_text(read_le(take(position + 1, 3)?)), 4),
                0xFE => (integer_text(read_le(take(position + 1, 1)?)), 2),
                0xF1..=0xFD => (integer_text(i64::from(encoding & 0x0f) - 1), 1),
                _ => return Err(CORRUPT_ZIPLIST),
            },
        };
        elements.push(element);
        position += size;
    }
    Ok(elements)
}

/// The members of an intset (`intset.c`).
pub(crate) fn intset_elements(blob: &[u8]) -> Result<Vec<Bytes>, RdbError> {
    if blob.len() < 8 {
        return Err(CORRUPT_INTSET);
    }
    let width = u32::from_le_bytes([blob[0], blob[1], blob[2], blob[3]]) as usize;
    let count = u32::from_le_bytes([blob[4], blob[5], blob[6], blob[7]]) as usize;
    if !matches!(width, 2 | 4 | 8) || blob.len() != 8 + width * count {
        return Err(CORRUPT_INTSET);
    }
    Ok(blob[8..]
        .chunks_exact(width)
        .map(|chunk| integer_text(read_le(chunk)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    // A listpack with a 7-bit uint, a 13-bit negative int, a short string
    // and an int16 decodes to their texts.
    #[test]
    fn listpack_entries_of_each_small_encoding() {
        let mut entries: Vec<u8> = Vec::new();
        entries.extend_from_slice(&[0x05, 0x01]); // 5
        entries.extend_from_slice(&[0xDF, 0xFF, 0x02]); // 13-bit -1
        entries.extend_from_slice(&[0x83, b'a', b'b', b'c', 0x04]); // "abc"
        entries.extend_from_slice(&[0xF1, 0x10, 0x27, 0x03]); // 10000
        let mut blob = Vec::new();
        let total = (6 + entries.len() + 1) as u32;
        blob.extend_from_slice(&total.to_le_bytes());
        blob.extend_from_slice(&4u16.to_le_bytes());
        blob.extend_from_slice(&entries);
        blob.push(0xFF);
        let elements = listpack_elements(&blob).expect("valid listpack");
        let texts: Vec<&[u8]> = elements.iter().map(|e| e.as_ref()).collect();
        assert_eq!(texts, vec![&b"5"[..], b"-1", b"abc", b"10000"]);
    }

    // A literal run followed by an overlapping back reference expands as
    // LZF defines it; a reference before the start is an error, not a panic.
    #[test]
    fn lzf_expands_back_references_and_refuses_bad_ones() {
        // "ab" literal, then copy 4 bytes from distance 2: "ababab".
        let input = [0x01, b'a', b'b', 0x40, 0x01];
        assert_eq!(lzf_decompress(&input, 6).expect("valid"), b"ababab");
        assert!(lzf_decompress(&[0x40, 0x05], 3).is_err());
        assert!(lzf_decompress(&input, 7).is_err());
    }

    // An intset of int16 members decodes, a length that disagrees with
    // the blob is refused.
    #[test]
    fn intset_members_and_length_check() {
        let mut blob = Vec::new();
        blob.extend_from_slice(&2u32.to_le_bytes());
        blob.extend_from_slice(&2u32.to_le_bytes());
        blob.extend_from_slice(&(-3i16).to_le_bytes());
        blob.extend_from_slice(&300i16.to_le_bytes());
        let members = intset_elements(&blob).expect("valid intset");
        assert_eq!(members, vec![Bytes::from("-3"), Bytes::from("300")]);
        assert!(intset_elements(&blob[..blob.len() - 1]).is_err());
    }
}
