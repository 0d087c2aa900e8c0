//! Shopify webhooks: signature verification and the allowed fields of checkouts and orders.
//!
//! The payload structs name only the fields this product may store. Serde skips every other field
//! (addresses, phone, names, notes, payment details, the customer object, client details), so
//! those values are never parsed, stored or logged.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::clock;
use common::domain::{Cart, CartId, EmailAddress, LineItem, MAX_LINE_ITEMS};

use crate::OrderInput;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

/// Maximum title length kept, in characters.
const MAX_TITLE_CHARS: usize = 255;
/// Longest URL kept, in bytes.
const MAX_URL_BYTES: usize = 2_048;

/// Checks X-Shopify-Hmac-Sha256: base64 HMAC-SHA256 of the raw body with the store's secret,
/// compared in constant time.
pub fn signature_is_valid(secret: &[u8], body: &[u8], header: &str) -> bool {
    let Ok(expected) = STANDARD.decode(header.trim()) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts keys of any length");
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

#[derive(Deserialize)]
struct ShopifyLineItem {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    presentment_title: Option<String>,
    #[serde(default)]
    variant_title: Option<String>,
    #[serde(default)]
    quantity: Option<u32>,
    #[serde(default)]
    price: Option<serde_json::Value>,
    #[serde(default)]
    image_url: Option<String>,
    #[serde(default)]
    product_url: Option<String>,
}

#[derive(Deserialize)]
struct ShopifyCheckout {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    cart_token: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    line_items: Vec<ShopifyLineItem>,
    #[serde(default)]
    presentment_currency: Option<String>,
    #[serde(default)]
    currency: Option<String>,
    #[serde(default)]
    total_price: Option<serde_json::Value>,
    #[serde(default)]
    abandoned_checkout_url: Option<String>,
    #[serde(default)]
    customer_locale: Option<String>,
    #[serde(default)]
    updated_at: Option<String>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    completed_at: Option<String>,
}

/// The outcome of parsing a checkout webhook.
#[derive(Debug)]
pub enum CheckoutInput {
    /// A cart to store.
    Cart(Cart),
    /// The checkout has no email address, so no email can be sent.
    NoEmail,
    /// The checkout is already completed; the order webhook handles it.
    Completed,
}

/// Reason a payload was rejected, returned in the 400 response.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InvalidPayload(pub String);

/// Parses a checkouts/create or checkouts/update body.
pub fn parse_checkout(body: &[u8]) -> Result<CheckoutInput, InvalidPayload> {
    let checkout: ShopifyCheckout = serde_json::from_slice(body).map_err(|e| {
        InvalidPayload(format!(
            "body is not a checkout JSON object: {}",
            e.classify_name()
        ))
    })?;

    if checkout
        .completed_at
        .as_deref()
        .is_some_and(|c| !c.is_empty())
    {
        return Ok(CheckoutInput::Completed);
    }
    let Some(raw_email) = checkout.email.as_deref().filter(|e| !e.trim().is_empty()) else {
        return Ok(CheckoutInput::NoEmail);
    };
    let email =
        EmailAddress::parse(raw_email).map_err(|e| InvalidPayload(format!("email: {e}")))?;

    let token = checkout
        .token
        .as_deref()
        .or(checkout.cart_token.as_deref())
        .ok_or_else(|| InvalidPayload("checkout has no token".into()))?;
    let id = CartId::parse(token).map_err(|e| InvalidPayload(e.to_string()))?;

    let updated = checkout
        .updated_at
        .as_deref()
        .or(checkout.created_at.as_deref())
        .ok_or_else(|| InvalidPayload("checkout has no updated_at".into()))?;
    let updated_at = clock::parse_rfc3339(updated)
        .ok_or_else(|| InvalidPayload("updated_at is not an RFC 3339 timestamp".into()))?;

    let currency = checkout
        .presentment_currency
        .or(checkout.currency)
        .filter(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_alphabetic()))
        .ok_or_else(|| InvalidPayload("currency must be a three-letter ISO 4217 code".into()))?
        .to_ascii_uppercase();

    let line_items = checkout
        .line_items
        .into_iter()
        .take(MAX_LINE_ITEMS)
        .map(line_item)
        .collect::<Result<Vec<_>, _>>()?;

    Ok(CheckoutInput::Cart(Cart {
        id,
        email,
        line_items,
        currency,
        total_price: decimal(checkout.total_price.as_ref()).unwrap_or_else(|| "0.00".into()),
        recovery_url: checkout.abandoned_checkout_url.and_then(web_url),
        locale: checkout.customer_locale.filter(|l| {
            l.len() <= 35
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        }),
        updated_at,
    }))
}

