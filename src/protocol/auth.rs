//! Authentication plugins, server side: scrambles, mysql_native_password and
//! caching_sha2_password verification, and the RSA key for caching_sha2 full auth.

use mysql_common::auth::plugins::caching_sha2_password::scramble_sha256;
use mysql_common::auth::plugins::mysql_native_password::scramble_native;
use rsa::pkcs8::{EncodePublicKey, LineEnding};
use rsa::{Oaep, RsaPrivateKey, RsaPublicKey};

pub const NATIVE: &str = "mysql_native_password";
pub const CACHING_SHA2: &str = "caching_sha2_password";

/// caching_sha2_password AuthMoreData codes.
pub const SHA2_REQUEST_PUBLIC_KEY: u8 = 0x02;
pub const SHA2_FAST_AUTH_OK: u8 = 0x03;
pub const SHA2_PERFORM_FULL_AUTH: u8 = 0x04;

/// A fresh 20-byte scramble of printable ASCII (it is sent NUL-terminated).
pub fn new_scramble() -> [u8; 20] {
    let mut s = [0u8; 20];
    rand::fill(&mut s[..]);
    for b in &mut s {
        *b = 0x21 + (*b % 0x5E);
    }
    s
}

/// Checks a mysql_native_password response against the configured password.
pub fn verify_native(scramble: &[u8; 20], password: &str, response: &[u8]) -> bool {
    if password.is_empty() {
        return response.is_empty();
    }
    match scramble_native(scramble, password.as_bytes()) {
        Some(expected) => constant_time_eq(&expected, response),
        None => false,
    }
}

/// Checks a caching_sha2_password fast-path response against the configured password.
pub fn verify_sha2(scramble: &[u8; 20], password: &str, response: &[u8]) -> bool {
    if password.is_empty() {
        return response.is_empty() || response == [0];
    }
    match scramble_sha256(scramble, password.as_bytes()) {
        Some(expected) => constant_time_eq(&expected, response),
        None => false,
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The proxy's RSA key pair for caching_sha2_password full authentication without TLS.
pub struct RsaKeys {
    private: RsaPrivateKey,
    public_pem: String,
}

impl RsaKeys {
    /// Generates a fresh 2048-bit key pair (done once at start-up).
    pub fn generate() -> Result<Self, rsa::Error> {
        let private = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048)?;
        let public_pem = RsaPublicKey::from(&private)
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| rsa::Error::Pkcs8(rsa::pkcs8::Error::PublicKey(e)))?;
        Ok(RsaKeys {
            private,
            public_pem,
        })
    }

    /// The public key in PEM, as sent to clients that ask for it.
    pub fn public_pem(&self) -> &[u8] {
        self.public_pem.as_bytes()
    }

    /// Decrypts a full-auth response (RSA-OAEP of `password NUL` XOR scramble) and compares it.
    pub fn verify_encrypted(&self, scramble: &[u8; 20], password: &str, response: &[u8]) -> bool {
        let Ok(plain) = self.private.decrypt(Oaep::new::<sha1::Sha1>(), response) else {
            return false;
        };
        let unmasked: Vec<u8> = plain
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ scramble[i % scramble.len()])
            .collect();
        let given = unmasked.strip_suffix(&[0]).unwrap_or(&unmasked);
        constant_time_eq(given, password.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrambles_are_fresh_printable_and_nul_free() {
        let a = new_scramble();
        let b = new_scramble();
        assert_ne!(a, b);
        assert!(a.iter().all(|&c| (0x21..0x7F).contains(&c)));
    }

    #[test]
    fn native_verification() {
        let s = new_scramble();
        let good = scramble_native(&s, b"pw").expect("scramble");
        assert!(verify_native(&s, "pw", &good));
        assert!(!verify_native(&s, "other", &good));
        assert!(!verify_native(&s, "pw", &good[..19]));
        assert!(verify_native(&s, "", b""));
        assert!(!verify_native(&s, "", &good));
    }

    #[test]
    fn sha2_fast_verification() {
        let s = new_scramble();
        let good = scramble_sha256(&s, b"pw").expect("scramble");
        assert!(verify_sha2(&s, "pw", &good));
        assert!(!verify_sha2(&s, "px", &good));
    }

    #[test]
    fn rsa_full_auth_roundtrip_with_mysql_common_client_code() {
        let keys = RsaKeys::generate().expect("keygen");
        let s = new_scramble();
        let mut pass = b"secret".to_vec();
        pass.push(0);
        for (i, b) in pass.iter_mut().enumerate() {
            *b ^= s[i % s.len()];
        }
        let enc = mysql_common::crypto::encrypt(&pass, keys.public_pem()).expect("encrypt");
        assert!(keys.verify_encrypted(&s, "secret", &enc));
        assert!(!keys.verify_encrypted(&s, "secreT", &enc));
        assert!(!keys.verify_encrypted(&s, "secret", b"garbage"));
    }
}
