//! Candidate states: every refusal names its field and leaves the state as
//! it was; valid changes produce exactly the asked-for state.

use std::time::SystemTime;

use petrel_tls::testing::{self, Profile, Validity};
use petrel_tls::{RawClientCert, TlsMode};

use crate::model::{
    BdbCreate, BdbUpdate, CertificateName, CertificateUpload, CertificatesUpdate, ClusterUpdate,
    ControlState,
};

fn create(name: &str, port: u16) -> BdbCreate {
    serde_json::from_value(serde_json::json!({"name": name, "port": port})).expect("valid body")
}

fn with_two_databases() -> ControlState {
    let state = ControlState::empty();
    let (state, first) = state.with_bdb_created(create("one", 7001)).expect("one");
    let (state, second) = state.with_bdb_created(create("two", 7002)).expect("two");
    assert_eq!((first, second), (1, 2));
    state.validate(SystemTime::now()).expect("valid");
    state
}

fn proxy_upload(now: SystemTime, validity: Validity) -> (CertificateUpload, String) {
    let ca = testing::ca("test ca", now).expect("ca");
    let proxy = testing::issue(&ca, "localhost", Profile::Server, validity, now).expect("proxy");
    (
        CertificateUpload {
            name: CertificateName::Proxy,
            certificate: proxy.cert_pem(),
            key: proxy.key_pem(),
        },
        ca.cert_pem(),
    )
}

/// A port or name another database holds is refused with 409, naming it.
#[test]
fn duplicate_port_and_name_are_conflicts() {
    let state = with_two_databases();
    let (candidate, _) = state
        .with_bdb_created(create("three", 7002))
        .expect("built");
    let error = candidate
        .validate(SystemTime::now())
        .expect_err("port taken");
    assert_eq!((error.status, error.error_code), (409, "port_unavailable"));
    assert!(error.description.starts_with("port:"), "{error}");
    let (candidate, _) = state.with_bdb_created(create("one", 7003)).expect("built");
    let error = candidate
        .validate(SystemTime::now())
        .expect_err("name taken");
    assert_eq!((error.status, error.error_code), (409, "name_taken"));
}

/// Updating or deleting a database that does not exist is a 404.
#[test]
fn unknown_uid_is_not_found() {
    let state = with_two_databases();
    assert_eq!(
        state
            .with_bdb_updated(9, BdbUpdate::default())
            .expect_err("missing")
            .status,
        404
    );
    assert_eq!(state.with_bdb_deleted(9).expect_err("missing").status, 404);
    let state = state.with_bdb_deleted(1).expect("deleted");
    assert_eq!(state.bdbs.len(), 1);
    assert_eq!(state.bdbs[0].name, "two");
}

/// TLS on a database without a proxy certificate names the missing field.
#[test]
fn tls_without_proxy_certificate_is_refused() {
    let state = with_two_databases();
    let update = BdbUpdate {
        tls_mode: Some(TlsMode::Enabled),
        enforce_client_authentication: Some(petrel_tls::ClientAuthentication::Disabled),
        ..BdbUpdate::default()
    };
    let candidate = state.with_bdb_updated(1, update).expect("built");
    let error = candidate
        .validate(SystemTime::now())
        .expect_err("no proxy cert");
    assert_eq!(error.status, 400);
    assert!(
        error
            .description
            .contains("certificates[proxy].certificate"),
        "{error}"
    );
}

/// An expired proxy certificate is 406; a key of another certificate 400.
#[test]
fn certificate_checks_map_to_status_codes() {
    let now = SystemTime::now();
    let state = with_two_databases();
    let (expired, _) = proxy_upload(now, Validity::Expired);
    let candidate = state
        .with_certificates(CertificatesUpdate {
            certificates: vec![expired],
        })
        .expect("built");
    let error = candidate.validate(now).expect_err("expired");
    assert_eq!(
        (error.status, error.error_code),
        (406, "certificate_expired")
    );

    let (mut mismatched, _) = proxy_upload(now, Validity::Current);
    let (other, _) = proxy_upload(now, Validity::Current);
    mismatched.key = other.key;
    let candidate = state
        .with_certificates(CertificatesUpdate {
            certificates: vec![mismatched],
        })
        .expect("built");
    let error = candidate.validate(now).expect_err("mismatch");
    assert_eq!((error.status, error.error_code), (400, "key_mismatch"));
    assert!(
        error.description.contains("certificates[proxy].key"),
        "{error}"
    );

    let (mut garbage, _) = proxy_upload(now, Validity::Current);
    garbage.certificate =
        "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n".into();
    let candidate = state
        .with_certificates(CertificatesUpdate {
            certificates: vec![garbage],
        })
        .expect("built");
    let error = candidate.validate(now).expect_err("garbage");
    assert_eq!(error.status, 400);
}

