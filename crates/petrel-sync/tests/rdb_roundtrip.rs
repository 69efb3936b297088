//! The RDB writer and reader agree with each other for every type, and the
//! reader refuses damaged payloads instead of returning wrong data.

mod common;

use bytes::Bytes;
use common::canonical_of_value;
use petrel_store::keyspace::StringValue;
use petrel_store::types::{HashValue, ListValue, SetValue, ZSetValue};
use petrel_store::{Entry, Value};
use petrel_sync::rdb::{dump_payload, restore_value};
use petrel_sync::{RdbError, RdbItem, RdbReader, RdbWriter};

fn values() -> Vec<(&'static str, Entry)> {
    let string = |text: &[u8]| Value::String(StringValue::from_owned(text.to_vec()));
    let list: ListValue = ["x", "42", "", "-1"]
        .iter()
        .map(|e| Bytes::from(*e))
        .collect();
    let set: SetValue = ["m1", "2", "m3"].iter().map(|e| Bytes::from(*e)).collect();
    let mut hash = HashValue::default();
    hash.insert(&Bytes::from("field"), &Bytes::from("value"));
    hash.insert(&Bytes::from("n"), &Bytes::from("99"));
    let mut zset = ZSetValue::new();
    zset.insert(Bytes::from("low"), f64::NEG_INFINITY);
    zset.insert(Bytes::from("mid"), 0.3);
    zset.insert(Bytes::from("high"), 7.0);
    vec![
        ("text", Entry::new(string(b"plain text"))),
        ("empty", Entry::new(string(b""))),
        ("i8", Entry::new(string(b"-128"))),
        ("i16", Entry::new(string(b"32767"))),
        ("i32", Entry::new(string(b"-2147483648"))),
        ("i64", Entry::new(string(b"9223372036854775807"))),
        ("leading-zero", Entry::new(string(b"0123"))),
        ("binary", Entry::new(string(&[0, 255, b'\r', b'\n']))),
        ("long", Entry::new(string(&[b'q'; 20_000]))),
        ("list", Entry::new(Value::List(list))),
        ("set", Entry::new(Value::Set(set))),
        ("hash", Entry::new(Value::Hash(hash))),
        ("zset", Entry::new(Value::ZSet(zset))),
        (
            "deadline",
            Entry {
                value: string(b"v"),
                expires_at_ms: Some(1_700_000_000_123),
            },
        ),
    ]
}

fn write(entries: &[(&str, Entry)]) -> Vec<u8> {
    let mut writer = RdbWriter::new();
    writer.aux(b"repl-id", b"0123456789012345678901234567890123456789");
    writer.select_db(0, entries.len() as u64, 1);
    let mut payload = writer.take();
    for (key, entry) in entries {
        writer.entry(key.as_bytes(), entry);
    }
    payload.extend(writer.finish());
    payload
}

// Each type written and read back is equal, deadline included, in order,
// after the AUX field and the database selection.
#[test]
fn every_type_round_trips() {
    let entries = values();
    let payload = write(&entries);
    assert!(payload.starts_with(b"REDIS0010"));
    let mut reader = RdbReader::new(&payload).expect("header");
    assert_eq!(
        reader.next_item().expect("aux"),
        Some(RdbItem::Aux {
            key: Bytes::from("repl-id"),
            value: Bytes::from("0123456789012345678901234567890123456789")
        })
    );
    assert_eq!(
        reader.next_item().expect("select"),
        Some(RdbItem::SelectDb(0))
    );
    for (key, entry) in &entries {
        let Some(RdbItem::Entry {
            db,
            key: read_key,
            entry: read,
        }) = reader.next_item().expect("entry")
        else {
            panic!("expected an entry for {key}");
        };
        assert_eq!((db, read_key.as_ref()), (0, key.as_bytes()));
        assert_eq!(
            canonical_of_value(&read.value),
            canonical_of_value(&entry.value),
            "{key}"
        );
        assert_eq!(read.expires_at_ms, entry.expires_at_ms, "{key}");
    }
    assert_eq!(reader.next_item().expect("eof"), None);
    assert_eq!(reader.consumed(), payload.len());
}

// A flipped bit in the body fails the checksum; a cut payload is
// truncated; a foreign header is not an RDB; a newer version is refused.
#[test]
fn damaged_payloads_are_refused() {
    let payload = write(&values());
    let mut flipped = payload.clone();
    flipped[40] ^= 0x01;
    let mut reader = RdbReader::new(&flipped).expect("header");
    let error = loop {
        match reader.next_item() {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("a damaged payload read to the end"),
            Err(error) => break error,
        }
    };
    assert!(
        matches!(error, RdbError::Checksum { .. } | RdbError::Corrupt(_)),
        "{error}"
    );

    let cut = &payload[..payload.len() - 30];
    let mut reader = RdbReader::new(cut).expect("header");
    let error = loop {
        match reader.next_item() {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("a cut payload read to the end"),
            Err(error) => break error,
        }
    };
    assert_eq!(error, RdbError::Truncated);
    assert_eq!(RdbReader::new(b"HELLO0010").err(), Some(RdbError::BadMagic));
    assert_eq!(
        RdbReader::new(b"REDIS0012").err(),
        Some(RdbError::UnsupportedVersion(12))
    );
}

// DUMP payloads of every type decode to the same value, and a damaged one
// is refused.
#[test]
fn dump_payloads_round_trip() {
    for (key, entry) in values() {
        let payload = dump_payload(&entry.value);
        let value = restore_value(&payload).expect("decodes");
        assert_eq!(
            canonical_of_value(&value),
            canonical_of_value(&entry.value),
            "{key}"
        );
        let mut damaged = payload.clone();
        damaged[1] ^= 0x20;
        assert!(restore_value(&damaged).is_err(), "{key}");
    }
}
