//! A shopper's cart as stored: only the fields the recovery email needs.

use serde::{Deserialize, Serialize};

use super::{CartId, EmailAddress};
use crate::clock::UnixSeconds;

/// Most line items kept per cart; the email shows the first few and a link to the rest.
pub const MAX_LINE_ITEMS: usize = 50;

/// One product line. Prices are decimal strings in the cart's currency, as the platform sends them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LineItem {
    /// Product title.
    pub title: String,
    /// Variant title, such as a size or colour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant_title: Option<String>,
    /// Number of units.
    pub quantity: u32,
    /// Unit price as a decimal string.
    pub price: String,
    /// Product image URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    /// Product page URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_url: Option<String>,
}

/// A validated cart, after every field outside the allowed set has been dropped.
#[derive(Clone, Debug)]
pub struct Cart {
    /// The platform's cart or checkout id.
    pub id: CartId,
    /// The shopper's normalized address.
    pub email: EmailAddress,
    /// Line items, at most [`MAX_LINE_ITEMS`].
    pub line_items: Vec<LineItem>,
    /// ISO 4217 currency code.
    pub currency: String,
    /// Cart total as a decimal string.
    pub total_price: String,
    /// Link that restores the cart in the store.
    pub recovery_url: Option<String>,
    /// Shopper's locale, such as `de-DE`.
    pub locale: Option<String>,
    /// Last cart activity as the platform reports it.
    pub updated_at: UnixSeconds,
}

/// Position of a cart in its recovery sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CartStatus {
    /// Emails remain to be sent.
    Pending,
    /// Every step of the sequence went out.
    Completed,
    /// The shopper ordered.
    Ordered,
    /// The shopper emptied the cart.
    Emptied,
    /// The shopper is on a do-not-email list.
    Suppressed,
    /// A newer cart of the same shopper took over the sequence.
    Superseded,
    /// SES rejected the email permanently.
    Failed,
}
