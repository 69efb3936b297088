//! The kernel's `tls12_crypto_info_*` structures (`include/uapi/linux/tls.h`) and
//! their construction from the traffic secrets rustls hands over.
//!
//! This module is pure: it builds byte layouts and never talks to the kernel
//! (`sys` does). It must not log or print key material: the `Debug` impls show
//! only the version, cipher and record sequence number.

use std::fmt;
use std::mem::{offset_of, size_of};

use rustls::{ConnectionTrafficSecrets, ProtocolVersion, SupportedCipherSuite};
use zeroize::Zeroize;

use crate::Unavailable;

/// `TLS_1_2_VERSION` in `linux/tls.h`.
pub const TLS_1_2_VERSION: u16 = 0x0303;
/// `TLS_1_3_VERSION` in `linux/tls.h`.
pub const TLS_1_3_VERSION: u16 = 0x0304;
/// `TLS_CIPHER_AES_GCM_128` in `linux/tls.h`.
pub const TLS_CIPHER_AES_GCM_128: u16 = 51;
/// `TLS_CIPHER_AES_GCM_256` in `linux/tls.h`.
pub const TLS_CIPHER_AES_GCM_256: u16 = 52;
/// `TLS_CIPHER_CHACHA20_POLY1305` in `linux/tls.h`.
pub const TLS_CIPHER_CHACHA20_POLY1305: u16 = 54;

/// The TLS versions the kernel's record layer speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TlsVersion {
    Tls12,
    Tls13,
}

impl TlsVersion {
    /// Every version, in the order `probe` tries them.
    pub const ALL: [TlsVersion; 2] = [TlsVersion::Tls12, TlsVersion::Tls13];

    /// The `version` field of `struct tls_crypto_info`.
    pub const fn wire(self) -> u16 {
        match self {
            TlsVersion::Tls12 => TLS_1_2_VERSION,
            TlsVersion::Tls13 => TLS_1_3_VERSION,
        }
    }

    /// The version rustls negotiated, if the kernel knows it.
    pub fn from_rustls(version: ProtocolVersion) -> Option<Self> {
        match version {
            ProtocolVersion::TLSv1_2 => Some(TlsVersion::Tls12),
            ProtocolVersion::TLSv1_3 => Some(TlsVersion::Tls13),
            _ => None,
        }
    }
}

impl fmt::Display for TlsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TlsVersion::Tls12 => "TLSv1.2",
            TlsVersion::Tls13 => "TLSv1.3",
        })
    }
}

/// The AEAD ciphers kernel TLS and rustls have in common.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cipher {
    Aes128Gcm,
    Aes256Gcm,
    Chacha20Poly1305,
}

impl Cipher {
    /// Every cipher, in the order `probe` tries them.
    pub const ALL: [Cipher; 3] = [
        Cipher::Aes128Gcm,
        Cipher::Aes256Gcm,
        Cipher::Chacha20Poly1305,
    ];

    /// The `cipher_type` field of `struct tls_crypto_info`.
    pub const fn wire(self) -> u16 {
        match self {
            Cipher::Aes128Gcm => TLS_CIPHER_AES_GCM_128,
            Cipher::Aes256Gcm => TLS_CIPHER_AES_GCM_256,
            Cipher::Chacha20Poly1305 => TLS_CIPHER_CHACHA20_POLY1305,
        }
    }

    /// The AEAD key length in bytes.
    pub const fn key_len(self) -> usize {
        match self {
            Cipher::Aes128Gcm => 16,
            Cipher::Aes256Gcm | Cipher::Chacha20Poly1305 => 32,
        }
    }

    /// The bulk cipher of a rustls suite, if kernel TLS has it.
    pub fn of_suite(suite: SupportedCipherSuite) -> Option<Self> {
        use rustls::CipherSuite as S;
        match suite.suite() {
            S::TLS13_AES_128_GCM_SHA256
            | S::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
            | S::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => Some(Cipher::Aes128Gcm),
            S::TLS13_AES_256_GCM_SHA384
            | S::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
            | S::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 => Some(Cipher::Aes256Gcm),
            S::TLS13_CHACHA20_POLY1305_SHA256
            | S::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
            | S::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 => Some(Cipher::Chacha20Poly1305),
            _ => None,
        }
    }
}

