//! Keyed hashing of email addresses into [`CustomerKey`]s.

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretSlice};
use sha2::Sha256;

use crate::domain::{CustomerKey, EmailAddress};

/// The deployment's secret pepper for customer keys. Rotating it orphans every stored key and
/// every do-not-email entry, so it is set once per deployment.
#[derive(Clone)]
pub struct Pepper(SecretSlice<u8>);

impl Pepper {
    /// Shortest pepper accepted, in bytes.
    pub const MIN_BYTES: usize = 16;

    /// Wraps the pepper bytes, which must be at least [`Self::MIN_BYTES`] long.
    pub fn new(bytes: Vec<u8>) -> Result<Self, crate::config::ConfigError> {
        if bytes.len() < Self::MIN_BYTES {
            return Err(crate::config::ConfigError::Invalid {
                name: "HASH_PEPPER",
                reason: format!("must be at least {} bytes", Self::MIN_BYTES),
            });
        }
        Ok(Self(bytes.into()))
    }

    /// Computes the customer key of a normalized address.
    pub fn customer_key(&self, email: &EmailAddress) -> CustomerKey {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.0.expose_secret())
            .expect("HMAC accepts keys of any length");
        mac.update(email.as_str().as_bytes());
        let digest = mac.finalize().into_bytes();

        let mut key = [0u8; CustomerKey::BYTES];
        key.copy_from_slice(&digest[..CustomerKey::BYTES]);
        CustomerKey::from_bytes(key)
    }
}

impl std::fmt::Debug for Pepper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pepper(<redacted>)")
    }
}

/// Prefix of merchant API keys: `ck.{store_id}.{secret}`.
pub const API_KEY_PREFIX: &str = "ck.";

/// Generates a merchant API key for a store: `ck.{store_id}.{43 URL-safe characters}` with 256
/// random bits. Returns the key, shown once, and the SHA-256 hex digest that is stored.
pub fn generate_api_key(store: &crate::domain::StoreId) -> (String, String) {
    use base64::Engine;
    use rand::RngCore;

    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let key = format!(
        "{API_KEY_PREFIX}{store}.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
    );
    let digest = api_key_digest(&key);
    (key, digest)
}

/// Returns the SHA-256 hex digest of an API key. A fast hash is enough, because the key has 256
/// random bits and cannot be guessed from its digest.
pub fn api_key_digest(key: &str) -> String {
    use sha2::Digest;
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Splits the store id out of an API key, without checking the secret.
pub fn api_key_store(key: &str) -> Option<&str> {
    let rest = key.strip_prefix(API_KEY_PREFIX)?;
    let (store, secret) = rest.rsplit_once('.')?;
    (!store.is_empty() && secret.len() >= 32).then_some(store)
}

/// Compares an API key with a stored digest in constant time.
pub fn api_key_matches(key: &str, stored_digest: &str) -> bool {
    use subtle::ConstantTimeEq;
    let digest = api_key_digest(key);
    digest.len() == stored_digest.len()
        && bool::from(digest.as_bytes().ct_eq(stored_digest.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_person_same_key_different_pepper_different_key() {
        let pepper = Pepper::new(b"0123456789abcdef".to_vec()).unwrap();
        let other = Pepper::new(b"fedcba9876543210".to_vec()).unwrap();
        let lower = EmailAddress::parse("jane@example.com").unwrap();
        let upper = EmailAddress::parse("JANE@EXAMPLE.COM").unwrap();

        assert_eq!(pepper.customer_key(&lower), pepper.customer_key(&upper));
        assert_ne!(pepper.customer_key(&lower), other.customer_key(&lower));
        assert!(!pepper.customer_key(&lower).as_str().contains("jane"));
    }

    #[test]
    fn rejects_short_pepper() {
        assert!(Pepper::new(b"short".to_vec()).is_err());
    }

    #[test]
    fn api_key_round_trip() {
        let store = crate::domain::StoreId::parse("shop.one").unwrap();
        let (key, digest) = generate_api_key(&store);
        assert_eq!(api_key_store(&key), Some("shop.one"));
        assert!(api_key_matches(&key, &digest));
        assert!(!api_key_matches(&format!("{key}x"), &digest));
        assert!(!key.contains(&digest));
        assert_eq!(api_key_store("ck.shop.short"), None);
        assert_eq!(api_key_store("nope"), None);
    }
}
