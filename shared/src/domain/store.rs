//! A store (tenant) and its settings.

use secrecy::SecretString;

use super::{Sequence, StoreId};

/// The platform a store's webhooks come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    /// Shopify webhooks, signed with X-Shopify-Hmac-Sha256.
    Shopify,
    /// The documented generic JSON cart schema.
    Generic,
}

/// A store's settings, as loaded from the stores table.
#[derive(Clone, Debug)]
pub struct Store {
    /// Store id.
    pub id: StoreId,
    /// Webhook platform.
    pub platform: Platform,
    /// The shop's domain, such as `example.myshopify.com`.
    pub shop_domain: String,
    /// Name shown in the From header and the email.
    pub name: String,
    /// Sender address; its domain must be a verified SES identity.
    pub sender: String,
    /// Reply-To address, if any.
    pub reply_to: Option<String>,
    /// Secret that signs the store's webhooks.
    pub webhook_secret: SecretString,
    /// Delays of the recovery emails; `None` uses the deployment's default.
    pub sequence: Option<Sequence>,
    /// Locale used when the cart has none, such as `en`.
    pub default_locale: String,
    /// A paused store receives webhooks but sends nothing.
    pub paused: bool,
    /// SHA-256 (hex) of the store's merchant API key; `None` until the operator creates one.
    pub api_key_hash: Option<String>,
}

impl Store {
    /// Returns the store's sequence, or `default` when the store sets none.
    pub fn sequence_or<'a>(&'a self, default: &'a Sequence) -> &'a Sequence {
        self.sequence.as_ref().unwrap_or(default)
    }
}