impl fmt::Display for Cipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Cipher::Aes128Gcm => "AES-128-GCM",
            Cipher::Aes256Gcm => "AES-256-GCM",
            Cipher::Chacha20Poly1305 => "CHACHA20-POLY1305",
        })
    }
}

/// `struct tls_crypto_info`: the header every crypto_info starts with.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TlsCryptoInfo {
    /// `TLS_1_2_VERSION` or `TLS_1_3_VERSION`, in host byte order.
    pub version: u16,
    /// `TLS_CIPHER_*`, in host byte order.
    pub cipher_type: u16,
}

/// `struct tls12_crypto_info_aes_gcm_128` (40 bytes, no padding).
#[repr(C)]
pub struct Aes128GcmInfo {
    pub info: TlsCryptoInfo,
    /// The 8-byte explicit nonce part (TLS 1.2) or the IV's last 8 bytes (TLS 1.3).
    pub iv: [u8; 8],
    pub key: [u8; 16],
    /// The IV's first 4 bytes (the implicit nonce part).
    pub salt: [u8; 4],
    /// The next record's sequence number, big-endian.
    pub rec_seq: [u8; 8],
}

/// `struct tls12_crypto_info_aes_gcm_256` (56 bytes, no padding).
#[repr(C)]
pub struct Aes256GcmInfo {
    pub info: TlsCryptoInfo,
    pub iv: [u8; 8],
    pub key: [u8; 32],
    pub salt: [u8; 4],
    pub rec_seq: [u8; 8],
}

/// `struct tls12_crypto_info_chacha20_poly1305` (56 bytes; the kernel's
/// `salt[0]` member takes no space).
#[repr(C)]
pub struct Chacha20Poly1305Info {
    pub info: TlsCryptoInfo,
    /// The whole 12-byte IV; the kernel XORs the sequence number into it.
    pub iv: [u8; 12],
    pub key: [u8; 32],
    pub rec_seq: [u8; 8],
}

// The kernel checks optlen against sizeof() of these structs exactly, and reads
// the fields at these offsets: a mismatch would fail with EINVAL at best.
const _: () = {
    assert!(size_of::<TlsCryptoInfo>() == 4);
    assert!(size_of::<Aes128GcmInfo>() == 40);
    assert!(offset_of!(Aes128GcmInfo, iv) == 4);
    assert!(offset_of!(Aes128GcmInfo, key) == 12);
    assert!(offset_of!(Aes128GcmInfo, salt) == 28);
    assert!(offset_of!(Aes128GcmInfo, rec_seq) == 32);
    assert!(size_of::<Aes256GcmInfo>() == 56);
    assert!(offset_of!(Aes256GcmInfo, iv) == 4);
    assert!(offset_of!(Aes256GcmInfo, key) == 12);
    assert!(offset_of!(Aes256GcmInfo, salt) == 44);
    assert!(offset_of!(Aes256GcmInfo, rec_seq) == 48);
    assert!(size_of::<Chacha20Poly1305Info>() == 56);
    assert!(offset_of!(Chacha20Poly1305Info, iv) == 4);
    assert!(offset_of!(Chacha20Poly1305Info, key) == 16);
    assert!(offset_of!(Chacha20Poly1305Info, rec_seq) == 48);
};

impl Drop for Aes128GcmInfo {
    fn drop(&mut self) {
        self.key.zeroize();
        self.iv.zeroize();
        self.salt.zeroize();
    }
}

impl Drop for Aes256GcmInfo {
    fn drop(&mut self) {
        self.key.zeroize();
        self.iv.zeroize();
        self.salt.zeroize();
    }
}

impl Drop for Chacha20Poly1305Info {
    fn drop(&mut self) {
        self.key.zeroize();
        self.iv.zeroize();
    }
}

/// The crypto state for one direction of one socket, in the kernel's layout.
pub enum CryptoInfo {
    Aes128Gcm(Aes128GcmInfo),
    Aes256Gcm(Aes256GcmInfo),
    Chacha20Poly1305(Chacha20Poly1305Info),
}

