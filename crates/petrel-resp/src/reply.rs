use bytes::Bytes;

/// A reply value as a command produces it, independent of the protocol
/// version. The encoder decides how each variant looks on the wire in RESP2
/// (maps become flat arrays, doubles become bulk strings, ...) and RESP3.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `+OK`-style status line. Must not contain CR or LF.
    Simple(Bytes),
    /// `-ERR ...`-style error line, including its prefix word (`ERR`,
    /// `WRONGTYPE`, `NOPERM`, ...). Must not contain CR or LF.
    Error(Bytes),
    Integer(i64),
    Bulk(Bytes),
    /// The nil bulk string (`$-1` in RESP2, `_` in RESP3).
    Nil,
    /// The nil array (`*-1` in RESP2, `_` in RESP3), as BLPOP's timeout answers.
    NilArray,
    Array(Vec<Reply>),
    /// RESP3 map; RESP2 sends it as a flat array of key, value, key, value.
    Map(Vec<(Reply, Reply)>),
    /// Key-value pairs that RESP3 sends as an array of two-element arrays
    /// (ZRANGE WITHSCORES, HRANDFIELD WITHVALUES); RESP2 as a flat array.
    Pairs(Vec<(Reply, Reply)>),
    /// RESP3 set; RESP2 sends it as an array.
    Set(Vec<Reply>),
    /// RESP3 double; RESP2 sends it as a bulk string formatted as Redis does.
    Double(f64),
    /// RESP3 boolean; RESP2 sends it as the integer 1 or 0.
    Boolean(bool),
    /// RESP3 verbatim string with its three-letter format (`txt`, `mkd`);
    /// RESP2 sends it as a bulk string.
    Verbatim(&'static str, Bytes),
    /// RESP3 push message; RESP2 sends it as an array.
    Push(Vec<Reply>),
}

impl Reply {
    pub fn ok() -> Reply {
        Reply::Simple(Bytes::from_static(b"OK"))
    }

    pub fn simple(text: &'static str) -> Reply {
        Reply::Simple(Bytes::from_static(text.as_bytes()))
    }

    /// An error reply from a static text that already carries its prefix,
    /// e.g. `Reply::error("ERR syntax error")`.
    pub fn error(text: &'static str) -> Reply {
        Reply::Error(Bytes::from_static(text.as_bytes()))
    }

    /// An error reply built at run time, e.g. from a formatted message.
    pub fn error_owned(text: String) -> Reply {
        Reply::Error(Bytes::from(text))
    }

    pub fn bulk(data: impl Into<Bytes>) -> Reply {
        Reply::Bulk(data.into())
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }
}
