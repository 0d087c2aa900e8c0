//! Privacy requests: a complete data report of one shopper at one store, erasure, and the audit
//! record each request leaves. Used by the merchant API and the Shopify compliance webhooks.

use serde_json::{json, Map, Value};

use crate::clock::{self, to_rfc3339};
use crate::domain::{EmailAddress, StoreId};
use crate::storage::{AuditRecord, ErasureCounts, Scope, StorageError};
use crate::Context;

/// Attributes that only locate an item; the report shows the facts, not the keys.
const KEY_ATTRIBUTES: [&str; 7] = [
    "pk",
    "sk",
    "kind",
    "store_id",
    "customer_key",
    "email",
    "due_shard",
];
/// Attributes holding seconds since the epoch, shown as RFC 3339 in the report.
const TIME_ATTRIBUTES: [&str; 16] = [
    "created_at",
    "cart_updated_at",
    "due_at",
    "expires_at",
    "stopped_at",
    "claimed_at",
    "sent_at",
    "delivered_at",
    "opened_at",
    "clicked_at",
    "automated_open_at",
    "automated_click_at",
    "last_sent_at",
    "prev_sent_at",
    "latest_cart_at",
    "abandoned_claim_at",
];

/// Origin of a privacy request, for the audit record.
#[derive(Clone, Copy, Debug)]
pub enum Source {
    /// The merchant API.
    MerchantApi,
    /// A Shopify compliance webhook.
    Shopify,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Self::MerchantApi => "merchant_api",
            Self::Shopify => "shopify",
        }
    }
}

/// Builds the data report of everything stored about `email` at `store`. It contains the address,
/// every cart with its contents and times, every message with its delivery, open and click
/// times, the profile, and the address's do-not-email entries with their reasons. Records an
/// audit entry.
pub async fn data_report(
    context: &Context,
    store: &StoreId,
    email: &EmailAddress,
    request_id: &str,
    source: Source,
) -> Result<Value, StorageError> {
    let customer = context.secrets().await?.pepper.customer_key(email);
    let items = context.storage.shopper_items(store, &customer).await?;

    let mut carts = Vec::new();
    let mut messages = Vec::new();
    let mut profile = Value::Null;
    for item in &items {
        let sk = item
            .get("sk")
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default();
        let shown = readable(item)?;
        if sk.starts_with("cart#") {
            carts.push(shown);
        } else if sk.starts_with("msg#") {
            messages.push(shown);
        } else if sk == crate::storage::PROFILE_SK {
            profile = shown;
        }
    }

    let do_not_email: Vec<Value> = context
        .storage
        .suppression_reasons(store, &customer)
        .await?
        .into_iter()
        .map(|(scope, reason)| {
            let scope = match scope {
                Scope::Store(_) => "store",
                Scope::Global => "global",
            };
            json!({ "scope": scope, "reason": reason })
        })
        .collect();

    let now = clock::now();
    let counts = json!({ "carts": carts.len(), "messages": messages.len(), "do_not_email": do_not_email.len() });
    let report = json!({
        "request_id": request_id,
        "store_id": store.as_str(),
        "email": email.as_str(),
        "generated_at": to_rfc3339(now),
        "carts": carts,
        "messages": messages,
        "profile": profile,
        "do_not_email": do_not_email,
    });
    audit(
        context,
        store,
        request_id,
        "data_report",
        source,
        Some(customer.as_str()),
        counts,
    )
    .await?;
    Ok(report)
}

/// Erases everything about `email` at `store` except the keyed hash on the do-not-email list,
/// before returning, and records an audit entry without the address.
pub async fn erase_shopper(
    context: &Context,
    store: &StoreId,
    email: &EmailAddress,
    request_id: &str,
    source: Source,
) -> Result<ErasureCounts, StorageError> {
    let customer = context.secrets().await?.pepper.customer_key(email);
    let counts = context.storage.erase_shopper(store, &customer).await?;
    tracing::info!(store_id = %store, customer_key = %customer, ?counts, "shopper erased");
    let summary = serde_json::to_value(&counts).unwrap_or_default();
    audit(
        context,
        store,
        request_id,
        "erasure",
        source,
        Some(customer.as_str()),
        summary,
    )
    .await?;
    Ok(counts)
}

/// Erases every shopper of a store and the store itself, and records an audit entry.
pub async fn erase_store(
    context: &Context,
    store: &StoreId,
    request_id: &str,
    source: Source,
) -> Result<ErasureCounts, StorageError> {
    let counts = context.storage.erase_store(store).await?;
    tracing::info!(store_id = %store, ?counts, "store erased");
    let summary = serde_json::to_value(&counts).unwrap_or_default();
    audit(
        context,
        store,
        request_id,
        "store_erasure",
        source,
        None,
        summary,
    )
    .await?;
    Ok(counts)
}

/// Records an audit entry of a privacy request.
pub async fn audit(
    context: &Context,
    store: &StoreId,
    request_id: &str,
    kind: &str,
    source: Source,
    customer_key: Option<&str>,
    counts: Value,
) -> Result<(), StorageError> {
    let record = AuditRecord {
        request_id: request_id.to_owned(),
        kind: kind.to_owned(),
        source: source.as_str().to_owned(),
        customer_key: customer_key.map(str::to_owned),
        at: clock::now(),
        counts,
    };
    context.storage.put_audit(store, &record).await
}

/// Converts a stored item into report JSON: key attributes dropped, times as RFC 3339.
fn readable(
    item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
) -> Result<Value, StorageError> {
    let value: Value = serde_dynamo::from_item(item.clone())
        .map_err(|e| StorageError::Corrupt(format!("report item: {e}")))?;
    let Value::Object(map) = value else {
        return Ok(Value::Null);
    };
    let mut shown = Map::new();
    for (name, value) in map {
        if KEY_ATTRIBUTES.contains(&name.as_str()) {
            continue;
        }
        // Zero marks "never" (a first email has no previous send time), so it is left out.
        if TIME_ATTRIBUTES.contains(&name.as_str()) && value.as_i64() == Some(0) {
            continue;
        }
        let value = match (&value, TIME_ATTRIBUTES.contains(&name.as_str())) {
            (Value::Number(number), true) => number
                .as_i64()
                .map(|t| json!(to_rfc3339(t)))
                .unwrap_or(value),
            _ => value,
        };
        shown.insert(name, value);
    }
    Ok(Value::Object(shown))
}
