//! The record of expired keys replication streams as DELs: both lazy and
//! active expiry are recorded, in order, only while recording is on.

use bytes::Bytes;
use petrel_store::keyspace::StringValue;
use petrel_store::{Entry, Keyspace, Value};

fn expiring(at_ms: u64) -> Entry {
    Entry {
        value: Value::String(StringValue::from_owned(b"v".to_vec())),
        expires_at_ms: Some(at_ms),
    }
}

// Off by default; once on, a lookup past the deadline (lazy) and the
// active cycle each record their key; taking the record empties it.
#[test]
fn lazy_and_active_expiry_are_recorded_while_on() {
    let mut keyspace = Keyspace::default();
    keyspace.insert(Bytes::from("early"), expiring(10), 0);
    keyspace.insert(Bytes::from("lazy"), expiring(20), 0);
    keyspace.insert(Bytes::from("active"), expiring(30), 0);
    assert_eq!(keyspace.expire_due(15, 10), 1);
    assert!(
        keyspace.take_expired().is_empty(),
        "recording is off by default"
    );

    keyspace.record_expired(true);
    assert!(keyspace.get(b"lazy", 25).is_none());
    assert_eq!(keyspace.expire_due(35, 10), 1);
    assert_eq!(
        keyspace.take_expired(),
        vec![Bytes::from("lazy"), Bytes::from("active")]
    );
    assert!(keyspace.take_expired().is_empty());

    keyspace.record_expired(false);
    keyspace.insert(Bytes::from("late"), expiring(40), 0);
    assert_eq!(keyspace.expire_due(45, 10), 1);
    assert!(keyspace.take_expired().is_empty());
}
