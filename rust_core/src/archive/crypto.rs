//! The archive's keys and the sealed object format. Invariant: every object names
//! the key that sealed it, and nothing is returned from an object whose tag does not
//! verify (a flipped bit, a truncated object, the wrong key, another object's bytes).
//!
//! ```text
//! 0 "MEMDARC1" | 8 u8 cipher (1 = XChaCha20-Poly1305) | 9 u8 n | 10 key id (n ASCII bytes)
//! 10+n 24-byte nonce | ciphertext with its 16-byte tag
//! ```
//!
//! The associated data is the object's name followed by every byte before the
//! ciphertext, so a header cannot be edited and an object cannot be served under
//! another object's name.

use crate::error::{CoreError, Result};
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::XChaCha20Poly1305;
use sha2::{Digest, Sha256};

const MAGIC: &[u8; 8] = b"MEMDARC1";
const CIPHER_XCHACHA: u8 = 1;
const NONCE_LEN: usize = 24;
/// Length of a key.
pub const KEY_LEN: usize = 32;

/// One 256-bit key and its id (derived from the key, so it cannot be mislabelled).
#[derive(Clone)]
pub struct ArchiveKey {
    id: String,
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for ArchiveKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ArchiveKey({})", self.id)
    }
}

impl ArchiveKey {
    /// A key from its 32 bytes.
    pub fn new(bytes: &[u8]) -> Result<ArchiveKey> {
        if bytes.len() != KEY_LEN {
            return Err(CoreError::invalid(format!(
                "an archive key is {KEY_LEN} bytes, got {}",
                bytes.len()
            )));
        }
        // A one-way id: the first 8 bytes of a domain-separated SHA-256, in hex.
        let digest =
            Sha256::new_with_prefix(b"memd archive key id\0").chain_update(bytes).finalize();
        let id = super::hex(&digest[..8]);
        let cipher = XChaCha20Poly1305::new_from_slice(bytes).expect("32-byte key");
        Ok(ArchiveKey { id, cipher })
    }

    /// The id recorded in each object it seals.
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// The current key (sealing) and the old ones (opening only).
#[derive(Clone, Debug)]
pub struct Keyring {
    current: ArchiveKey,
    old: Vec<ArchiveKey>,
}

impl Keyring {
    /// A keyring sealing with `current`, opening with it and `old`.
    pub fn new(current: ArchiveKey, old: Vec<ArchiveKey>) -> Keyring {
        Keyring { current, old }
    }

    /// The id new objects are sealed with.
    pub fn current_id(&self) -> &str {
        self.current.id()
    }

    fn find(&self, id: &str) -> Option<&ArchiveKey> {
        std::iter::once(&self.current).chain(&self.old).find(|k| k.id == id)
    }

    /// Seals `plain` as object `name` with the current key and a random nonce.
    pub fn seal(&self, name: &str, plain: &[u8]) -> Vec<u8> {
        let key = &self.current;
        let mut out = Vec::with_capacity(plain.len() + 64);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&[CIPHER_XCHACHA, key.id.len() as u8]);
        out.extend_from_slice(key.id.as_bytes());
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        out.extend_from_slice(&nonce);
        let aad = [name.as_bytes(), &out].concat();
        let sealed = key
            .cipher
            .encrypt(&nonce, Payload { msg: plain, aad: &aad })
            .expect("XChaCha20-Poly1305 encrypts any length memd produces");
        out.extend_from_slice(&sealed);
        out
    }

    /// Opens object `name`; an error names what is wrong (never a panic).
    pub fn open(&self, name: &str, object: &[u8]) -> Result<Vec<u8>> {
        let bad = |what: &str| CoreError::DataLoss(format!("archive object {name}: {what}"));
        if object.len() < 10 || &object[..8] != MAGIC {
            return Err(bad("not a memd archive object (bad magic)"));
        }
        if object[8] != CIPHER_XCHACHA {
            return Err(bad(&format!("unknown cipher {}", object[8])));
        }
        let id_end = 10 + usize::from(object[9]);
        let header_end = id_end + NONCE_LEN;
        if object.len() < header_end + 16 {
            return Err(bad("truncated"));
        }
        let id = std::str::from_utf8(&object[10..id_end]).map_err(|_| bad("bad key id"))?;
        let key = self.find(id).ok_or_else(|| {
            bad(&format!(
                "sealed with key id {id}, which is neither archive.key_file's ({}) nor one of \
                 archive.old_key_files",
                self.current.id
            ))
        })?;
        let nonce = chacha20poly1305::XNonce::from_slice(&object[id_end..header_end]);
        let aad = [name.as_bytes(), &object[..header_end]].concat();
        key.cipher
            .decrypt(nonce, Payload { msg: &object[header_end..], aad: &aad })
            .map_err(|_| bad("authentication failed (corrupted, truncated or not this object)"))
    }
}

/// The key id sealed into an object, without opening it (tests, tools).
pub fn key_id_of(object: &[u8]) -> Option<&str> {
    let n = usize::from(*object.get(9)?);
    std::str::from_utf8(object.get(10..10 + n)?).ok()
}

/// Parses a key file's content: 64 hex digits (surrounding whitespace ignored) or
/// exactly 32 raw bytes.
pub fn parse_key(content: &[u8]) -> Result<ArchiveKey> {
    let text = std::str::from_utf8(content).ok().map(str::trim);
    if let Some(hex) = text.filter(|t| t.len() == 2 * KEY_LEN) {
        let bytes: Option<Vec<u8>> =
            (0..KEY_LEN).map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()).collect();
        if let Some(bytes) = bytes {
            return ArchiveKey::new(&bytes);
        }
    }
    if content.len() == KEY_LEN {
        return ArchiveKey::new(content);
    }
    Err(CoreError::invalid(format!(
        "an archive key file holds 64 hex digits or {KEY_LEN} raw bytes ({} bytes found)",
        content.len()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> ArchiveKey {
        ArchiveKey::new(&[b; KEY_LEN]).unwrap()
    }

    #[test]
    fn seals_and_opens_with_current_and_old_keys() {
        let old = Keyring::new(key(1), vec![]);
        let sealed = old.seal("obj", b"hello");
        assert_eq!(key_id_of(&sealed), Some(key(1).id()));
        let rotated = Keyring::new(key(2), vec![key(1)]);
        assert_eq!(rotated.open("obj", &sealed).unwrap(), b"hello");
        let forgot = Keyring::new(key(2), vec![]);
        let err = forgot.open("obj", &sealed).unwrap_err();
        assert!(err.message().contains(key(1).id()), "{err}");
    }

    #[test]
    fn any_change_fails_authentication() {
        let ring = Keyring::new(key(1), vec![]);
        let sealed = ring.seal("obj", b"some plaintext");
        assert!(ring.open("other", &sealed).is_err());
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 1;
            assert!(matches!(ring.open("obj", &bad), Err(CoreError::DataLoss(_))), "byte {i}");
        }
        for n in 0..sealed.len() {
            assert!(ring.open("obj", &sealed[..n]).is_err());
        }
    }

    #[test]
    fn key_files_in_hex_or_raw() {
        let hex = "ab".repeat(32);
        assert_eq!(parse_key(format!("{hex}\n").as_bytes()).unwrap().id(), key(0xab).id());
        assert_eq!(parse_key(&[0xab; 32]).unwrap().id(), key(0xab).id());
        assert!(parse_key(b"short").is_err());
        assert_ne!(key(1).id(), key(2).id());
    }
}
