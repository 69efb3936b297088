//! The TLS configuration model: the values operators write (with Redis
//! Enterprise's field names and strings) and the raw serde structs the config
//! loader embeds.
//!
//! Raw structs only carry what was written; nothing here reads files or
//! checks certificates. `TlsSnapshot::build` turns them into validated values
//! and reports every mistake as a typed error naming the field.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};

/// Handshake timeout used when `handshake_timeout_ms` is not set.
pub const DEFAULT_HANDSHAKE_TIMEOUT_MS: u64 = 10_000;

/// What a database's port speaks (`tls_mode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsMode {
    /// Plaintext only (`"disabled"`, the default).
    #[default]
    Disabled,
    /// Plaintext and TLS on the same port; sync traffic must use TLS with a
    /// syncer certificate (`"replica_ssl"`).
    ReplicaSsl,
    /// TLS for every connection (`"enabled"`).
    Enabled,
}

impl TlsMode {
    /// The config string for this mode.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disabled => "disabled",
            Self::ReplicaSsl => "replica_ssl",
            Self::Enabled => "enabled",
        }
    }

    /// Whether a connection that does not start with a TLS record is served.
    pub fn accepts_plaintext(self) -> bool {
        matches!(self, Self::Disabled | Self::ReplicaSsl)
    }

    /// Whether a connection that starts with a TLS record (0x16) is served.
    pub fn accepts_tls(self) -> bool {
        matches!(self, Self::ReplicaSsl | Self::Enabled)
    }
}

impl fmt::Display for TlsMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a TLS peer must present a trusted certificate
/// (`enforce_client_authentication`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuthentication {
    /// A certificate is mandatory and must be trusted (`"enabled"`, the default).
    #[default]
    Enabled,
    /// Any TLS peer may connect; a presented certificate is still checked so
    /// that syncer certificates are recognised (`"disabled"`).
    Disabled,
}

impl ClientAuthentication {
    /// The config string for this setting.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enabled => "enabled",
            Self::Disabled => "disabled",
        }
    }

    /// Whether a certificate is mandatory.
    pub fn is_enforced(self) -> bool {
        self == Self::Enabled
    }
}

impl fmt::Display for ClientAuthentication {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The lowest TLS version the data ports accept (`min_data_TLS_version`).
/// TLS 1.0 and 1.1 cannot be expressed.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub enum MinTlsVersion {
    /// TLS 1.2 and 1.3 (`"1.2"`, the default).
    #[default]
    #[serde(rename = "1.2")]
    V1_2,
    /// TLS 1.3 only (`"1.3"`).
    #[serde(rename = "1.3")]
    V1_3,
}

impl MinTlsVersion {
    /// The config string for this version.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V1_2 => "1.2",
            Self::V1_3 => "1.3",
        }
    }
}

impl fmt::Display for MinTlsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a `min_data_TLS_version` string was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseTlsVersionError {
    /// TLS 1.0 or 1.1 was asked for.
    #[error("TLS {0} is never allowed; use \"1.2\" or \"1.3\"")]
    Obsolete(String),
    /// Not a TLS version at all.
    #[error("{0:?} is not a TLS version; use \"1.2\" or \"1.3\"")]
    Invalid(String),
}

impl FromStr for MinTlsVersion {
    type Err = ParseTlsVersionError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let version = text.trim();
        let version = version
            .strip_prefix("TLSv")
            .or_else(|| version.strip_prefix("TLS"))
            .unwrap_or(version)
            .trim();
        match version {
            "1.2" | "1_2" => Ok(Self::V1_2),
            "1.3" | "1_3" => Ok(Self::V1_3),
            "1" | "1.0" | "1_0" | "1.1" | "1_1" => {
                Err(ParseTlsVersionError::Obsolete(if version.len() == 1 {
                    "1.0".into()
                } else {
                    version.replace('_', ".")
                }))
            }
            _ => Err(ParseTlsVersionError::Invalid(text.to_owned())),
        }
    }
}

/// Whether the record layer moves to the kernel after the handshake (`ktls`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KtlsMode {
    /// Use kTLS where the kernel and the suite allow it, otherwise stay on
    /// userspace rustls and count the reason (`"auto"`, the default).
    #[default]
    Auto,
    /// Refuse to start unless kTLS is available (`"required"`).
    Required,
    /// Always stay on userspace rustls (`"off"`).
    Off,
}

impl KtlsMode {
    /// The config string for this mode.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Required => "required",
            Self::Off => "off",
        }
    }
}

