//! The RDB snapshot format of Redis 7.0 (version 10).
//!
//! [`RdbWriter`] writes what Petrel holds with the plain encodings every
//! Redis since 2.x loads (strings with integer encoding, lists, sets, sorted
//! sets with binary scores, hashes), millisecond expiries, AUX fields, and
//! the EOF opcode with Redis's CRC-64 (Jones polynomial, reflected). The
//! same value encoding, followed by the version and a checksum, is the
//! payload of DUMP/RESTORE ([`dump_payload`]).
//!
//! [`RdbReader`] reads what a real Redis 7.0 writes: the plain encodings
//! above, LZF-compressed strings, and the compact encodings (listpack hashes,
//! sorted sets and sets, quicklist lists with ziplist or listpack nodes,
//! intsets, ziplist hashes, sorted sets and lists). Streams and module
//! values have no Petrel type and are refused with a typed error.
//!
//! Nothing here does I/O: the writer fills a buffer the caller drains, the
//! reader walks a byte slice.

mod compact;
mod read;
mod write;

pub use read::{restore_value, RdbItem, RdbReader};
pub use write::{dump_payload, encode_entry, RdbWriter};

/// The version Petrel writes: Redis 7.0's.
pub const RDB_VERSION: u16 = 10;
/// The newest version the reader accepts (Redis 7.2 writes 11; its only
/// addition is the listpack set, which the reader knows).
pub const RDB_VERSION_MAX: u16 = 11;

/// Redis's CRC-64 (`crc64.c`: Jones polynomial, reflected, no final xor).
pub(crate) static CRC64: crc::Crc<u64> = crc::Crc::<u64>::new(&crc::CRC_64_REDIS);

/// Opcodes and value types of the format (`rdb.h`).
pub(crate) mod opcode {
    pub const FUNCTION2: u8 = 245;
    pub const FUNCTION_PRE_GA: u8 = 246;
    pub const MODULE_AUX: u8 = 247;
    pub const IDLE: u8 = 248;
    pub const FREQ: u8 = 249;
    pub const AUX: u8 = 250;
    pub const RESIZEDB: u8 = 251;
    pub const EXPIRETIME_MS: u8 = 252;
    pub const EXPIRETIME: u8 = 253;
    pub const SELECTDB: u8 = 254;
    pub const EOF: u8 = 255;
}

pub(crate) mod kind {
    pub const STRING: u8 = 0;
    pub const LIST: u8 = 1;
    pub const SET: u8 = 2;
    pub const ZSET: u8 = 3;
    pub const HASH: u8 = 4;
    pub const ZSET_2: u8 = 5;
    pub const HASH_ZIPLIST: u8 = 13;
    pub const LIST_ZIPLIST: u8 = 10;
    pub const SET_INTSET: u8 = 11;
    pub const ZSET_ZIPLIST: u8 = 12;
    pub const LIST_QUICKLIST: u8 = 14;
    pub const HASH_LISTPACK: u8 = 16;
    pub const ZSET_LISTPACK: u8 = 17;
    pub const LIST_QUICKLIST_2: u8 = 18;
    pub const SET_LISTPACK: u8 = 20;
}

/// Special string encodings (the top two bits of a length byte set).
pub(crate) mod encoding {
    pub const INT8: u8 = 0;
    pub const INT16: u8 = 1;
    pub const INT32: u8 = 2;
    pub const LZF: u8 = 3;
}

/// Why an RDB payload could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RdbError {
    #[error("not an RDB payload: it does not start with REDIS and a version")]
    BadMagic,
    #[error("RDB version {0} is not supported (this reader knows up to {RDB_VERSION_MAX})")]
    UnsupportedVersion(u16),
    #[error("the RDB payload ends early")]
    Truncated,
    #[error(
        "RDB checksum mismatch: the payload says {expected:016x}, its bytes give {computed:016x}"
    )]
    Checksum { expected: u64, computed: u64 },
    #[error("RDB value type {0} (a stream or a module value) has no Petrel type")]
    UnsupportedType(u8),
    #[error("RDB opcode {0} (module or function data) is not supported")]
    UnsupportedOpcode(u8),
    #[error("corrupt RDB payload: {0}")]
    Corrupt(&'static str),
}
