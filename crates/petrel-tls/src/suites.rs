//! Cipher suite names: parsing `data_cipher_list` (TLS 1.2) and
//! `data_cipher_suites_tls_1_3` into the rustls suites they name.
//!
//! Both OpenSSL names (`ECDHE-RSA-AES256-GCM-SHA384`) and IANA names, which
//! are also rustls's (`TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384`), are accepted,
//! in any letter case, separated by `:`, `,` or spaces. Only AEAD suites
//! exist here; a CBC, RC4, 3DES or NULL suite is refused by name rather than
//! silently dropped.

use rustls::crypto::aws_lc_rs::cipher_suite as aws;
use rustls::SupportedCipherSuite;

use crate::error::Problem;

/// A TLS version's suite list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SuiteVersion {
    /// `data_cipher_list`.
    Tls12,
    /// `data_cipher_suites_tls_1_3`.
    Tls13,
}

impl SuiteVersion {
    fn field(self) -> &'static str {
        match self {
            Self::Tls12 => "data_cipher_list",
            Self::Tls13 => "data_cipher_suites_tls_1_3",
        }
    }

    fn number(self) -> &'static str {
        match self {
            Self::Tls12 => "1.2",
            Self::Tls13 => "1.3",
        }
    }
}

/// One supported suite and the names that select it; the first name is
/// the one shown to operators.
struct Known {
    suite: SupportedCipherSuite,
    version: SuiteVersion,
    names: &'static [&'static str],
}

/// In the server's default preference order (rustls's).
const KNOWN: &[Known] = &[
    Known {
        suite: aws::TLS13_AES_256_GCM_SHA384,
        version: SuiteVersion::Tls13,
        names: &["TLS_AES_256_GCM_SHA384", "TLS13_AES_256_GCM_SHA384"],
    },
    Known {
        suite: aws::TLS13_AES_128_GCM_SHA256,
        version: SuiteVersion::Tls13,
        names: &["TLS_AES_128_GCM_SHA256", "TLS13_AES_128_GCM_SHA256"],
    },
    Known {
        suite: aws::TLS13_CHACHA20_POLY1305_SHA256,
        version: SuiteVersion::Tls13,
        names: &[
            "TLS_CHACHA20_POLY1305_SHA256",
            "TLS13_CHACHA20_POLY1305_SHA256",
        ],
    },
    Known {
        suite: aws::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        version: SuiteVersion::Tls12,
        names: &[
            "ECDHE-ECDSA-AES256-GCM-SHA384",
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        ],
    },
    Known {
        suite: aws::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        version: SuiteVersion::Tls12,
        names: &[
            "ECDHE-ECDSA-AES128-GCM-SHA256",
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        ],
    },
    Known {
        suite: aws::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        version: SuiteVersion::Tls12,
        names: &[
            "ECDHE-ECDSA-CHACHA20-POLY1305",
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        ],
    },
    Known {
        suite: aws::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        version: SuiteVersion::Tls12,
        names: &[
            "ECDHE-RSA-AES256-GCM-SHA384",
            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        ],
    },
    Known {
        suite: aws::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        version: SuiteVersion::Tls12,
        names: &[
            "ECDHE-RSA-AES128-GCM-SHA256",
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        ],
    },
    Known {
        suite: aws::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        version: SuiteVersion::Tls12,
        names: &[
            "ECDHE-RSA-CHACHA20-POLY1305",
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        ],
    },
];

/// Every suite of `version`, in default preference order.
pub fn default_suites(version: SuiteVersion) -> Vec<SupportedCipherSuite> {
    KNOWN
        .iter()
        .filter(|known| known.version == version)
        .map(|known| known.suite)
        .collect()
}

/// The operator-facing name of a suite (OpenSSL's for TLS 1.2, IANA's for 1.3).
pub fn suite_name(suite: SupportedCipherSuite) -> &'static str {
    KNOWN
        .iter()
        .find(|known| known.suite.suite() == suite.suite())
        .map_or("unknown", |known| known.names[0])
}

/// Parses one list field. `None` (the field left out) means every suite of
/// the version; an empty list is an error.
pub fn parse_suite_list(
    text: Option<&str>,
    version: SuiteVersion,
) -> Result<Vec<SupportedCipherSuite>, Problem> {
    let Some(text) = text else {
        return Ok(default_suites(version));
    };
    let mut chosen: Vec<SupportedCipherSuite> = Vec::new();
    for name in text
        .split([':', ',', ' ', '\t', '\n'])
        .filter(|name| !name.is_empty())
    {
        let suite = parse_one(name, version)?;
        if !chosen
            .iter()
            .any(|already| already.suite() == suite.suite())
        {
            chosen.push(suite);
        }
    }
    if chosen.is_empty() {
        return Err(Problem::NoSuites);
    }
    Ok(chosen)
}