/// A valid proxy certificate and a trusted CA make TLS on a database valid.
#[test]
fn tls_with_certificates_is_valid() {
    let now = SystemTime::now();
    let state = with_two_databases();
    let (proxy, ca_pem) = proxy_upload(now, Validity::Current);
    let state = state
        .with_certificates(CertificatesUpdate {
            certificates: vec![proxy],
        })
        .expect("built");
    let update = BdbUpdate {
        tls_mode: Some(TlsMode::Enabled),
        authentication_ssl_client_certs: Some(vec![RawClientCert {
            client_cert: ca_pem,
        }]),
        ..BdbUpdate::default()
    };
    let state = state.with_bdb_updated(1, update).expect("built");
    state.validate(now).expect("valid");
    let desired = state.desired();
    assert_eq!(desired.databases[0].tls.tls_mode, TlsMode::Enabled);
    assert!(desired.node_tls.proxy_cert.is_some());
}

/// TLS 1.1 as a floor and an out-of-range timeout are refused by name.
#[test]
fn cluster_values_are_checked() {
    let state = with_two_databases();
    let error = state
        .with_cluster(ClusterUpdate {
            min_data_tls_version: Some("1.1".into()),
            ..ClusterUpdate::default()
        })
        .expect_err("obsolete");
    assert!(
        error.description.starts_with("min_data_TLS_version"),
        "{error}"
    );
    let candidate = state
        .with_cluster(ClusterUpdate {
            handshake_timeout_ms: Some(0),
            ..ClusterUpdate::default()
        })
        .expect("built");
    let error = candidate.validate(SystemTime::now()).expect_err("zero");
    assert!(
        error.description.starts_with("handshake_timeout_ms"),
        "{error}"
    );
    let candidate = state
        .with_cluster(ClusterUpdate {
            data_cipher_list: Some("RC4-SHA".into()),
            ..ClusterUpdate::default()
        })
        .expect("built");
    let error = candidate.validate(SystemTime::now()).expect_err("rc4");
    assert!(error.description.starts_with("data_cipher_list"), "{error}");
}

/// Unknown fields and wrong types are refused by the request types.
#[test]
fn request_bodies_refuse_unknown_fields() {
    let unknown = serde_json::from_value::<BdbUpdate>(serde_json::json!({"tls_mdoe": "enabled"}));
    assert!(unknown.expect_err("typo").to_string().contains("tls_mdoe"));
    let wrong =
        serde_json::from_value::<BdbCreate>(serde_json::json!({"name": "x", "port": "six"}));
    assert!(wrong.is_err());
}

/// Replica Of sources are set on create, replaced or cleared on update,
/// reach the data plane, and a bad one is refused naming its field.
#[test]
fn replica_sources_follow_create_and_update() {
    let now = SystemTime::now();
    let body = serde_json::json!({
        "name": "replica", "port": 7003,
        "replica_sources": [{"uri": "redis://:pw@127.0.0.1:7001"}]
    });
    let request: BdbCreate = serde_json::from_value(body).expect("valid body");
    let (state, uid) = with_two_databases()
        .with_bdb_created(request)
        .expect("created");
    state.validate(now).expect("valid");
    let spec = state
        .desired()
        .databases
        .into_iter()
        .find(|spec| spec.uid == uid)
        .expect("served");
    assert_eq!(spec.replica_sources.len(), 1);
    assert_eq!(spec.replica_sources[0].uri, "redis://:pw@127.0.0.1:7001");

    let bad: BdbUpdate = serde_json::from_value(serde_json::json!({
        "replica_sources": [{"uri": "redis://127.0.0.1"}]
    }))
    .expect("valid body");
    let error = state
        .with_bdb_updated(uid, bad)
        .expect("built")
        .validate(now)
        .expect_err("no port");
    assert!(
        error.description.starts_with("replica_sources[0].uri:"),
        "{error}"
    );

    let cleared: BdbUpdate =
        serde_json::from_value(serde_json::json!({"replica_sources": []})).expect("valid body");
    let state = state.with_bdb_updated(uid, cleared).expect("built");
    state.validate(now).expect("valid");
    assert!(state.bdb(uid).expect("kept").replica_sources.is_empty());

    let unknown = serde_json::from_value::<BdbUpdate>(serde_json::json!({
        "replica_sources": [{"uri": "redis://h:1", "compression": 3}]
    }));
    assert!(unknown.is_err(), "unknown source field accepted");
}

/// A state file written before `replica_sources` existed still loads.
#[test]
fn bdb_without_replica_sources_loads() {
    let mut state = with_two_databases();
    let mut value = serde_json::to_value(&state).expect("serialize");
    for bdb in value["bdbs"].as_array_mut().expect("bdbs") {
        bdb.as_object_mut()
            .expect("object")
            .remove("replica_sources");
    }
    let loaded: ControlState = serde_json::from_value(value).expect("old layout");
    state
        .bdbs
        .iter_mut()
        .for_each(|bdb| bdb.replica_sources.clear());
    assert_eq!(loaded, state);
}
