//! A development PKI made with rcgen: a CA, a proxy certificate for
//! localhost, a syncer certificate and two client certificates, written with
//! the file names `petrel certs generate --out DIR` promises.
//!
//! Keys are ECDSA P-256 in PKCS#8 PEM, which rustls, OpenSSL (redis-cli) and
//! the kernel's TLS all take. Key files are created with mode 0600. Nothing
//! is overwritten unless the caller asks. This module writes files but opens
//! no socket; only [`generate_dev_pki`], the command-line entry, reads the
//! clock.

use std::fmt;
use std::fs::{self, OpenOptions, Permissions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// The files [`generate_dev_pki`] writes, in order.
pub const DEV_PKI_FILES: [&str; 10] = [
    "ca.pem",
    "ca.key",
    "proxy.pem",
    "proxy.key",
    "syncer.pem",
    "syncer.key",
    "client1.pem",
    "client1.key",
    "client2.pem",
    "client2.key",
];

const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86_400);
/// Leaf certificates of the development PKI live two years, the CA ten.
const LEAF_LIFETIME: Duration = Duration::from_secs(730 * 86_400);
const CA_LIFETIME: Duration = Duration::from_secs(3650 * 86_400);

/// Why a PKI could not be generated or written.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// Some target files exist and overwriting was not asked for.
    #[error("refusing to overwrite {}; pass overwrite to replace them", list(.0))]
    Exists(Vec<PathBuf>),
    /// A file or directory could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The path.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// rcgen refused the parameters.
    #[error("cannot make a certificate: {0}")]
    Certificate(#[from] rcgen::Error),
}

/// What a generated certificate is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// A CA: basicConstraints CA, keyCertSign and cRLSign.
    Ca,
    /// A TLS server for localhost, 127.0.0.1 and ::1 (EKU serverAuth).
    Server,
    /// A TLS client (EKU clientAuth).
    Client,
    /// Both ends of a sync link (EKU serverAuth and clientAuth), for localhost.
    Syncer,
    /// A server certificate whose key usage is keyEncipherment only.
    KeyEnciphermentOnly,
    /// A leaf whose key usage is keyCertSign only.
    CertSignOnly,
}

/// The validity period of a generated certificate, relative to `now`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validity {
    /// From an hour ago (clock skew) for two years, ten for a CA.
    Current,
    /// Ended yesterday.
    Expired,
    /// Starts tomorrow.
    NotYetValid,
    /// Exactly this window.
    Between {
        /// notBefore.
        not_before: SystemTime,
        /// notAfter.
        not_after: SystemTime,
    },
}

/// A certificate with its key pair; it can sign others when it is a CA.
pub struct GeneratedCert {
    params: CertificateParams,
    key: KeyPair,
    cert: rcgen::Certificate,
}

impl GeneratedCert {
    /// Makes a certificate, signed by `issuer` or self-signed.
    pub fn new(
        common_name: &str,
        profile: Profile,
        validity: Validity,
        now: SystemTime,
        issuer: Option<&GeneratedCert>,
    ) -> Result<Self, GenerateError> {
        let params = params_for(common_name, profile, validity, now)?;
        let key = KeyPair::generate()?;
        let cert = match issuer {
            Some(issuer) => {
                params.signed_by(&key, &Issuer::from_params(&issuer.params, &issuer.key))?
            }
            None => params.self_signed(&key)?,
        };
        Ok(Self { params, key, cert })
    }

    /// The certificate, PEM.
    pub fn cert_pem(&self) -> String {
        self.cert.pem()
    }

    /// The private key, PKCS#8 PEM.
    pub fn key_pem(&self) -> String {
        self.key.serialize_pem()
    }

    /// The certificate, DER.
    pub fn cert_der(&self) -> CertificateDer<'static> {
        self.cert.der().clone()
    }

    /// The private key, DER.
    pub fn key_der(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.serialize_der()))
    }
}

impl fmt::Debug for GeneratedCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeneratedCert")
            .field(
                "subject",
                &self.params.distinguished_name.get(&DnType::CommonName),
            )
            .field("not_after", &self.params.not_after)
            .finish_non_exhaustive()
    }
}

/// A complete development PKI in memory.
#[derive(Debug)]
pub struct DevPki {
    /// The CA that signed the others.
    pub ca: GeneratedCert,
    /// Served to clients: localhost, 127.0.0.1, ::1.
    pub proxy: GeneratedCert,
    /// Sent on sync links.
    pub syncer: GeneratedCert,
    /// A client certificate.
    pub client1: GeneratedCert,
    /// Another client certificate.
    pub client2: GeneratedCert,
}

impl DevPki {
    /// Generates every certificate, valid from an hour before `now`.
    pub fn generate(now: SystemTime) -> Result<Self, GenerateError> {
        let ca = GeneratedCert::new(
            "Petrel development CA",
            Profile::Ca,
            Validity::Current,
            now,
            None,
        )?;
        let issue =
            |name, profile| GeneratedCert::new(name, profile, Validity::Current, now, Some(&ca));
        let proxy = issue("localhost", Profile::Server)?;
        let syncer = issue("petrel-syncer", Profile::Syncer)?;
        let client1 = issue("client1", Profile::Client)?;
        let client2 = issue("client2", Profile::Client)?;
        Ok(Self {
            ca,
            proxy,
            syncer,
            client1,
            client2,
        })
    }

