//! Petrel's data plane: the thin shell that moves bytes between sockets and
//! the I/O-free cores.
//!
//! This crate owns the threads (one pinned data thread per configured core,
//! each with its own monoio runtime on io_uring, or epoll where io_uring is
//! forbidden), the `SO_REUSEPORT` listeners, each connection's read and write
//! buffers, and the messages that carry a command to the shard that owns its
//! keys and its reply back. It is the only crate that knows monoio.
//!
//! It must not decide semantics: parsing and encoding belong to
//! `petrel-resp`, what a command does and how a cross-shard command is split
//! belong to `petrel-store`. No locks and no shared maps on the data path:
//! threads share only immutable configuration and a few atomic counters.

mod blocking;
pub mod config;
mod connection;
pub mod control;
mod node;
mod pipeline;
mod ring;
mod security;
mod shard_lock;
mod sync_feed;
mod sync_replica;
mod sync_ring;
mod sync_tls;
mod tls_session;
mod tls_stream;
mod transport;
mod worker;

pub use config::{Config, DatabaseConfig};
pub use control::{ApplyError, ControlHandle, DatabaseCounters, EngineStats};
pub use node::{start, NodeHandle, StartError};
