//! Identifiers: stores, carts and the keyed customer hash.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Reason an identifier was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{kind} must be 1 to {max} characters of letters, digits, '.', '_' or '-'")]
pub struct InvalidId {
    kind: &'static str,
    max: usize,
}

fn check_id(kind: &'static str, max: usize, raw: &str) -> Result<(), InvalidId> {
    let valid_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if raw.is_empty() || raw.len() > max || !raw.chars().all(valid_char) {
        return Err(InvalidId { kind, max });
    }
    Ok(())
}

/// A store (tenant) id. Short and URL-safe, because it travels in keys, SES tags and tokens.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct StoreId(String);

impl StoreId {
    /// Maximum store id length, in bytes.
    pub const MAX_LENGTH: usize = 64;

    /// Parses a store id.
    pub fn parse(raw: &str) -> Result<Self, InvalidId> {
        check_id("store id", Self::MAX_LENGTH, raw)?;
        Ok(Self(raw.to_owned()))
    }

    /// Returns the id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A cart id as the platform names it (a Shopify checkout token, for example).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CartId(String);

impl CartId {
    /// Maximum cart id length, in bytes.
    pub const MAX_LENGTH: usize = 128;

    /// Parses a cart id.
    pub fn parse(raw: &str) -> Result<Self, InvalidId> {
        check_id("cart id", Self::MAX_LENGTH, raw)?;
        Ok(Self(raw.to_owned()))
    }

    /// Returns the id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The keyed hash that identifies a shopper: the first 16 bytes of HMAC-SHA256 over the normalized
/// email address with the deployment's secret pepper, as 32 lower-case hex digits.
///
/// It is the same in every store of a deployment, so a hard bounce can suppress an address
/// everywhere. Keys, logs, SES tags and tokens carry it instead of the address.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CustomerKey(String);

impl CustomerKey {
    /// Length of the hash in bytes.
    pub const BYTES: usize = 16;

    /// Wraps raw hash bytes.
    pub fn from_bytes(bytes: [u8; Self::BYTES]) -> Self {
        Self(hex::encode(bytes))
    }

    /// Parses the hex form, as found in SES tags and stored keys.
    pub fn parse(raw: &str) -> Result<Self, InvalidId> {
        let valid = raw.len() == Self::BYTES * 2
            && raw
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !valid {
            return Err(InvalidId {
                kind: "customer key",
                max: Self::BYTES * 2,
            });
        }
        Ok(Self(raw.to_owned()))
    }

    /// Returns the raw hash bytes.
    pub fn to_bytes(&self) -> [u8; Self::BYTES] {
        let mut bytes = [0u8; Self::BYTES];
        // The constructor accepts only valid hex of this length.
        hex::decode_to_slice(&self.0, &mut bytes).expect("customer key is valid hex");
        bytes
    }

    /// Returns the hex form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! string_conversions {
    ($($name:ident),*) => {$(
        impl TryFrom<String> for $name {
            type Error = InvalidId;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }
        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    )*};
}
string_conversions!(StoreId, CartId, CustomerKey);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_id_rejects_separators_used_in_keys() {
        assert!(StoreId::parse("demo-store").is_ok());
        assert!(StoreId::parse("demo#store").is_err());
        assert!(StoreId::parse("").is_err());
        assert!(StoreId::parse(&"a".repeat(65)).is_err());
    }

    #[test]
    fn customer_key_round_trips_bytes() {
        let key = CustomerKey::from_bytes([0xab; 16]);
        assert_eq!(key.as_str().len(), 32);
        assert_eq!(
            CustomerKey::parse(key.as_str()).unwrap().to_bytes(),
            [0xab; 16]
        );
        assert!(CustomerKey::parse("ABAB").is_err());
    }
}
