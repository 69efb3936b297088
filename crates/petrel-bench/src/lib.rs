//! petrel-bench: a memtier_benchmark-style load generator for
//! Redis-protocol servers, plain or TLS.
//!
//! It takes memtier's flags with memtier's defaults and meanings, prints
//! memtier's output (live progress on stderr, the "ALL STATS" table, the
//! latency distribution, JSON and HDR files), and drives the server from
//! one monoio runtime per thread, each running its connections as tasks
//! that pipeline requests as memtier does, so that the generator is never
//! the bottleneck of a comparison.
//!
//! Layout: `config` (flags), `workload` (what is sent, no I/O), `stats`
//! (what was measured, no I/O), `report` (formatting), `tls` (rustls client
//! configuration), `tls_session` (the TLS record layer, no I/O),
//! `transport` (plain and TLS byte streams over monoio), `client` (one
//! connection's request loop), `runner` (threads and the progress line).
//! It must not depend on any Petrel server crate (it uses `petrel-resp` for
//! the wire format, `petrel-iovec` for vectored writes and
//! `petrel-tls-record` for TLS send buffers, nothing else), so that it
//! measures Redis and Petrel the same way.

pub mod client;
pub mod config;
pub mod report;
pub mod runner;
pub mod stats;
pub mod tls;
pub mod tls_session;
pub mod transport;
pub mod workload;