fn line_item(item: ShopifyLineItem) -> Result<LineItem, InvalidPayload> {
    let title = item
        .presentment_title
        .or(item.title)
        .map(|t| truncate(&t))
        .ok_or_else(|| InvalidPayload("line item has no title".into()))?;
    Ok(LineItem {
        title,
        variant_title: item
            .variant_title
            .filter(|v| !v.is_empty())
            .map(|v| truncate(&v)),
        quantity: item.quantity.unwrap_or(1),
        price: decimal(item.price.as_ref())
            .ok_or_else(|| InvalidPayload("line item price is not a decimal".into()))?,
        image_url: item.image_url.and_then(web_url),
        product_url: item.product_url.and_then(web_url),
    })
}

/// Accepts a price given as a JSON string or number, such as `"19.90"` or `19.9`.
pub(crate) fn decimal(value: Option<&serde_json::Value>) -> Option<String> {
    let text = match value? {
        serde_json::Value::String(text) => text.trim().to_owned(),
        serde_json::Value::Number(number) => number.to_string(),
        _ => return None,
    };
    let valid = !text.is_empty()
        && text.len() <= 24
        && text.bytes().filter(|b| *b == b'.').count() <= 1
        && text
            .trim_start_matches('-')
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'.');
    valid.then_some(text)
}

pub(crate) fn truncate(text: &str) -> String {
    text.chars().take(MAX_TITLE_CHARS).collect()
}

pub(crate) fn web_url(url: String) -> Option<String> {
    let ok =
        url.len() <= MAX_URL_BYTES && (url.starts_with("https://") || url.starts_with("http://"));
    ok.then_some(url)
}

#[derive(Deserialize)]
struct ShopifyOrder {
    #[serde(default)]
    id: Option<serde_json::Value>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    contact_email: Option<String>,
    #[serde(default)]
    checkout_token: Option<String>,
    #[serde(default)]
    cart_token: Option<String>,
    #[serde(default)]
    presentment_currency: Option<String>,
    #[serde(default)]
    currency: Option<String>,
    #[serde(default)]
    total_price: Option<serde_json::Value>,
}

/// Parses an orders/create body into the fields that stop recovery and attribute revenue.
pub fn parse_order(body: &[u8]) -> Result<OrderInput, InvalidPayload> {
    let order: ShopifyOrder = serde_json::from_slice(body).map_err(|e| {
        InvalidPayload(format!(
            "body is not an order JSON object: {}",
            e.classify_name()
        ))
    })?;

    let email = match order
        .email
        .or(order.contact_email)
        .filter(|e| !e.trim().is_empty())
    {
        Some(raw) => {
            Some(EmailAddress::parse(&raw).map_err(|e| InvalidPayload(format!("email: {e}")))?)
        }
        None => None,
    };
    let order_id = match order.id {
        Some(serde_json::Value::Number(number)) => number.to_string(),
        Some(serde_json::Value::String(text)) if !text.is_empty() => text,
        _ => return Err(InvalidPayload("order has no id".into())),
    };
    let cart_ids = [order.checkout_token, order.cart_token]
        .into_iter()
        .flatten()
        .filter_map(|token| CartId::parse(&token).ok())
        .collect();

    Ok(OrderInput {
        order_id,
        email,
        cart_ids,
        currency: order
            .presentment_currency
            .or(order.currency)
            .map(|c| c.to_ascii_uppercase()),
        total_price: decimal(order.total_price.as_ref()),
    })
}

