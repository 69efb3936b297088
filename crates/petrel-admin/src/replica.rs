//! Checks of a database's `replica_sources` (Replica Of) before a change is
//! applied: the URI parses as the sync ring will parse it, certificates are
//! PEM that is valid now, a client key matches its certificate, and TLS has
//! what it needs to connect. Every refusal names the field.
//!
//! Pure: no I/O, and time enters as `now`.

use std::time::{SystemTime, UNIX_EPOCH};

use petrel_tls::certs::{parse_certificates, parse_private_key, CertInfo};
use petrel_tls::rustls::crypto::aws_lc_rs;
use petrel_tls::rustls::pki_types::ServerName;
use petrel_tls::rustls::sign::CertifiedKey;
use petrel_tls::rustls::{Error as RustlsError, InconsistentKeys};
use petrel_tls::{Problem, Scope, TlsConfigError};

use crate::error::ApiError;
use crate::model::ReplicaSource;

/// Validates `sources`; `node_has_syncer` says whether the node has a
/// syncer certificate to present when a source gives no `client_cert`.
pub(crate) fn validate(
    sources: &[ReplicaSource],
    node_has_syncer: bool,
    now: SystemTime,
) -> Result<(), ApiError> {
    if sources.len() > 1 {
        return Err(ApiError::invalid(
            "replica_sources",
            "at most one source is supported",
        ));
    }
    let now = now.duration_since(UNIX_EPOCH).map_or(0, |since| {
        i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
    });
    for (index, source) in sources.iter().enumerate() {
        let field = |name: &str| format!("replica_sources[{index}].{name}");
        petrel_sync::SourceUri::parse(&source.uri)
            .map_err(|reason| ApiError::invalid(&field("uri"), reason))?;
        match (&source.client_cert, &source.client_key) {
            (Some(_), None) => {
                return Err(ApiError::invalid(
                    &field("client_key"),
                    "required when client_cert is set",
                ))
            }
            (None, Some(_)) => {
                return Err(ApiError::invalid(
                    &field("client_cert"),
                    "required when client_key is set",
                ))
            }
            (Some(cert), Some(key)) => check_pair(cert, key, &field, now)?,
            (None, None) => {}
        }
        if let Some(server_cert) = &source.server_cert {
            certificates(server_cert, &field("server_cert"), now)?;
        }
        if let Some(sni) = &source.replication_tls_sni {
            ServerName::try_from(sni.as_str()).map_err(|error| {
                ApiError::invalid(&field("replication_tls_sni"), format!("{sni:?}: {error}"))
            })?;
        }
        if source.encryption {
            if source.server_cert.is_none() {
                return Err(ApiError::invalid(
                    &field("server_cert"),
                    "required when encryption is on (the source's certificate or its CA)",
                ));
            }
            if source.client_cert.is_none() && !node_has_syncer {
                return Err(ApiError::invalid(
                    &field("client_cert"),
                    "required when encryption is on and the node has no syncer certificate",
                ));
            }
        }
    }
    Ok(())
}

/// The API's answer to a certificate problem: 406 when expired, 400 else.
fn certificate_error(field: &str, problem: Problem) -> ApiError {
    let error = TlsConfigError {
        scope: Scope::Node,
        field: field.to_owned(),
        problem,
    };
    ApiError::from_tls(&error, &|_, field| field.to_owned())
}

/// The certificates in `pem`, each valid at `now`. PEM text only: the API
/// takes no paths.
fn certificates(pem: &str, field: &str, now: i64) -> Result<Vec<CertInfo>, ApiError> {
    let chain =
        parse_certificates(pem.as_bytes()).map_err(|problem| certificate_error(field, problem))?;
    for (index, cert) in chain.iter().enumerate() {
        cert.check_validity(now).map_err(|problem| {
            certificate_error(
                field,
                if index == 0 {
                    problem
                } else {
                    Problem::InChain {
                        position: index + 1,
                        problem: Box::new(problem),
                    }
                },
            )
        })?;
    }
    Ok(chain)
}

