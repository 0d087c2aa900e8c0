//! The do-not-email list. It contains customer keys only and survives a data erasure. Only the
//! shopper's own opt-back-in removes an entry, and only an unsubscribe entry.

use std::collections::{HashMap, HashSet};

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};

use super::attributes::{get_s, n, s, written, Item};
use super::{Storage, StorageError};
use crate::clock::UnixSeconds;
use crate::domain::{CustomerKey, StoreId};

/// BatchGetItem reads at most this many keys per request.
const BATCH_GET_LIMIT: usize = 100;

/// Whose emails an entry blocks.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// One store's recovery emails (unsubscribes, complaints, imports).
    Store(StoreId),
    /// Every store's recovery emails (hard bounces).
    Global,
}

impl Scope {
    /// Returns the partition key value.
    pub fn key(&self) -> String {
        match self {
            Self::Store(id) => format!("store#{id}"),
            Self::Global => "global".to_owned(),
        }
    }
}

/// Reason an address is on the list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SuppressionReason {
    /// The shopper unsubscribed; only this reason can be lifted by opting back in.
    Unsubscribed,
    /// The shopper marked an email as spam.
    Complaint,
    /// The address bounced permanently.
    HardBounce,
    /// The address bounced softly three times within 30 days.
    SoftBounceLimit,
    /// The merchant imported the address from their own do-not-email list.
    Imported,
}

impl SuppressionReason {
    /// Returns the stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unsubscribed => "unsubscribed",
            Self::Complaint => "complaint",
            Self::HardBounce => "hard_bounce",
            Self::SoftBounceLimit => "soft_bounce_limit",
            Self::Imported => "imported",
        }
    }
}

impl Storage {
    /// Puts a customer on the list. An existing entry keeps its reason unless the new reason is
    /// stronger than an unsubscribe, so an opt-back-in can never lift a complaint or a bounce.
    /// Returns true when the entry is new.
    pub async fn suppress(
        &self,
        scope: &Scope,
        customer: &CustomerKey,
        reason: SuppressionReason,
        now: UnixSeconds,
    ) -> Result<bool, StorageError> {
        let mut request = self
            .client
            .put_item()
            .table_name(&self.tables.suppression)
            .item("scope", s(scope.key()))
            .item("customer_key", s(customer.as_str()))
            .item("reason", s(reason.as_str()))
            .item("created_at", n(now));
        request = if reason == SuppressionReason::Unsubscribed {
            request.condition_expression("attribute_not_exists(customer_key)")
        } else {
            request
                .condition_expression(
                    "attribute_not_exists(customer_key) OR reason = :unsubscribed",
                )
                .expression_attribute_values(
                    ":unsubscribed",
                    s(SuppressionReason::Unsubscribed.as_str()),
                )
        };

        written(request.send().await, "PutItem")
    }

    /// Lifts a store-scoped unsubscribe. Complaints and bounces stay. Returns true when an
    /// unsubscribe was removed.
    pub async fn lift_unsubscribe(
        &self,
        store: &StoreId,
        customer: &CustomerKey,
    ) -> Result<bool, StorageError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.tables.suppression)
            .key("scope", s(Scope::Store(store.clone()).key()))
            .key("customer_key", s(customer.as_str()))
            .condition_expression("reason = :unsubscribed")
            .expression_attribute_values(
                ":unsubscribed",
                s(SuppressionReason::Unsubscribed.as_str()),
            )
            .send()
            .await;
        written(result, "DeleteItem")
    }

    /// Returns the reasons a customer is on the list for a store, store scope first; empty when
    /// the customer may be emailed.
    pub async fn suppression_reasons(
        &self,
        store: &StoreId,
        customer: &CustomerKey,
    ) -> Result<Vec<(Scope, String)>, StorageError> {
        let found = self
            .suppressed_among(store, std::slice::from_ref(customer))
            .await?;
        Ok(found
            .into_iter()
            .map(|(scope, _, reason)| (scope, reason))
            .collect())
    }

    /// Returns which of `customers` are on the list for `store`, in either scope.
    pub async fn suppressed_set(
        &self,
        store: &StoreId,
        customers: &[CustomerKey],
    ) -> Result<HashSet<CustomerKey>, StorageError> {
        let found = self.suppressed_among(store, customers).await?;
        Ok(found.into_iter().map(|(_, customer, _)| customer).collect())
    }

    async fn suppressed_among(
        &self,
        store: &StoreId,
        customers: &[CustomerKey],
    ) -> Result<Vec<(Scope, CustomerKey, String)>, StorageError> {
        let scopes = [Scope::Store(store.clone()), Scope::Global];
        let mut keys: Vec<Item> = Vec::new();
        let mut seen = HashSet::new();
        for customer in customers {
            if !seen.insert(customer.clone()) {
                continue;
            }
            for scope in &scopes {
                keys.push(Item::from([
                    ("scope".into(), s(scope.key())),
                    ("customer_key".into(), s(customer.as_str())),
                ]));
            }
        }

        let mut found = Vec::new();
        for chunk in keys.chunks(BATCH_GET_LIMIT) {
            let mut pending: Vec<Item> = chunk.to_vec();
            // UnprocessedKeys come back under throttling; retry them until none remain.
            while !pending.is_empty() {
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(pending))
                    .projection_expression("#scope, customer_key, reason")
                    .expression_attribute_names("#scope", "scope")
                    .consistent_read(true)
                    .build()
                    .map_err(|e| StorageError::request("BatchGetItem", e))?;
                let output = self
                    .client
                    .batch_get_item()
                    .request_items(&self.tables.suppression, request)
                    .send()
                    .await
                    .map_err(|e| StorageError::request("BatchGetItem", e))?;

                let items = output
                    .responses
                    .unwrap_or_default()
                    .remove(&self.tables.suppression)
                    .unwrap_or_default();
                for item in items {
                    found.push(entry_from_item(&item, store)?);
                }
                pending = unprocessed(output.unprocessed_keys, &self.tables.suppression);
            }
        }
        found.sort_by_key(|(scope, _, _)| *scope == Scope::Global);
        Ok(found)
    }
}

fn unprocessed(keys: Option<HashMap<String, KeysAndAttributes>>, table: &str) -> Vec<Item> {
    keys.and_then(|mut map| map.remove(table))
        .map(|keys| keys.keys)
        .unwrap_or_default()
}

fn entry_from_item(
    item: &Item,
    store: &StoreId,
) -> Result<(Scope, CustomerKey, String), StorageError> {
    let scope = if get_s(item, "scope")? == "global" {
        Scope::Global
    } else {
        Scope::Store(store.clone())
    };
    let customer = CustomerKey::parse(get_s(item, "customer_key")?)
        .map_err(|e| StorageError::Corrupt(e.to_string()))?;
    let reason = match item.get("reason") {
        Some(AttributeValue::S(reason)) => reason.clone(),
        _ => "unknown".to_owned(),
    };
    Ok((scope, customer, reason))
}
