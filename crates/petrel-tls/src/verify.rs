//! The client-certificate verifier each database's rustls `ServerConfig`
//! uses, and the trust lists it reads.
//!
//! A client certificate is trusted when it is (1) exactly a certificate on
//! `authentication_ssl_client_certs`, (2) a chain webpki verifies to a CA
//! certificate on that list, or (3) exactly the node's syncer certificate or
//! a certificate on `authentication_ssl_crdt_certs` (these also earn the sync
//! role; see `role`). Lists are matched on the whole DER, never on names.
//!
//! The alert a refused peer sees (rustls maps the error to the alert):
//! - no certificate while enforcement is on: `certificate_required`;
//! - issued by a CA Petrel knows nothing of, or self-signed and not listed:
//!   `unknown_ca`;
//! - issued by the same CA as a pinned leaf but not itself listed (the CA is
//!   known by name, the certificate is not allowed): `access_denied`;
//! - outside its validity period (pinned or CA-signed): `certificate_expired`;
//! - CA-signed but without the clientAuth purpose: `unsupported_certificate`;
//! - a bad signature in the chain: `decrypt_error`; undecodable: `bad_certificate`.
//!
//! With enforcement off, a certificate that matches nothing is accepted and
//! its peer is an unauthenticated client; one that matches (pinned or
//! CA-signed) but is expired, not yet valid or otherwise broken is still
//! refused, because the peer asked to be someone it cannot prove to be.
//!
//! This module performs no I/O; rustls calls it during the handshake with the
//! time it read.

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, OtherError, SignatureScheme,
};
use rustls_pki_types::{CertificateDer, TrustAnchor, UnixTime};

use crate::certs::CertInfo;

/// One database's trusted certificates, built once per snapshot.
#[derive(Debug)]
pub(crate) struct TrustLists {
    /// Every certificate of `authentication_ssl_client_certs`, matched exactly.
    client_pins: Vec<CertInfo>,
    /// The CA certificates of `authentication_ssl_client_certs`.
    client_anchors: Vec<TrustAnchor<'static>>,
    /// The node's syncer certificate and `authentication_ssl_crdt_certs`,
    /// matched exactly; a match earns the sync role.
    syncer_pins: Vec<CertInfo>,
    /// Issuer names of pinned leaves: a stranger from one of these issuers
    /// is "not on the list" rather than "unknown".
    pinned_issuers: Vec<Vec<u8>>,
    /// Sent in CertificateRequest so clients holding several certificates
    /// pick one we may accept.
    hints: Vec<DistinguishedName>,
    enforced: bool,
}

impl TrustLists {
    pub(crate) fn new(
        client_certs: Vec<CertInfo>,
        syncer_certs: Vec<CertInfo>,
        enforced: bool,
    ) -> Self {
        let client_anchors = client_certs
            .iter()
            .filter(|cert| cert.is_ca())
            .filter_map(|cert| webpki::anchor_from_trusted_cert(cert.der()).ok())
            .map(|anchor| anchor.to_owned())
            .collect();
        let mut pinned_issuers: Vec<Vec<u8>> = Vec::new();
        let mut hint_names: Vec<Vec<u8>> = Vec::new();
        for cert in client_certs.iter().chain(&syncer_certs) {
            let issuer = cert.issuer_der().to_vec();
            if !pinned_issuers.contains(&issuer) {
                pinned_issuers.push(issuer.clone());
            }
            // A CA on the list is a hint by its own name; a leaf by its issuer's.
            let hint = if cert.is_ca() {
                cert.subject_der().to_vec()
            } else {
                issuer
            };
            if !hint_names.contains(&hint) {
                hint_names.push(hint);
            }
        }
        Self {
            client_pins: client_certs,
            client_anchors,
            syncer_pins: syncer_certs,
            pinned_issuers,
            hints: hint_names
                .into_iter()
                .map(DistinguishedName::from)
                .collect(),
            enforced,
        }
    }

    /// Whether there is anything at all to recognise a certificate by.
    pub(crate) fn is_empty(&self) -> bool {
        self.client_pins.is_empty() && self.syncer_pins.is_empty()
    }

    /// Whether `end_entity` is exactly a syncer certificate this database trusts.
    pub(crate) fn is_syncer(&self, end_entity: &CertificateDer<'_>) -> bool {
        self.syncer_pins
            .iter()
            .any(|pin| pin.der().as_ref() == end_entity.as_ref())
    }

    fn pinned(&self, end_entity: &CertificateDer<'_>) -> Option<&CertInfo> {
        self.client_pins
            .iter()
            .chain(&self.syncer_pins)
            .find(|pin| pin.der().as_ref() == end_entity.as_ref())
    }
}