impl fmt::Display for KtlsMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Node-wide TLS settings as written under `[node.tls]`.
///
/// Every certificate or key field takes a file path (relative to the
/// config's directory) or the PEM text itself (anything starting with
/// `-----BEGIN`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawNodeTls {
    /// Certificate chain sent to clients, leaf first. Required as soon as
    /// one database has `tls_mode` other than `disabled`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy_cert: Option<String>,
    /// Private key of `proxy_cert`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy_key: Option<String>,
    /// Certificate chain sent on sync links; peers presenting it are trusted
    /// for sync commands.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub syncer_cert: Option<String>,
    /// Private key of `syncer_cert`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub syncer_key: Option<String>,
    /// `"1.2"` (default) or `"1.3"`; a bare TOML number (`1.2`) is accepted
    /// too. TLS 1.0 and 1.1 are refused at load.
    #[serde(
        rename = "min_data_TLS_version",
        deserialize_with = "string_or_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub min_data_tls_version: Option<String>,
    /// TLS 1.2 suites, colon separated, OpenSSL names
    /// (`ECDHE-RSA-AES256-GCM-SHA384`) or IANA/rustls names
    /// (`TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384`). AEAD suites only.
    /// Default: every TLS 1.2 suite the server supports.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_cipher_list: Option<String>,
    /// TLS 1.3 suites, colon separated (`TLS_AES_128_GCM_SHA256:...`).
    /// Default: all three.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_cipher_suites_tls_1_3: Option<String>,
    /// How long a handshake may take before the connection is closed.
    /// Default 10000.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handshake_timeout_ms: Option<u64>,
    /// `auto` (default), `required` or `off`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ktls: Option<KtlsMode>,
}

/// One entry of `authentication_ssl_client_certs` or
/// `authentication_ssl_crdt_certs`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClientCert {
    /// A path or PEM text holding one or more certificates.
    pub client_cert: String,
}

/// A database's TLS policy as written in its `[[databases]]` table.
///
/// Note for embedding: serde cannot combine `flatten` with
/// `deny_unknown_fields`, so a loader whose database table has other keys
/// declares these four fields itself (or nests them) and builds this value.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawDatabaseTls {
    /// `disabled` (default), `replica_ssl` or `enabled`.
    pub tls_mode: TlsMode,
    /// `enabled` (default) or `disabled`.
    pub enforce_client_authentication: ClientAuthentication,
    /// Trusted client certificates: a leaf is pinned exactly, a CA
    /// certificate trusts every certificate it signed.
    pub authentication_ssl_client_certs: Vec<RawClientCert>,
    /// Syncer certificates of participating clusters, pinned exactly and
    /// trusted for sync commands.
    pub authentication_ssl_crdt_certs: Vec<RawClientCert>,
}

/// Accepts `"1.2"`, `1.2` or `1` so that a TOML number is not a confusing
/// type error; validation happens later with a field-naming message.
fn string_or_number<'de, D>(deserializer: D) -> Result<Option<String>, D::Error>
where
    D: Deserializer<'de>,
{
    struct Visitor;

    impl serde::de::Visitor<'_> for Visitor {
        type Value = Option<String>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a TLS version such as \"1.2\" or \"1.3\"")
        }

        fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<Self::Value, E> {
            Ok(Some(value.to_owned()))
        }

        fn visit_f64<E: serde::de::Error>(self, value: f64) -> Result<Self::Value, E> {
            Ok(Some(format!("{value:.1}")))
        }

        fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<Self::Value, E> {
            Ok(Some(value.to_string()))
        }

        fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<Self::Value, E> {
            Ok(Some(value.to_string()))
        }
    }

    deserializer.deserialize_any(Visitor)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The version parser accepts the written forms and names TLS 1.0/1.1.
    #[test]
    fn tls_version_strings() {
        assert_eq!("1.2".parse::<MinTlsVersion>(), Ok(MinTlsVersion::V1_2));
        assert_eq!("TLSv1.3".parse::<MinTlsVersion>(), Ok(MinTlsVersion::V1_3));
        assert_eq!(
            "1.1".parse::<MinTlsVersion>().map_err(|e| e.to_string()),
            Err("TLS 1.1 is never allowed; use \"1.2\" or \"1.3\"".to_owned())
        );
        assert_eq!(
            "1".parse::<MinTlsVersion>(),
            Err(ParseTlsVersionError::Obsolete("1.0".into()))
        );
        assert!(matches!(
            "2.0".parse::<MinTlsVersion>(),
            Err(ParseTlsVersionError::Invalid(_))
        ));
    }

    /// Plaintext and TLS acceptance follow the table in the design.
    #[test]
    fn mode_acceptance() {
        assert!(TlsMode::Disabled.accepts_plaintext() && !TlsMode::Disabled.accepts_tls());
        assert!(TlsMode::ReplicaSsl.accepts_plaintext() && TlsMode::ReplicaSsl.accepts_tls());
        assert!(!TlsMode::Enabled.accepts_plaintext() && TlsMode::Enabled.accepts_tls());
    }
}
