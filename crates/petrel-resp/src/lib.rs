//! RESP2 and RESP3 framing for Petrel.
//!
//! This crate owns the wire format and nothing else: the incremental request
//! parser (multibulk and inline commands, with Redis's limits and its exact
//! protocol error texts), a general frame parser for replies (used by clients
//! such as the load generator and the replication link), and the encoder that
//! turns a [`Reply`] into RESP2 or RESP3 bytes (into one buffer, or with big
//! values left where they are stored: [`WireBuffer`]).
//!
//! It must not do I/O, start threads, read clocks, or know about commands.

#![forbid(unsafe_code)]

mod encode;
mod error;
mod frame;
mod outgoing;
mod reply;
mod request;

pub use encode::{encode, encode_bulk};
pub use error::ProtocolError;
pub use frame::{encode_command, parse_frame, scan_frame, Frame, FrameSummary, FRAME_DEPTH_MAX};
pub use outgoing::{WireBuffer, SHARED_BULK_MIN_BYTES};
pub use reply::Reply;
pub use request::{Limits, RequestParser};