impl CryptoInfo {
    /// Builds the kernel state for one direction from the secrets rustls
    /// extracted and the sequence number of the next record in that direction.
    ///
    /// TLS 1.3 and ChaCha20-Poly1305 form each nonce as IV XOR sequence number,
    /// as rustls does, so the IV goes over unchanged. TLS 1.2 AES-GCM differs:
    /// the kernel sends the `iv` field as the explicit nonce of the next record
    /// and adds one per record, while rustls used IV XOR sequence number for
    /// the records it sent (the Finished message at least). Handing over the
    /// raw IV would make the kernel's first record reuse the nonce of rustls's
    /// first record under the same key. Starting at IV + sequence number
    /// instead keeps every later nonce above the ones already used, because
    /// `iv ^ s <= iv + s < iv + seq` for every `s < seq`.
    pub fn new(
        version: TlsVersion,
        seq: u64,
        secrets: &ConnectionTrafficSecrets,
    ) -> Result<Self, Unavailable> {
        let rec_seq = seq.to_be_bytes();
        let info = |cipher: Cipher| TlsCryptoInfo {
            version: version.wire(),
            cipher_type: cipher.wire(),
        };
        match secrets {
            ConnectionTrafficSecrets::Aes128Gcm { key, iv } => {
                let (salt, explicit) = split_gcm_iv(version, seq, iv.as_ref())?;
                Ok(CryptoInfo::Aes128Gcm(Aes128GcmInfo {
                    info: info(Cipher::Aes128Gcm),
                    iv: explicit,
                    key: fixed(Cipher::Aes128Gcm, key.as_ref())?,
                    salt,
                    rec_seq,
                }))
            }
            ConnectionTrafficSecrets::Aes256Gcm { key, iv } => {
                let (salt, explicit) = split_gcm_iv(version, seq, iv.as_ref())?;
                Ok(CryptoInfo::Aes256Gcm(Aes256GcmInfo {
                    info: info(Cipher::Aes256Gcm),
                    iv: explicit,
                    key: fixed(Cipher::Aes256Gcm, key.as_ref())?,
                    salt,
                    rec_seq,
                }))
            }
            ConnectionTrafficSecrets::Chacha20Poly1305 { key, iv } => {
                Ok(CryptoInfo::Chacha20Poly1305(Chacha20Poly1305Info {
                    info: info(Cipher::Chacha20Poly1305),
                    iv: iv.as_ref().try_into().map_err(|_| {
                        Unavailable::SecretsNotExtractable(format!(
                            "rustls gave a {}-byte IV for CHACHA20-POLY1305, expected 12",
                            iv.as_ref().len()
                        ))
                    })?,
                    key: fixed(Cipher::Chacha20Poly1305, key.as_ref())?,
                    rec_seq,
                }))
            }
            _ => Err(Unavailable::CipherNotSupported(format!(
                "rustls extracted secrets of a {version} cipher kernel TLS has no layout for"
            ))),
        }
    }

    /// Zeroed key material: what `probe` installs to ask the kernel whether it
    /// takes a version and cipher at all.
    pub fn zeroed(version: TlsVersion, cipher: Cipher) -> Self {
        let info = TlsCryptoInfo {
            version: version.wire(),
            cipher_type: cipher.wire(),
        };
        match cipher {
            Cipher::Aes128Gcm => CryptoInfo::Aes128Gcm(Aes128GcmInfo {
                info,
                iv: [0; 8],
                key: [0; 16],
                salt: [0; 4],
                rec_seq: [0; 8],
            }),
            Cipher::Aes256Gcm => CryptoInfo::Aes256Gcm(Aes256GcmInfo {
                info,
                iv: [0; 8],
                key: [0; 32],
                salt: [0; 4],
                rec_seq: [0; 8],
            }),
            Cipher::Chacha20Poly1305 => CryptoInfo::Chacha20Poly1305(Chacha20Poly1305Info {
                info,
                iv: [0; 12],
                key: [0; 32],
                rec_seq: [0; 8],
            }),
        }
    }

    /// The common header.
    pub fn header(&self) -> TlsCryptoInfo {
        match self {
            CryptoInfo::Aes128Gcm(c) => c.info,
            CryptoInfo::Aes256Gcm(c) => c.info,
            CryptoInfo::Chacha20Poly1305(c) => c.info,
        }
    }