    /// The files' names and contents in [`DEV_PKI_FILES`] order, with whether
    /// each is secret.
    pub fn files(&self) -> Vec<(&'static str, String, bool)> {
        let pairs = [
            &self.ca,
            &self.proxy,
            &self.syncer,
            &self.client1,
            &self.client2,
        ];
        let mut files = Vec::with_capacity(DEV_PKI_FILES.len());
        for (index, cert) in pairs.into_iter().enumerate() {
            files.push((DEV_PKI_FILES[2 * index], cert.cert_pem(), false));
            files.push((DEV_PKI_FILES[2 * index + 1], cert.key_pem(), true));
        }
        files
    }

    /// Writes the files into `out_dir` (created if missing). Without
    /// `overwrite`, nothing is written when any of them exists.
    pub fn write(&self, out_dir: &Path, overwrite: bool) -> Result<Vec<PathBuf>, GenerateError> {
        fs::create_dir_all(out_dir).map_err(|source| GenerateError::Write {
            path: out_dir.to_owned(),
            source,
        })?;
        let files = self.files();
        if !overwrite {
            let existing: Vec<PathBuf> = files
                .iter()
                .map(|(name, _, _)| out_dir.join(name))
                .filter(|path| path.exists())
                .collect();
            if !existing.is_empty() {
                return Err(GenerateError::Exists(existing));
            }
        }
        let mut written = Vec::with_capacity(files.len());
        for (name, contents, secret) in files {
            let path = out_dir.join(name);
            write_file(&path, contents.as_bytes(), secret, overwrite).map_err(|source| {
                GenerateError::Write {
                    path: path.clone(),
                    source,
                }
            })?;
            written.push(path);
        }
        Ok(written)
    }
}

/// Writes a development PKI into `out_dir` and returns the paths written
/// (see [`DEV_PKI_FILES`]). Reads the clock: this is the command-line entry.
pub fn generate_dev_pki(out_dir: &Path, overwrite: bool) -> Result<Vec<PathBuf>, GenerateError> {
    DevPki::generate(SystemTime::now())?.write(out_dir, overwrite)
}

fn write_file(path: &Path, contents: &[u8], secret: bool, overwrite: bool) -> std::io::Result<()> {
    let mode = if secret { 0o600 } else { 0o644 };
    let mut options = OpenOptions::new();
    options.write(true).mode(mode);
    if overwrite {
        options.create(true).truncate(true);
    } else {
        // Another process may have created the file since the check.
        options.create_new(true);
    }
    let mut file = options.open(path)?;
    // An overwritten file keeps its old mode; a key must not stay readable.
    file.set_permissions(Permissions::from_mode(mode))?;
    file.write_all(contents)?;
    file.sync_all()
}

fn params_for(
    common_name: &str,
    profile: Profile,
    validity: Validity,
    now: SystemTime,
) -> Result<CertificateParams, GenerateError> {
    let localhost = || {
        vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "::1".to_owned(),
        ]
    };
    let names = match profile {
        Profile::Server | Profile::Syncer | Profile::KeyEnciphermentOnly => localhost(),
        Profile::Ca | Profile::Client | Profile::CertSignOnly => Vec::new(),
    };
    let mut params = CertificateParams::new(names)?;
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, common_name);
    name.push(DnType::OrganizationName, "Petrel development");
    params.distinguished_name = name;
    params.use_authority_key_identifier_extension = profile != Profile::Ca;

    let lifetime = if profile == Profile::Ca {
        CA_LIFETIME
    } else {
        LEAF_LIFETIME
    };
    let (not_before, not_after) = match validity {
        Validity::Current => (now - HOUR, now + lifetime),
        Validity::Expired => (now - 60 * DAY, now - DAY),
        Validity::NotYetValid => (now + DAY, now + 60 * DAY),
        Validity::Between {
            not_before,
            not_after,
        } => (not_before, not_after),
    };
    params.not_before = time::OffsetDateTime::from(not_before);
    params.not_after = time::OffsetDateTime::from(not_after);

    use ExtendedKeyUsagePurpose::{ClientAuth, ServerAuth};
    use KeyUsagePurpose::{CrlSign, DigitalSignature, KeyCertSign, KeyEncipherment};
    let (is_ca, key_usages, extended) = match profile {
        Profile::Ca => (
            IsCa::Ca(BasicConstraints::Unconstrained),
            vec![KeyCertSign, CrlSign, DigitalSignature],
            vec![],
        ),
        Profile::Server => (IsCa::ExplicitNoCa, vec![DigitalSignature], vec![ServerAuth]),
        Profile::Client => (IsCa::ExplicitNoCa, vec![DigitalSignature], vec![ClientAuth]),
        Profile::Syncer => (
            IsCa::ExplicitNoCa,
            vec![DigitalSignature],
            vec![ServerAuth, ClientAuth],
        ),
        Profile::KeyEnciphermentOnly => {
            (IsCa::ExplicitNoCa, vec![KeyEncipherment], vec![ServerAuth])
        }
        Profile::CertSignOnly => (IsCa::ExplicitNoCa, vec![KeyCertSign], vec![]),
    };
    params.is_ca = is_ca;
    params.key_usages = key_usages;
    params.extended_key_usages = extended;
    Ok(params)
}

fn list(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|path| path.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
