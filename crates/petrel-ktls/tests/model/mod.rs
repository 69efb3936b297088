//! A software model of the kernel's TLS record layer (`net/tls/tls_sw.c`), fed
//! with the fields of a `CryptoInfo` exactly as the kernel reads them, and key
//! derivations from the TLS specifications. With them the tests check, on a
//! machine without kTLS, that the state handed to the kernel encrypts and
//! decrypts records a real rustls peer accepts and produces.

#![allow(
    dead_code,
    reason = "shared by several test targets that use different parts"
)]

use aws_lc_rs::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::hmac;
use petrel_ktls::CryptoInfo;

/// One direction of the kernel's record layer.
pub struct KernelModel {
    version: u16,
    cipher_type: u16,
    key: LessSafeKey,
    /// salt || iv for AES-GCM, iv for ChaCha20-Poly1305, as installed.
    nonce: [u8; 12],
    seq: u64,
}

impl KernelModel {
    /// Reads the fields the way the kernel does in `tls_set_sw_offload`.
    pub fn new(info: &CryptoInfo) -> Self {
        let (header, key, nonce, rec_seq) = match info {
            CryptoInfo::Aes128Gcm(c) => (c.info, c.key.to_vec(), concat(&c.salt, &c.iv), c.rec_seq),
            CryptoInfo::Aes256Gcm(c) => (c.info, c.key.to_vec(), concat(&c.salt, &c.iv), c.rec_seq),
            CryptoInfo::Chacha20Poly1305(c) => (c.info, c.key.to_vec(), c.iv, c.rec_seq),
        };
        let algorithm = match header.cipher_type {
            51 => &aead::AES_128_GCM,
            52 => &aead::AES_256_GCM,
            54 => &aead::CHACHA20_POLY1305,
            other => panic!("the kernel has no cipher_type {other}"),
        };
        KernelModel {
            version: header.version,
            cipher_type: header.cipher_type,
            key: LessSafeKey::new(UnboundKey::new(algorithm, &key).expect("key length")),
            nonce,
            seq: u64::from_be_bytes(rec_seq),
        }
    }

    /// TLS 1.2 with AES-GCM: explicit nonce on the wire, counted up per record.
    fn explicit_nonce(&self) -> bool {
        self.version == 0x0303 && self.cipher_type != 54
    }

    /// The nonce of the next record (`tls_xor_iv_with_seq`).
    pub fn next_nonce(&self) -> [u8; 12] {
        let mut nonce = self.nonce;
        if !self.explicit_nonce() {
            for (n, s) in nonce[4..].iter_mut().zip(self.seq.to_be_bytes()) {
                *n ^= s;
            }
        }
        nonce
    }

    /// Encrypts one application-data record as `tls_push_record` does.
    pub fn seal(&mut self, plaintext: &[u8]) -> Vec<u8> {
        let nonce = self.next_nonce();
        let mut record = Vec::new();
        if self.version == 0x0304 {
            let mut inner = plaintext.to_vec();
            inner.push(23);
            let header = header(23, inner.len() + 16);
            self.key
                .seal_in_place_append_tag(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::from(header),
                    &mut inner,
                )
                .expect("seal");
            record.extend_from_slice(&header);
            record.extend_from_slice(&inner);
        } else {
            let aad = tls12_aad(self.seq, 23, plaintext.len());
            let mut body = plaintext.to_vec();
            self.key
                .seal_in_place_append_tag(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::from(aad),
                    &mut body,
                )
                .expect("seal");
            let explicit = if self.explicit_nonce() { 8 } else { 0 };
            record.extend_from_slice(&header(23, explicit + body.len()));
            if self.explicit_nonce() {
                record.extend_from_slice(&nonce[4..]);
            }
            record.extend_from_slice(&body);
        }
        self.advance();
        record
    }