/// The `ClientCertVerifier` of one database.
#[derive(Debug)]
pub(crate) struct PolicyVerifier {
    trust: Arc<TrustLists>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl PolicyVerifier {
    pub(crate) fn new(trust: Arc<TrustLists>, algorithms: WebPkiSupportedAlgorithms) -> Self {
        Self { trust, algorithms }
    }

    /// Whether this policy would accept `end_entity` (with `intermediates`)
    /// at `now`: the same decision a new handshake makes.
    pub(crate) fn accepts(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> bool {
        self.check(end_entity, intermediates, now).is_ok()
    }

    fn check(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<(), CertificateError> {
        let seconds = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
        if let Some(pin) = self.trust.pinned(end_entity) {
            return check_pinned_validity(pin, now, seconds);
        }
        let info = CertInfo::parse(end_entity.clone().into_owned())
            .map_err(|_| CertificateError::BadEncoding)?;
        let parsed = webpki::EndEntityCert::try_from(end_entity)
            .map_err(|_| CertificateError::BadEncoding)?;
        if !self.trust.client_anchors.is_empty() {
            // webpki checks the leaf's dates and purpose before its issuer, so
            // first ask only "does this chain lead to one of our CAs?", at a
            // moment the leaf is valid and for any purpose. An expired or
            // wrong-purpose certificate from a stranger is then a stranger.
            // Not `clamp`: a peer's certificate may have notBefore after notAfter.
            let inside_validity = seconds.min(info.not_after()).max(info.not_before());
            let probe = parsed.verify_for_usage(
                self.algorithms.all,
                &self.trust.client_anchors,
                intermediates,
                unix_time(inside_validity),
                AnyPurpose,
                None,
                None,
            );
            if !matches!(probe, Err(webpki::Error::UnknownIssuer)) {
                return parsed
                    .verify_for_usage(
                        self.algorithms.all,
                        &self.trust.client_anchors,
                        intermediates,
                        now,
                        webpki::KeyUsage::client_auth(),
                        None,
                        None,
                    )
                    .map(|_| ())
                    .map_err(certificate_error);
            }
        }
        if !self.trust.enforced {
            return Ok(());
        }
        if self
            .trust
            .pinned_issuers
            .iter()
            .any(|issuer| issuer.as_slice() == info.issuer_der())
        {
            // rustls sends access_denied for this error.
            Err(CertificateError::ApplicationVerificationFailure)
        } else {
            Err(CertificateError::UnknownIssuer)
        }
    }
}

impl ClientCertVerifier for PolicyVerifier {
    fn offer_client_auth(&self) -> bool {
        // With nothing to recognise and nothing required, asking for a
        // certificate would only make clients send one for nothing.
        self.trust.enforced || !self.trust.is_empty()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.trust.enforced
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.trust.hints
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.check(end_entity, intermediates, now)
            .map(|()| ClientCertVerified::assertion())
            .map_err(rustls::Error::InvalidCertificate)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Accepts every extended key usage: used only to ask whether a chain
/// leads to a trusted CA, never to accept a certificate.
struct AnyPurpose;

impl webpki::ExtendedKeyUsageValidator for AnyPurpose {
    fn validate(&self, _purposes: webpki::KeyPurposeIdIter<'_, '_>) -> Result<(), webpki::Error> {
        Ok(())
    }
}

fn unix_time(seconds: i64) -> UnixTime {
    UnixTime::since_unix_epoch(std::time::Duration::from_secs(
        seconds.max(0).unsigned_abs(),
    ))
}

fn check_pinned_validity(
    pin: &CertInfo,
    now: UnixTime,
    seconds: i64,
) -> Result<(), CertificateError> {
    if seconds > pin.not_after() {
        return Err(CertificateError::ExpiredContext {
            time: now,
            not_after: unix_time(pin.not_after()),
        });
    }
    if seconds < pin.not_before() {
        return Err(CertificateError::NotValidYetContext {
            time: now,
            not_before: unix_time(pin.not_before()),
        });
    }
    Ok(())
}

/// The rustls error (and so the alert) for a webpki path-building failure.
fn certificate_error(error: webpki::Error) -> CertificateError {
    use webpki::Error as E;
    match error {
        E::CertExpired { time, not_after } => CertificateError::ExpiredContext { time, not_after },
        E::CertNotValidYet { time, not_before } => {
            CertificateError::NotValidYetContext { time, not_before }
        }
        E::InvalidCertValidity => CertificateError::Expired,
        E::UnknownIssuer => CertificateError::UnknownIssuer,
        E::BadDer | E::BadDerTime | E::TrailingData(_) => CertificateError::BadEncoding,
        E::InvalidSignatureForPublicKey => CertificateError::BadSignature,
        E::RequiredEkuNotFoundContext(_) => CertificateError::InvalidPurpose,
        E::UnsupportedCriticalExtension => CertificateError::UnhandledCriticalExtension,
        other => CertificateError::Other(OtherError(Arc::new(other))),
    }
}
