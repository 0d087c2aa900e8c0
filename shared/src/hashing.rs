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
}
