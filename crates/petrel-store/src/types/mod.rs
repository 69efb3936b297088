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

use bytes::Bytes;

use crate::keyspace::{Entry, Keyspace, Value};

/// The key holds a value of another type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrongType;

/// A value type that holds elements and disappears when the last one goes
/// (Redis deletes empty aggregates).
pub trait Collection: Default {
    /// This type inside `value`, if `value` is of this type.
    fn view(value: &mut Value) -> Option<&mut Self>;
    /// This type inside `value`, read-only.
    fn view_ref(value: &Value) -> Option<&Self>;
    fn into_value(self) -> Value;
    fn is_empty(&self) -> bool;
}

/// The collection at `key`: `Ok(None)` if there is none, [`WrongType`] if
/// the key holds another type. An expired key is reclaimed on the way.
pub fn get<'a, T: Collection>(
    keyspace: &'a mut Keyspace,
    key: &[u8],
    now_ms: u64,
) -> Result<Option<&'a T>, WrongType> {
    match keyspace.get(key, now_ms) {
        None => Ok(None),
        Some(entry) => T::view_ref(&entry.value).map(Some).ok_or(WrongType),
    }
}

/// Runs `change` on the collection at `key`, then deletes the key if the
/// collection ended up empty. With `create`, a missing key starts as an
/// empty collection, stored only if `change` left something in it.
/// `Ok(None)` when the key is missing and `create` is false.
pub fn update<T: Collection, R>(
    keyspace: &mut Keyspace,
    key: &[u8],
    now_ms: u64,
    create: bool,
    change: impl FnOnce(&mut T) -> R,
) -> Result<Option<R>, WrongType> {
    let mut change = Some(change);
    // A value of another type declines, so WRONGTYPE touches no watch.
    let outcome = keyspace.modify_if(key, now_ms, |value| {
        let collection = T::view(value)?;
        let change = change.take()?;
        let result = change(collection);
        Some((result, collection.is_empty()))
    });
    match outcome {
        Some(Some((result, emptied))) => {
            if emptied {
                keyspace.remove(key, now_ms);
            }
            Ok(Some(result))
        }
        Some(None) => Err(WrongType),
        None => match change.take().filter(|_| create) {
            None => Ok(None),
            Some(change) => {
                let mut collection = T::default();
                let result = change(&mut collection);
                if !collection.is_empty() {
                    keyspace.insert(
                        Bytes::copy_from_slice(key),
                        Entry::new(collection.into_value()),
                        now_ms,
                    );
                }
                Ok(Some(result))
            }
        },
    }
}

macro_rules! collection {
    ($type:ty, $variant:ident) => {
        impl Collection for $type {
            fn view(value: &mut Value) -> Option<&mut Self> {
                match value {
                    Value::$variant(inner) => Some(inner),
                    _ => None,
                }
            }

            fn view_ref(value: &Value) -> Option<&Self> {
                match value {
                    Value::$variant(inner) => Some(inner),
                    _ => None,
                }
            }

            fn into_value(self) -> Value {
                Value::$variant(self)
            }

            fn is_empty(&self) -> bool {
                <$type>::is_empty(self)
            }
        }
    };
}

collection!(HashValue, Hash);
collection!(ListValue, List);
collection!(SetValue, Set);
collection!(ZSetValue, ZSet);
