//! Replication ("sync"): the RDB snapshot format, the replication backlog,
//! and the Redis replication protocol's state machines for both ends.
//!
//! This crate owns: reading and writing RDB files as Redis 7.0 does (version
//! 10, readable by Redis 7.0 and readable from it, compact encodings
//! included) in [`rdb`]; the backlog of the command stream with its offsets
//! in [`backlog`]; the source side of a link (REPLCONF, PSYNC decisions, the
//! command stream with SELECT) in [`source`]; and the replica side (the
//! handshake, the RDB payload, the stream, ACKs) in [`replica`].
//!
//! It must not do I/O, start threads or read the clock: bytes come in and go
//! out through method calls, time enters as `now_ms`, randomness as an
//! argument. `petrel-engine` drives it on the sync ring.

#![forbid(unsafe_code)]

pub mod backlog;
pub mod rdb;
pub mod replica;
pub mod resp;
pub mod snapshot;
pub mod source;
pub mod uri;

pub use backlog::Backlog;
pub use rdb::{RdbError, RdbItem, RdbReader, RdbWriter};
pub use replica::{ReplicaConfig, ReplicaError, ReplicaEvent, ReplicaLink};
pub use source::{PsyncDecision, Replconf, ReplicaCapabilities, ReplicationSource, StreamFramer};
pub use uri::SourceUri;