/// `client_cert` is a valid chain and `client_key` its leaf's key.
fn check_pair(
    cert: &str,
    key: &str,
    field: &dyn Fn(&str) -> String,
    now: i64,
) -> Result<(), ApiError> {
    let chain = certificates(cert, &field("client_cert"), now)?;
    let key_field = field("client_key");
    let key = parse_private_key(key.as_bytes())
        .map_err(|problem| certificate_error(&key_field, problem))?;
    let signing_key = aws_lc_rs::default_provider()
        .key_provider
        .load_private_key(key)
        .map_err(|error| {
            certificate_error(&key_field, Problem::UnparsableKey(error.to_string()))
        })?;
    let certified = CertifiedKey::new(
        chain.iter().map(|cert| cert.der().clone()).collect(),
        signing_key,
    );
    match certified.keys_match() {
        // rustls cannot compare some key types; the handshake will tell.
        Ok(()) | Err(RustlsError::InconsistentKeys(InconsistentKeys::Unknown)) => Ok(()),
        Err(RustlsError::InconsistentKeys(InconsistentKeys::KeyMismatch)) => {
            Err(certificate_error(
                &key_field,
                Problem::KeyMismatch {
                    cert_field: "client_cert",
                },
            ))
        }
        Err(other) => Err(certificate_error(
            &field("client_cert"),
            Problem::NotACertificate(other.to_string()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use petrel_tls::testing::{self, Profile, Validity};

    use super::*;

    fn plain(uri: &str) -> ReplicaSource {
        ReplicaSource {
            uri: uri.to_owned(),
            encryption: false,
            server_cert: None,
            client_cert: None,
            client_key: None,
            replication_tls_sni: None,
        }
    }

    fn refusal(sources: &[ReplicaSource], node_has_syncer: bool) -> ApiError {
        validate(sources, node_has_syncer, SystemTime::now()).expect_err("refused")
    }

    /// The URI forms Redis Enterprise takes are accepted; a bad one is a
    /// 400 naming `uri`, and a second source is refused.
    #[test]
    fn uri_and_source_count() {
        let now = SystemTime::now();
        validate(&[plain("redis://10.0.0.1:12000")], false, now).expect("plain uri");
        validate(&[plain("redis://:secret@db.example:6379")], false, now).expect("password");
        validate(&[], false, now).expect("no source");
        for bad in [
            "http://h:1",
            "redis://h",
            "redis://:1",
            "redis://h:0",
            "h:1",
        ] {
            let error = refusal(&[plain(bad)], false);
            assert_eq!((error.status, error.error_code), (400, "invalid_value"));
            assert!(
                error.description.starts_with("replica_sources[0].uri:"),
                "{bad}: {error}"
            );
        }
        let error = refusal(&[plain("redis://h:1"), plain("redis://h:2")], false);
        assert!(error.description.starts_with("replica_sources:"), "{error}");
        assert!(error.description.contains("at most one"), "{error}");
    }

    /// TLS needs the source's certificate to trust, and something to
    /// present: the source's own client pair or the node's syncer.
    #[test]
    fn encryption_needs_server_cert_and_an_identity() {
        let now = SystemTime::now();
        let ca = testing::ca("source ca", now).expect("ca");
        let mut source = plain("redis://127.0.0.1:7000");
        source.encryption = true;
        let error = refusal(&[source.clone()], true);
        assert!(
            error
                .description
                .starts_with("replica_sources[0].server_cert:"),
            "{error}"
        );
        source.server_cert = Some(ca.cert_pem());
        let error = refusal(&[source.clone()], false);
        assert!(
            error
                .description
                .starts_with("replica_sources[0].client_cert:"),
            "{error}"
        );
        validate(&[source.clone()], true, now).expect("node syncer presented");
        source.server_cert = Some("/etc/ca.pem".to_owned());
        let error = refusal(&[source], true);
        assert_eq!(
            (error.status, error.error_code),
            (400, "invalid_certificate")
        );
    }

    /// client_cert and client_key go together and must match; an expired
    /// server_cert is a 406, as the certificates endpoint answers.
    #[test]
    fn client_pair_and_expiry() {
        let now = SystemTime::now();
        let ca = testing::ca("ca", now).expect("ca");
        let client =
            testing::issue(&ca, "replica", Profile::Client, Validity::Current, now).expect("leaf");
        let other =
            testing::issue(&ca, "other", Profile::Client, Validity::Current, now).expect("leaf");
        let mut source = plain("redis://127.0.0.1:7000");
        source.client_cert = Some(client.cert_pem());
        let error = refusal(&[source.clone()], false);
        assert!(
            error
                .description
                .starts_with("replica_sources[0].client_key:"),
            "{error}"
        );
        source.client_key = Some(other.key_pem());
        let error = refusal(&[source.clone()], false);
        assert_eq!((error.status, error.error_code), (400, "key_mismatch"));
        source.client_key = Some(client.key_pem());
        validate(&[source.clone()], false, now).expect("matching pair");
        let mut only_key = plain("redis://127.0.0.1:7000");
        only_key.client_key = Some(client.key_pem());
        let error = refusal(&[only_key], false);
        assert!(
            error
                .description
                .starts_with("replica_sources[0].client_cert:"),
            "{error}"
        );

        let expired = testing::expired_client(&ca, now).expect("expired");
        source.server_cert = Some(expired.cert_pem());
        let error = refusal(&[source.clone()], false);
        assert_eq!(
            (error.status, error.error_code),
            (406, "certificate_expired")
        );
        assert!(
            error
                .description
                .starts_with("replica_sources[0].server_cert:"),
            "{error}"
        );
        // Valid later is not valid now either.
        source.server_cert = Some(ca.cert_pem());
        validate(&[source.clone()], false, now).expect("valid ca");
        let far_future = now + Duration::from_secs(200 * 365 * 24 * 3600);
        assert_eq!(
            validate(&[source], false, far_future)
                .expect_err("expired by then")
                .status,
            406
        );
    }

    /// An SNI that is not a DNS name or an IP address is refused.
    #[test]
    fn bad_sni_is_refused() {
        let mut source = plain("redis://127.0.0.1:7000");
        source.replication_tls_sni = Some("not a name!".to_owned());
        let error = refusal(&[source], false);
        assert!(
            error
                .description
                .starts_with("replica_sources[0].replication_tls_sni:"),
            "{error}"
        );
    }
}