fn parse_one(name: &str, version: SuiteVersion) -> Result<SupportedCipherSuite, Problem> {
    let upper = name.to_ascii_uppercase();
    if let Some(known) = KNOWN
        .iter()
        .find(|known| known.names.contains(&upper.as_str()))
    {
        if known.version != version {
            let other = known.version;
            return Err(Problem::WrongVersionSuite {
                name: name.to_owned(),
                version: other.number(),
                field: other.field(),
            });
        }
        return Ok(known.suite);
    }
    let supported = || {
        KNOWN
            .iter()
            .filter(|known| known.version == version)
            .map(|known| known.names[0])
            .collect::<Vec<_>>()
            .join(":")
    };
    if is_cipher_string_keyword(name) {
        return Err(Problem::CipherString(name.to_owned()));
    }
    let aead = ["GCM", "CHACHA20", "POLY1305", "CCM"]
        .iter()
        .any(|token| upper.contains(token));
    let bulk_cipher = [
        "AES", "DES", "RC4", "RC2", "NULL", "CAMELLIA", "SEED", "IDEA", "ARIA", "CBC",
    ]
    .iter()
    .any(|token| upper.contains(token));
    if bulk_cipher && !aead {
        return Err(Problem::NonAeadSuite(name.to_owned()));
    }
    if aead {
        return Err(Problem::UnsupportedSuite {
            name: name.to_owned(),
            supported: supported(),
        });
    }
    Err(Problem::UnknownSuite {
        name: name.to_owned(),
        supported: supported(),
    })
}

/// OpenSSL cipher strings select suites by property, which would make the
/// effective list depend on the library; Petrel wants names.
fn is_cipher_string_keyword(name: &str) -> bool {
    const KEYWORDS: &[&str] = &[
        "DEFAULT",
        "ALL",
        "HIGH",
        "MEDIUM",
        "LOW",
        "COMPLEMENTOFALL",
        "COMPLEMENTOFDEFAULT",
        "EXPORT",
        "ENULL",
        "ANULL",
        "SECLEVEL",
        "@STRENGTH",
        "TLSV1.2",
        "TLSV1",
        "SSLV3",
        "AEAD",
        "ECDHE",
        "EECDH",
        "KECDHE",
        "AESGCM",
        "CHACHA20",
    ];
    name.starts_with(['!', '+', '-', '@'])
        || KEYWORDS
            .iter()
            .any(|keyword| name.eq_ignore_ascii_case(keyword))
        || name.to_ascii_uppercase().starts_with("@SECLEVEL")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(suites: &[SupportedCipherSuite]) -> Vec<&'static str> {
        suites.iter().map(|suite| suite_name(*suite)).collect()
    }

    /// OpenSSL and IANA spellings select the same suites, in the written order.
    #[test]
    fn both_spellings_and_order() {
        let suites = parse_suite_list(
            Some("ECDHE-RSA-AES256-GCM-SHA384:tls_ecdhe_ecdsa_with_aes_128_gcm_sha256, ECDHE-RSA-AES256-GCM-SHA384"),
            SuiteVersion::Tls12,
        )
        .expect("valid list");
        assert_eq!(
            names(&suites),
            [
                "ECDHE-RSA-AES256-GCM-SHA384",
                "ECDHE-ECDSA-AES128-GCM-SHA256"
            ]
        );
        let suites = parse_suite_list(Some("TLS_CHACHA20_POLY1305_SHA256"), SuiteVersion::Tls13)
            .expect("valid");
        assert_eq!(names(&suites), ["TLS_CHACHA20_POLY1305_SHA256"]);
        assert_eq!(
            parse_suite_list(None, SuiteVersion::Tls13)
                .map(|s| s.len())
                .ok(),
            Some(3)
        );
        assert_eq!(
            parse_suite_list(None, SuiteVersion::Tls12)
                .map(|s| s.len())
                .ok(),
            Some(6)
        );
    }

    /// Each kind of bad name gets its own reason.
    #[test]
    fn refusals() {
        let reason = |text, version| {
            parse_suite_list(Some(text), version)
                .map(|_| ())
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            reason("ECDHE-RSA-AES256-SHA384", SuiteVersion::Tls12),
            "ECDHE-RSA-AES256-SHA384 is not an AEAD cipher suite; only AES-GCM and ChaCha20-Poly1305 suites are allowed"
        );
        assert!(reason("TLS_RSA_WITH_AES_128_CBC_SHA", SuiteVersion::Tls12).contains("not an AEAD"));
        assert!(reason("DES-CBC3-SHA", SuiteVersion::Tls12).contains("not an AEAD"));
        assert!(reason("DHE-RSA-AES256-GCM-SHA384", SuiteVersion::Tls12).starts_with("cipher suite DHE-RSA-AES256-GCM-SHA384 is not supported; supported: ECDHE-ECDSA-AES256-GCM-SHA384:"));
        assert!(reason("TLS_AES_128_CCM_SHA256", SuiteVersion::Tls13).contains("is not supported"));
        assert!(reason("BOGUS", SuiteVersion::Tls13)
            .starts_with("unknown cipher suite \"BOGUS\"; supported: TLS_AES_256_GCM_SHA384:"));
        assert_eq!(
            reason("TLS_AES_128_GCM_SHA256", SuiteVersion::Tls12),
            "TLS_AES_128_GCM_SHA256 is a TLS 1.3 suite; list it in data_cipher_suites_tls_1_3"
        );
        assert_eq!(
            reason("ECDHE-RSA-AES128-GCM-SHA256", SuiteVersion::Tls13),
            "ECDHE-RSA-AES128-GCM-SHA256 is a TLS 1.2 suite; list it in data_cipher_list"
        );
        assert!(reason("HIGH:!aNULL", SuiteVersion::Tls12).contains("cipher-string keyword"));
        assert!(reason(" : ", SuiteVersion::Tls12).contains("lists no cipher suites"));
    }
}
