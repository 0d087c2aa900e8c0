//! Generic platform webhooks: the JSON cart schema of docs/webhooks.md, signed with a
//! timestamped HMAC so a captured request cannot be replayed after five minutes.
//!
//! `X-Cart-Signature: t=UNIX_SECONDS,v1=HEX` where HEX is HMAC-SHA256 with the store's webhook
//! secret over the bytes `UNIX_SECONDS`, `.`, and the raw body.

use common::clock::{self, UnixSeconds};
use common::domain::{Cart, CartId, EmailAddress, LineItem, MAX_LINE_ITEMS};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

use crate::shopify::{decimal, truncate, web_url, ClassifyName, InvalidPayload};
use crate::OrderInput;

/// How far a signature's timestamp may be from the current time, in seconds (5 minutes).
pub const TOLERANCE_SECONDS: i64 = 300;

/// Reason a signature header was rejected. Every variant becomes the same 401.
#[derive(Debug, PartialEq, Eq)]
pub enum SignatureError {
    /// The header is missing or not `t=…,v1=…`.
    Malformed,
    /// The timestamp is more than five minutes from now.
    Expired,
    /// No `v1` value matches.
    Mismatch,
}

/// Checks an `X-Cart-Signature` header against the raw body at time `now`. Several `v1` values
/// are accepted, so a platform can sign with an old and a new secret while rotating.
pub fn verify_signature(
    secret: &[u8],
    body: &[u8],
    header: &str,
    now: UnixSeconds,
) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',').map(str::trim) {
        match part.split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => {
                signatures.push(hex::decode(value).map_err(|_| SignatureError::Malformed)?)
            }
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if (now - timestamp).abs() > TOLERANCE_SECONDS {
        return Err(SignatureError::Expired);
    }

    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let valid = signatures
        .iter()
        .any(|signature| mac.clone().verify_slice(signature).is_ok());
    if valid {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    event_id: Option<String>,
    #[serde(default)]
    cart: Option<GenericCart>,
    #[serde(default)]
    order: Option<GenericOrder>,
}

#[derive(Deserialize)]
struct GenericCart {
    id: String,
    #[serde(default)]
    email: Option<String>,
    currency: String,
    #[serde(default)]
    total_price: Option<serde_json::Value>,
    #[serde(default)]
    recovery_url: Option<String>,
    #[serde(default)]
    locale: Option<String>,
    updated_at: String,
    #[serde(default)]
    line_items: Vec<GenericLineItem>,
}

#[derive(Deserialize)]
struct GenericLineItem {
    title: String,
    #[serde(default)]
    variant_title: Option<String>,
    #[serde(default)]
    quantity: Option<u32>,
    price: serde_json::Value,
    #[serde(default)]
    image_url: Option<String>,
    #[serde(default)]
    product_url: Option<String>,
}

#[derive(Deserialize)]
struct GenericOrder {
    id: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    cart_id: Option<String>,
    #[serde(default)]
    currency: Option<String>,
    #[serde(default)]
    total_price: Option<serde_json::Value>,
}

/// A parsed generic webhook.
#[derive(Debug)]
pub enum GenericEvent {
    /// `cart.updated` with an email address.
    Cart(Cart),
    /// `cart.updated` without an email address, so no email can be sent.
    CartWithoutEmail,
    /// `order.created`.
    Order(OrderInput),
    /// Any other type, acknowledged and ignored.
    Unknown,
}

/// Parses a generic webhook body into its event id and event.
pub fn parse(body: &[u8]) -> Result<(Option<String>, GenericEvent), InvalidPayload> {
    let envelope: Envelope = serde_json::from_slice(body).map_err(|e| {
        InvalidPayload(format!(
            "body does not match the cart schema: {}",
            e.classify_name()
        ))
    })?;
    let event_id = envelope
        .event_id
        .filter(|id| !id.is_empty() && id.len() <= 128);

    let event = match envelope.kind.as_str() {
        "cart.updated" => {
            let cart = envelope
                .cart
                .ok_or_else(|| InvalidPayload("cart.updated needs a cart object".into()))?;
            parse_cart(cart)?
        }
        "order.created" => {
            let order = envelope
                .order
                .ok_or_else(|| InvalidPayload("order.created needs an order object".into()))?;
            GenericEvent::Order(parse_order(order)?)
        }
        _ => GenericEvent::Unknown,
    };
    Ok((event_id, event))
}

fn parse_cart(cart: GenericCart) -> Result<GenericEvent, InvalidPayload> {
    let Some(raw_email) = cart.email.filter(|e| !e.trim().is_empty()) else {
        return Ok(GenericEvent::CartWithoutEmail);
    };
    let email =
        EmailAddress::parse(&raw_email).map_err(|e| InvalidPayload(format!("cart.email: {e}")))?;
    let id = CartId::parse(&cart.id).map_err(|e| InvalidPayload(format!("cart.id: {e}")))?;
    let updated_at = clock::parse_rfc3339(&cart.updated_at)
        .ok_or_else(|| InvalidPayload("cart.updated_at is not an RFC 3339 timestamp".into()))?;
    let currency = valid_currency(&cart.currency)?;

    let line_items = cart
        .line_items
        .into_iter()
        .take(MAX_LINE_ITEMS)
        .map(|item| {
            Ok(LineItem {
                title: truncate(&item.title),
                variant_title: item
                    .variant_title
                    .filter(|v| !v.is_empty())
                    .map(|v| truncate(&v)),
                quantity: item.quantity.unwrap_or(1),
                price: decimal(Some(&item.price)).ok_or_else(|| {
                    InvalidPayload("cart.line_items[].price is not a decimal".into())
                })?,
                image_url: item.image_url.and_then(web_url),
                product_url: item.product_url.and_then(web_url),
            })
        })
        .collect::<Result<Vec<_>, InvalidPayload>>()?;

    Ok(GenericEvent::Cart(Cart {
        id,
        email,
        line_items,
        currency,
        total_price: decimal(cart.total_price.as_ref()).unwrap_or_else(|| "0".into()),
        recovery_url: cart.recovery_url.and_then(web_url),
        locale: cart.locale.filter(|l| l.len() <= 35),
        updated_at,
    }))
}

fn parse_order(order: GenericOrder) -> Result<OrderInput, InvalidPayload> {
    if order.id.is_empty() || order.id.len() > 128 {
        return Err(InvalidPayload(
            "order.id must be 1 to 128 characters".into(),
        ));
    }
    let email = match order.email.filter(|e| !e.trim().is_empty()) {
        Some(raw) => Some(
            EmailAddress::parse(&raw).map_err(|e| InvalidPayload(format!("order.email: {e}")))?,
        ),
        None => None,
    };
    Ok(OrderInput {
        order_id: order.id,
        email,
        cart_ids: order
            .cart_id
            .and_then(|id| CartId::parse(&id).ok())
            .into_iter()
            .collect(),
        currency: order.currency.as_deref().map(valid_currency).transpose()?,
        total_price: decimal(order.total_price.as_ref()),
    })
}

fn valid_currency(code: &str) -> Result<String, InvalidPayload> {
    let valid = code.len() == 3 && code.bytes().all(|b| b.is_ascii_alphabetic());
    valid
        .then(|| code.to_ascii_uppercase())
        .ok_or_else(|| InvalidPayload("currency must be a three-letter ISO 4217 code".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
        mac.update(format!("{timestamp}.").as_bytes());
        mac.update(body);
        format!(
            "t={timestamp},v1={}",
            hex::encode(mac.finalize().into_bytes())
        )
    }

    #[test]
    fn accepts_fresh_signature() {
        let header = sign(b"secret", 1_000, b"{}");
        assert_eq!(
            verify_signature(b"secret", b"{}", &header, 1_000 + TOLERANCE_SECONDS),
            Ok(())
        );
    }

    #[test]
    fn rejects_replay_after_five_minutes() {
        let header = sign(b"secret", 1_000, b"{}");
        assert_eq!(
            verify_signature(b"secret", b"{}", &header, 1_000 + TOLERANCE_SECONDS + 1),
            Err(SignatureError::Expired)
        );
        assert_eq!(
            verify_signature(b"secret", b"{}", &header, 1_000 - TOLERANCE_SECONDS - 1),
            Err(SignatureError::Expired)
        );
    }

    #[test]
    fn rejects_changed_body_timestamp_or_secret() {
        let header = sign(b"secret", 1_000, b"{}");
        assert_eq!(
            verify_signature(b"secret", b"{ }", &header, 1_000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(b"other", b"{}", &header, 1_000),
            Err(SignatureError::Mismatch)
        );
        let moved = header.replace("t=1000", "t=1001");
        assert_eq!(
            verify_signature(b"secret", b"{}", &moved, 1_000),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn rejects_malformed_headers() {
        for header in ["", "t=1000", "v1=abcd", "t=x,v1=abcd", "t=1000,v1=zz"] {
            assert_eq!(
                verify_signature(b"secret", b"{}", header, 1_000),
                Err(SignatureError::Malformed),
                "{header:?}"
            );
        }
    }

    #[test]
    fn accepts_either_signature_during_rotation() {
        let old = sign(b"old", 1_000, b"{}");
        let new = sign(b"new", 1_000, b"{}");
        let both = format!("{new},{}", old.split_once(',').unwrap().1);
        assert_eq!(verify_signature(b"old", b"{}", &both, 1_000), Ok(()));
    }
}