    /// Decrypts one record as `tls_decrypt_sg` does; returns content type and
    /// plaintext, or None when authentication fails.
    pub fn open(&mut self, record: &[u8]) -> Option<(u8, Vec<u8>)> {
        let body = &record[5..];
        let result = if self.version == 0x0304 {
            let mut buf = body.to_vec();
            let aad: [u8; 5] = record[..5].try_into().ok()?;
            let plain = self
                .key
                .open_in_place(
                    Nonce::assume_unique_for_key(self.next_nonce()),
                    Aad::from(aad),
                    &mut buf,
                )
                .ok()?;
            let end = plain.iter().rposition(|&b| b != 0)?;
            Some((plain[end], plain[..end].to_vec()))
        } else {
            let (nonce, ciphertext) = if self.explicit_nonce() {
                let mut nonce = self.nonce;
                nonce[4..].copy_from_slice(&body[..8]);
                (nonce, &body[8..])
            } else {
                (self.next_nonce(), body)
            };
            let aad = tls12_aad(self.seq, record[0], ciphertext.len() - 16);
            let mut buf = ciphertext.to_vec();
            let plain = self
                .key
                .open_in_place(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::from(aad),
                    &mut buf,
                )
                .ok()?;
            Some((record[0], plain.to_vec()))
        };
        self.advance();
        result
    }

    /// `tls_advance_record_sn`.
    fn advance(&mut self) {
        self.seq += 1;
        if self.explicit_nonce() {
            for byte in self.nonce[4..].iter_mut().rev() {
                *byte = byte.wrapping_add(1);
                if *byte != 0 {
                    break;
                }
            }
        }
    }
}

/// Splits a byte stream into whole TLS records.
pub fn records(mut wire: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while wire.len() >= 5 {
        let len = usize::from(u16::from_be_bytes([wire[3], wire[4]]));
        let (record, rest) = wire.split_at(5 + len);
        out.push(record.to_vec());
        wire = rest;
    }
    assert!(wire.is_empty(), "a partial record at the end of the stream");
    out
}

/// HKDF-Expand-Label (RFC 8446 §7.1) with an empty context.
pub fn hkdf_expand_label(sha384: bool, secret: &[u8], label: &str, len: usize) -> Vec<u8> {
    let full = format!("tls13 {label}");
    let mut info = Vec::new();
    info.extend_from_slice(&(len as u16).to_be_bytes());
    info.push(full.len() as u8);
    info.extend_from_slice(full.as_bytes());
    info.push(0);
    let key = hmac::Key::new(algorithm(sha384), secret);
    let mut out = Vec::new();
    let mut previous = Vec::new();
    let mut counter = 1u8;
    while out.len() < len {
        let mut context = hmac::Context::with_key(&key);
        context.update(&previous);
        context.update(&info);
        context.update(&[counter]);
        previous = context.sign().as_ref().to_vec();
        out.extend_from_slice(&previous);
        counter += 1;
    }
    out.truncate(len);
    out
}

/// The TLS 1.2 PRF (RFC 5246 §5).
pub fn tls12_prf(sha384: bool, secret: &[u8], label: &[u8], seed: &[u8], len: usize) -> Vec<u8> {
    let key = hmac::Key::new(algorithm(sha384), secret);
    let mut label_seed = label.to_vec();
    label_seed.extend_from_slice(seed);
    let mut a = hmac::sign(&key, &label_seed).as_ref().to_vec();
    let mut out = Vec::new();
    while out.len() < len {
        let mut context = hmac::Context::with_key(&key);
        context.update(&a);
        context.update(&label_seed);
        out.extend_from_slice(context.sign().as_ref());
        a = hmac::sign(&key, &a).as_ref().to_vec();
    }
    out.truncate(len);
    out
}

fn algorithm(sha384: bool) -> hmac::Algorithm {
    if sha384 {
        hmac::HMAC_SHA384
    } else {
        hmac::HMAC_SHA256
    }
}

fn header(content_type: u8, len: usize) -> [u8; 5] {
    let len = (len as u16).to_be_bytes();
    [content_type, 3, 3, len[0], len[1]]
}

fn tls12_aad(seq: u64, content_type: u8, len: usize) -> [u8; 13] {
    let mut aad = [0u8; 13];
    aad[..8].copy_from_slice(&seq.to_be_bytes());
    aad[8] = content_type;
    aad[9] = 3;
    aad[10] = 3;
    aad[11..].copy_from_slice(&(len as u16).to_be_bytes());
    aad
}

fn concat(salt: &[u8; 4], iv: &[u8; 8]) -> [u8; 12] {
    let mut nonce = [0u8; 12];
    nonce[..4].copy_from_slice(salt);
    nonce[4..].copy_from_slice(iv);
    nonce
}
