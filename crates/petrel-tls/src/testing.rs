//! Certificates for tests: a CA of one's own, certificates it signs, and
//! self-signed, expired or not-yet-valid ones, all in memory.
//!
//! Meant for this crate's tests and the engine's end-to-end tests; nothing
//! in the server calls it. Everything is relative to the `now` passed in.

use std::time::SystemTime;

use crate::generate::GenerateError;
pub use crate::generate::{GeneratedCert, Profile, Validity};

/// A self-signed CA valid around `now`.
pub fn ca(common_name: &str, now: SystemTime) -> Result<GeneratedCert, GenerateError> {
    GeneratedCert::new(common_name, Profile::Ca, Validity::Current, now, None)
}

/// A certificate signed by `issuer`.
pub fn issue(
    issuer: &GeneratedCert,
    common_name: &str,
    profile: Profile,
    validity: Validity,
    now: SystemTime,
) -> Result<GeneratedCert, GenerateError> {
    GeneratedCert::new(common_name, profile, validity, now, Some(issuer))
}

/// A self-signed certificate (not a CA unless `profile` is [`Profile::Ca`]).
pub fn self_signed(
    common_name: &str,
    profile: Profile,
    validity: Validity,
    now: SystemTime,
) -> Result<GeneratedCert, GenerateError> {
    GeneratedCert::new(common_name, profile, validity, now, None)
}

/// An expired client certificate signed by `issuer`.
pub fn expired_client(
    issuer: &GeneratedCert,
    now: SystemTime,
) -> Result<GeneratedCert, GenerateError> {
    issue(
        issuer,
        "expired client",
        Profile::Client,
        Validity::Expired,
        now,
    )
}

/// A client certificate signed by `issuer` that becomes valid tomorrow.
pub fn not_yet_valid_client(
    issuer: &GeneratedCert,
    now: SystemTime,
) -> Result<GeneratedCert, GenerateError> {
    issue(
        issuer,
        "future client",
        Profile::Client,
        Validity::NotYetValid,
        now,
    )
}
