//! Signed unsubscribe tokens.
//!
//! A token is URL-safe base64 (no padding) of
//! `version (1) | key id length (1) | key id | store id length (1) | store id | customer key (16) | MAC (16)`,
//! where the MAC is HMAC-SHA256 over every preceding byte, truncated to 16 bytes. It carries no
//! email address and does not expire. The key id lets keys rotate, and links in old emails keep
//! working as long as their key stays in the key ring.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretSlice};
use sha2::Sha256;

use crate::config::ConfigError;
use crate::domain::{CustomerKey, StoreId};

const VERSION: u8 = 1;
const MAC_BYTES: usize = 16;
/// Maximum token length accepted, in characters, so a huge query string is rejected before decoding.
const MAX_TOKEN_CHARS: usize = 256;

/// The identity an unsubscribe token stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnsubscribeToken {
    /// Store whose emails the shopper receives.
    pub store_id: StoreId,
    /// The shopper.
    pub customer: CustomerKey,
}

/// Reason a token was rejected. The unsubscribe page shows the same error for every variant.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InvalidToken {
    /// The token is not base64url or is cut short.
    #[error("token is malformed")]
    Malformed,
    /// The token names a key id that is not in the key ring.
    #[error("token key id is unknown")]
    UnknownKey,
    /// The MAC does not match.
    #[error("token signature is invalid")]
    BadSignature,
}

/// Token signing keys by id; the first is used to sign, all are accepted.
#[derive(Clone)]
pub struct TokenKeys {
    keys: Vec<(String, SecretSlice<u8>)>,
}

impl TokenKeys {
    /// Shortest key accepted, in bytes.
    pub const MIN_KEY_BYTES: usize = 32;

