//! The value types beyond strings, one file each: their data structure,
//! memory accounting and OBJECT ENCODING. The commands that use them live in
//! `family/`.

pub mod hash;
pub mod list;
pub mod set;
pub mod zset;

pub use hash::HashValue;
pub use list::ListValue;
pub use set::SetValue;
pub use zset::ZSetValue;
