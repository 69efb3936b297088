//! Protocol errors of both parsers (server-side requests, client-side frames).
//!
//! The server-side variants carry Redis 7's exact wording so that
//! [`ProtocolError::reply_text`] can be sent to the peer unchanged before the
//! connection is closed. This module decides wording only; closing the
//! connection is the engine's job.

use thiserror::Error;

/// A peer sent bytes that are not valid RESP. After any of these the stream
/// position is unknown, so the connection must be closed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProtocolError {
    // --- Requests (server side); texts as Redis 7.0 sends them. ---
    /// `*<count>` is not a number, or is above the multibulk limit.
    #[error("Protocol error: invalid multibulk length")]
    InvalidMultibulkLength,
    /// `$<len>` is not a number, negative, or above `proto-max-bulk-len`.
    #[error("Protocol error: invalid bulk length")]
    InvalidBulkLength,
    /// An argument of a multibulk request did not start with `$`.
    #[error("Protocol error: expected '$', got '{}'", char::from(*.0))]
    ExpectedDollar(u8),
    /// An inline request line longer than the inline limit.
    #[error("Protocol error: too big inline request")]
    TooBigInlineRequest,
    /// The `*<count>` line has no CR within the inline limit.
    #[error("Protocol error: too big mbulk count string")]
    TooBigMultibulkCountString,
    /// A `$<len>` line has no CR within the inline limit.
    #[error("Protocol error: too big bulk count string")]
    TooBigBulkCountString,
    /// An inline request with an unterminated quote, or a closing quote not
    /// followed by a space.
    #[error("Protocol error: unbalanced quotes in request")]
    UnbalancedQuotes,
    /// An unauthenticated client announced more arguments than allowed
    /// before AUTH.
    #[error("Protocol error: unauthenticated multibulk length")]
    UnauthenticatedMultibulkLength,
    /// An unauthenticated client announced a bulk longer than allowed before
    /// AUTH.
    #[error("Protocol error: unauthenticated bulk length")]
    UnauthenticatedBulkLength,

    // --- Replies (client side). ---
    /// A frame started with a byte that is no RESP2/RESP3 type marker.
    #[error("Protocol error: invalid frame type byte {0:#04x}")]
    InvalidFrameType(u8),
    /// A length or integer field is not a valid number.
    #[error("Protocol error: invalid number in {0} frame")]
    InvalidNumber(&'static str),
    /// A frame's payload is not followed by CRLF.
    #[error("Protocol error: missing CRLF after {0} frame")]
    MissingCrlf(&'static str),
    /// A boolean, double, big number or verbatim payload is malformed.
    #[error("Protocol error: invalid {0} payload")]
    InvalidPayload(&'static str),
    /// RESP3 streamed strings and aggregates (`$?`, `*?`) are not supported;
    /// Redis never sends them.
    #[error("Protocol error: streamed RESP3 types are not supported")]
    StreamedUnsupported,
    /// Aggregates nested deeper than the parser allows.
    #[error("Protocol error: frame nested deeper than {0} levels")]
    TooDeep(usize),
}

impl ProtocolError {
    /// The error reply Redis 7 sends before closing the connection, without
    /// the leading `-` and trailing CRLF, e.g.
    /// `ERR Protocol error: invalid bulk length`.
    pub fn reply_text(&self) -> String {
        format!("ERR {self}")
    }
}