/// Short name of a JSON error class, which never echoes the body.
pub(crate) trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "read error",
            serde_json::error::Category::Syntax => "invalid JSON",
            serde_json::error::Category::Data => "unexpected field type",
            serde_json::error::Category::Eof => "truncated JSON",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_known_vector() {
        let mut mac = Hmac::<Sha256>::new_from_slice(b"secret").unwrap();
        mac.update(b"{}");
        let header = STANDARD.encode(mac.finalize().into_bytes());
        assert!(signature_is_valid(b"secret", b"{}", &header));
        assert!(!signature_is_valid(b"other", b"{}", &header));
        assert!(!signature_is_valid(b"secret", b"{ }", &header));
        assert!(!signature_is_valid(b"secret", b"{}", "not base64!"));
        assert!(!signature_is_valid(b"secret", b"{}", ""));
    }

    #[test]
    fn checkout_without_email_is_skipped() {
        let body = br#"{"token":"abc","updated_at":"2026-01-01T00:00:00Z","currency":"USD","line_items":[]}"#;
        assert!(matches!(
            parse_checkout(body).unwrap(),
            CheckoutInput::NoEmail
        ));
    }

    #[test]
    fn rejects_wrong_types_without_echoing_the_body() {
        let error = parse_checkout(br#"{"email": 5, "secret":"jane@example.com"}"#).unwrap_err();
        assert!(!error.to_string().contains("jane"));
        assert!(parse_checkout(b"not json").is_err());
    }

    #[test]
    fn price_accepts_strings_and_numbers_only() {
        assert_eq!(
            decimal(Some(&serde_json::json!("19.90"))),
            Some("19.90".into())
        );
        assert_eq!(decimal(Some(&serde_json::json!(5))), Some("5".into()));
        assert_eq!(decimal(Some(&serde_json::json!("1.2.3"))), None);
        assert_eq!(decimal(Some(&serde_json::json!("12<b>"))), None);
        assert_eq!(decimal(Some(&serde_json::json!(true))), None);
    }
}

#[derive(Deserialize)]
struct ComplianceCustomer {
    #[serde(default)]
    email: Option<String>,
}

#[derive(Deserialize)]
struct ComplianceRequestId {
    #[serde(default)]
    id: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct CompliancePayload {
    #[serde(default)]
    customer: Option<ComplianceCustomer>,
    #[serde(default)]
    data_request: Option<ComplianceRequestId>,
}

/// A customers/data_request or customers/redact payload: the shopper's address and, for a data
/// request, Shopify's request id.
#[derive(Debug)]
pub struct ComplianceRequest {
    /// The shopper, when the payload names one by address.
    pub email: Option<EmailAddress>,
    /// Shopify's data request id, when given.
    pub request_id: Option<String>,
}

/// Parses a compliance payload. Only the address and the request id are read.
pub fn parse_compliance(body: &[u8]) -> Result<ComplianceRequest, InvalidPayload> {
    let payload: CompliancePayload = serde_json::from_slice(body).map_err(|e| {
        InvalidPayload(format!(
            "body is not a compliance JSON object: {}",
            e.classify_name()
        ))
    })?;
    let email = match payload
        .customer
        .and_then(|c| c.email)
        .filter(|e| !e.trim().is_empty())
    {
        Some(raw) => Some(
            EmailAddress::parse(&raw)
                .map_err(|e| InvalidPayload(format!("customer.email: {e}")))?,
        ),
        None => None,
    };
    let request_id = payload.data_request.and_then(|r| r.id).map(|id| match id {
        serde_json::Value::String(text) => text,
        other => other.to_string(),
    });
    Ok(ComplianceRequest { email, request_id })
}