    /// Builds a key ring from `(key id, key bytes)` pairs, signing key first.
    pub fn new(keys: Vec<(String, Vec<u8>)>) -> Result<Self, ConfigError> {
        let invalid = |reason: String| ConfigError::Invalid {
            name: "TOKEN_KEYS",
            reason,
        };
        if keys.is_empty() {
            return Err(invalid("needs at least one key".into()));
        }
        for (index, (id, key)) in keys.iter().enumerate() {
            if keys[..index].iter().any(|(earlier, _)| earlier == id) {
                return Err(invalid(format!("key id {id:?} appears twice")));
            }
            if id.is_empty() || id.len() > 16 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(invalid(format!(
                    "key id {id:?} must be 1 to 16 letters or digits"
                )));
            }
            if key.len() < Self::MIN_KEY_BYTES {
                return Err(invalid(format!(
                    "key {id} must be at least {} bytes",
                    Self::MIN_KEY_BYTES
                )));
            }
        }
        let keys = keys
            .into_iter()
            .map(|(id, key)| (id, SecretSlice::from(key)))
            .collect();
        Ok(Self { keys })
    }

    /// Parses `id=base64key,id=base64key`, signing key first.
    pub fn parse(spec: &str) -> Result<Self, ConfigError> {
        let mut keys = Vec::new();
        for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (id, encoded) = entry.split_once('=').ok_or(ConfigError::Invalid {
                name: "TOKEN_KEYS",
                reason: "each entry must be KEY_ID=BASE64_KEY".into(),
            })?;
            let key = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .map_err(|_| ConfigError::Invalid {
                    name: "TOKEN_KEYS",
                    reason: format!("key {id} is not valid base64"),
                })?;
            keys.push((id.trim().to_owned(), key));
        }
        Self::new(keys)
    }

    fn mac(key: &SecretSlice<u8>) -> Hmac<Sha256> {
        Hmac::<Sha256>::new_from_slice(key.expose_secret())
            .expect("HMAC accepts keys of any length")
    }

    /// Signs a token with the current key.
    pub fn sign(&self, token: &UnsubscribeToken) -> String {
        let (key_id, key) = &self.keys[0];
        let store = token.store_id.as_str().as_bytes();

        let mut bytes = Vec::with_capacity(3 + key_id.len() + store.len() + 32);
        bytes.push(VERSION);
        bytes.push(key_id.len() as u8);
        bytes.extend_from_slice(key_id.as_bytes());
        bytes.push(store.len() as u8);
        bytes.extend_from_slice(store);
        bytes.extend_from_slice(&token.customer.to_bytes());

        let mut mac = Self::mac(key);
        mac.update(&bytes);
        bytes.extend_from_slice(&mac.finalize().into_bytes()[..MAC_BYTES]);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Verifies a token and returns the identity it carries.
    pub fn verify(&self, text: &str) -> Result<UnsubscribeToken, InvalidToken> {
        if text.len() > MAX_TOKEN_CHARS {
            return Err(InvalidToken::Malformed);
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(text.trim())
            .map_err(|_| InvalidToken::Malformed)?;
        if bytes.len() < MAC_BYTES {
            return Err(InvalidToken::Malformed);
        }
        let (signed, tag) = bytes.split_at(bytes.len() - MAC_BYTES);
        let mut reader = Reader(signed);

        if reader.byte()? != VERSION {
            return Err(InvalidToken::Malformed);
        }
        let key_len = reader.byte()? as usize;
        let key_id = reader.take(key_len)?;
        let store_len = reader.byte()? as usize;
        let store = reader.take(store_len)?;
        let customer = reader.take(CustomerKey::BYTES)?;
        if !reader.0.is_empty() {
            return Err(InvalidToken::Malformed);
        }

        let (_, key) = self
            .keys
            .iter()
            .find(|(id, _)| id.as_bytes() == key_id)
            .ok_or(InvalidToken::UnknownKey)?;
        let mut mac = Self::mac(key);
        mac.update(signed);
        // Constant-time comparison of the truncated tag.
        mac.verify_truncated_left(tag)
            .map_err(|_| InvalidToken::BadSignature)?;

        let store_id = std::str::from_utf8(store)
            .ok()
            .and_then(|s| StoreId::parse(s).ok())
            .ok_or(InvalidToken::Malformed)?;
        let mut customer_bytes = [0u8; CustomerKey::BYTES];
        customer_bytes.copy_from_slice(customer);
        Ok(UnsubscribeToken {
            store_id,
            customer: CustomerKey::from_bytes(customer_bytes),
        })
    }
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("TokenKeys").field("key_ids", &ids).finish()
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, InvalidToken> {
        Ok(self.take(1)?[0])
    }

    fn take(&mut self, count: usize) -> Result<&'a [u8], InvalidToken> {
        if self.0.len() < count {
            return Err(InvalidToken::Malformed);
        }
        let (head, rest) = self.0.split_at(count);
        self.0 = rest;
        Ok(head)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(spec: &[(&str, u8)]) -> TokenKeys {
        TokenKeys::new(
            spec.iter()
                .map(|(id, b)| (id.to_string(), vec![*b; 32]))
                .collect(),
        )
        .unwrap()
    }

    fn sample() -> UnsubscribeToken {
        UnsubscribeToken {
            store_id: StoreId::parse("demo-store").unwrap(),
            customer: CustomerKey::from_bytes([7; 16]),
        }
    }

    #[test]
    fn round_trips_and_stays_short() {
        let ring = keys(&[("k1", 1)]);
        let text = ring.sign(&sample());
        assert!(text.len() < 80, "token has {} characters", text.len());
        assert!(text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(ring.verify(&text), Ok(sample()));
    }

    #[test]
    fn old_key_still_verifies_after_rotation() {
        let old = keys(&[("k1", 1)]);
        let rotated = keys(&[("k2", 2), ("k1", 1)]);
        assert_eq!(rotated.verify(&old.sign(&sample())), Ok(sample()));
        assert_eq!(
            old.verify(&rotated.sign(&sample())),
            Err(InvalidToken::UnknownKey)
        );
    }

    #[test]
    fn tampered_or_truncated_tokens_are_rejected() {
        let ring = keys(&[("k1", 1)]);
        let text = ring.sign(&sample());
        let mut bytes = URL_SAFE_NO_PAD.decode(&text).unwrap();
        let customer_byte = bytes.len() - MAC_BYTES - 1;
        bytes[customer_byte] ^= 1;
        let tampered = URL_SAFE_NO_PAD.encode(&bytes);

        assert_eq!(ring.verify(&tampered), Err(InvalidToken::BadSignature));
        assert!(ring.verify(&text[..text.len() - 4]).is_err());
        assert_eq!(ring.verify(""), Err(InvalidToken::Malformed));
        assert_eq!(ring.verify("not base64!"), Err(InvalidToken::Malformed));
        assert_eq!(ring.verify(&"A".repeat(300)), Err(InvalidToken::Malformed));
    }

    #[test]
    fn other_key_with_same_id_fails_signature() {
        let ring = keys(&[("k1", 1)]);
        let forged = keys(&[("k1", 9)]).sign(&sample());
        assert_eq!(ring.verify(&forged), Err(InvalidToken::BadSignature));
    }

    #[test]
    fn parses_key_ring_spec() {
        let key = base64::engine::general_purpose::STANDARD.encode([5u8; 32]);
        let ring = TokenKeys::parse(&format!("k2={key}, k1={key}")).unwrap();
        assert_eq!(
            format!("{ring:?}"),
            r#"TokenKeys { key_ids: ["k2", "k1"] }"#
        );
        assert!(TokenKeys::parse("k1=short").is_err());
        let twice = TokenKeys::parse(&format!("k1={key},k1={key}")).unwrap_err();
        assert!(twice.to_string().contains("appears twice"), "{twice}");
        assert!(TokenKeys::parse("").is_err());
    }
}
