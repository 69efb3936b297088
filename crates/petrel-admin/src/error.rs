//! The API's error answers: an HTTP status and a JSON body
//! `{"error_code": "...", "description": "..."}` whose description names
//! the field at fault, as Redis Enterprise answers.

use petrel_tls::{Problem, Scope, TlsConfigError};
use serde::Serialize;

/// A refused request. Nothing was changed when one is returned.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{status} {error_code}: {description}")]
pub struct ApiError {
    /// HTTP status code.
    pub status: u16,
    /// A stable machine-readable code.
    pub error_code: &'static str,
    /// A sentence for people, naming the field.
    pub description: String,
}

/// The JSON body of an error answer.
#[derive(Serialize)]
pub(crate) struct ErrorBody<'a> {
    pub error_code: &'a str,
    pub description: &'a str,
}

impl ApiError {
    pub fn new(status: u16, error_code: &'static str, description: impl Into<String>) -> Self {
        Self {
            status,
            error_code,
            description: description.into(),
        }
    }

    /// 400: a value that cannot be used.
    pub fn invalid(field: &str, reason: impl std::fmt::Display) -> Self {
        Self::new(400, "invalid_value", format!("{field}: {reason}"))
    }

    /// 400: the body does not fit the schema (unknown field, wrong type).
    pub fn schema(reason: impl std::fmt::Display) -> Self {
        Self::new(400, "invalid_schema", reason.to_string())
    }

    pub fn not_found(what: impl std::fmt::Display) -> Self {
        Self::new(404, "not_found", format!("{what} does not exist"))
    }

    /// 409: a port another database (or another process) holds.
    pub fn port_unavailable(field: &str, reason: impl std::fmt::Display) -> Self {
        Self::new(409, "port_unavailable", format!("{field}: {reason}"))
    }

    pub fn internal(reason: impl std::fmt::Display) -> Self {
        Self::new(500, "internal_error", reason.to_string())
    }

    /// Maps a TLS validation error onto the API's field names: an expired
    /// (or not yet valid) certificate is 406, anything else 400.
    pub fn from_tls(error: &TlsConfigError, field_names: &dyn Fn(&Scope, &str) -> String) -> Self {
        let field = field_names(&error.scope, &error.field);
        let expired = match &error.problem {
            Problem::Expired { .. } | Problem::NotYetValid { .. } => true,
            Problem::InChain { problem, .. } => {
                matches!(
                    **problem,
                    Problem::Expired { .. } | Problem::NotYetValid { .. }
                )
            }
            _ => false,
        };
        let description = format!("{field}: {}", error.problem);
        if expired {
            Self::new(406, "certificate_expired", description)
        } else {
            let code = match &error.problem {
                Problem::KeyMismatch { .. } => "key_mismatch",
                Problem::NoPem { .. }
                | Problem::BadPem(_)
                | Problem::NotACertificate(_)
                | Problem::UnparsableKey(_)
                | Problem::KeyUsage { .. }
                | Problem::InChain { .. }
                | Problem::Read { .. } => "invalid_certificate",
                _ => "invalid_value",
            };
            Self::new(400, code, description)
        }
    }
}