    /// The cipher this state is for.
    pub fn cipher(&self) -> Cipher {
        match self {
            CryptoInfo::Aes128Gcm(_) => Cipher::Aes128Gcm,
            CryptoInfo::Aes256Gcm(_) => Cipher::Aes256Gcm,
            CryptoInfo::Chacha20Poly1305(_) => Cipher::Chacha20Poly1305,
        }
    }

    /// The sequence number of the next record, as the kernel will read it.
    pub fn rec_seq(&self) -> u64 {
        u64::from_be_bytes(match self {
            CryptoInfo::Aes128Gcm(c) => c.rec_seq,
            CryptoInfo::Aes256Gcm(c) => c.rec_seq,
            CryptoInfo::Chacha20Poly1305(c) => c.rec_seq,
        })
    }

    /// The key, as the kernel will read it.
    pub fn key(&self) -> &[u8] {
        match self {
            CryptoInfo::Aes128Gcm(c) => &c.key,
            CryptoInfo::Aes256Gcm(c) => &c.key,
            CryptoInfo::Chacha20Poly1305(c) => &c.key,
        }
    }

    /// The 12-byte nonce the kernel uses for the next record: salt and IV for
    /// AES-GCM (the kernel XORs in the sequence number for TLS 1.3 only), the
    /// IV for ChaCha20-Poly1305 (before the XOR).
    pub fn nonce_base(&self) -> [u8; 12] {
        let mut nonce = [0u8; 12];
        match self {
            CryptoInfo::Aes128Gcm(c) => {
                nonce[..4].copy_from_slice(&c.salt);
                nonce[4..].copy_from_slice(&c.iv);
            }
            CryptoInfo::Aes256Gcm(c) => {
                nonce[..4].copy_from_slice(&c.salt);
                nonce[4..].copy_from_slice(&c.iv);
            }
            CryptoInfo::Chacha20Poly1305(c) => nonce.copy_from_slice(&c.iv),
        }
        nonce
    }

    /// Size in bytes, the `optlen` of the setsockopt call.
    pub fn len(&self) -> usize {
        match self {
            CryptoInfo::Aes128Gcm(_) => size_of::<Aes128GcmInfo>(),
            CryptoInfo::Aes256Gcm(_) => size_of::<Aes256GcmInfo>(),
            CryptoInfo::Chacha20Poly1305(_) => size_of::<Chacha20Poly1305Info>(),
        }
    }

    /// Never true: every layout has a header; present for clippy's `len` rule.
    pub fn is_empty(&self) -> bool {
        false
    }
}

impl fmt::Debug for CryptoInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header = self.header();
        f.debug_struct("CryptoInfo")
            .field("version", &format_args!("{:#06x}", header.version))
            .field("cipher", &self.cipher())
            .field("rec_seq", &self.rec_seq())
            .finish_non_exhaustive()
    }
}

/// Splits rustls's 12-byte AES-GCM IV into the kernel's salt and IV fields
/// (see `CryptoInfo::new` for why TLS 1.2 adds the sequence number).
fn split_gcm_iv(
    version: TlsVersion,
    seq: u64,
    iv: &[u8],
) -> Result<([u8; 4], [u8; 8]), Unavailable> {
    let bad = || {
        Unavailable::SecretsNotExtractable(format!(
            "rustls gave a {}-byte AES-GCM IV, expected 12",
            iv.len()
        ))
    };
    let (salt, rest) = iv.split_at_checked(4).ok_or_else(bad)?;
    let salt: [u8; 4] = salt.try_into().map_err(|_| bad())?;
    let rest: [u8; 8] = rest.try_into().map_err(|_| bad())?;
    let explicit = match version {
        TlsVersion::Tls12 => u64::from_be_bytes(rest).wrapping_add(seq).to_be_bytes(),
        TlsVersion::Tls13 => rest,
    };
    Ok((salt, explicit))
}

/// Copies a key into the fixed-size field of the kernel layout.
fn fixed<const N: usize>(cipher: Cipher, key: &[u8]) -> Result<[u8; N], Unavailable> {
    key.try_into().map_err(|_| {
        Unavailable::SecretsNotExtractable(format!(
            "rustls gave a {}-byte key for {cipher}, expected {}",
            key.len(),
            cipher.key_len()
        ))
    })
}
