//! Erasure of a shopper or a whole store, stored data reports, and the audit of privacy
//! requests.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, WriteRequest};
use serde::Serialize;

use super::attributes::{get_opt_s, n, s, Item};
use super::carts::{alias_pk, ALIAS_SK};
use super::{Storage, StorageError, STORE_INDEX};
use crate::clock::UnixSeconds;
use crate::domain::{CustomerKey, StoreId};

/// BatchWriteItem takes at most this many requests.
const BATCH_WRITE_LIMIT: usize = 25;

/// How long a data report for a Shopify data request is kept for the merchant, in seconds (30 days).
pub const REPORT_RETENTION_SECONDS: i64 = 30 * 86_400;

/// Counts of the items an erasure deleted, by kind.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ErasureCounts {
    /// Carts, including any with a pending email.
    pub carts: usize,
    /// Sent-message records with their engagement.
    pub messages: usize,
    /// Shopper profiles (frequency cap and latest cart).
    pub profiles: usize,
    /// Cart-id lookups used to match orders.
    pub cart_aliases: usize,
    /// Daily counter rows (store erasure only).
    pub daily_stats: usize,
    /// Store settings (store erasure only).
    pub stores: usize,
}

impl ErasureCounts {
    fn count(&mut self, item: &Item) {
        match get_opt_s(item, "sk").unwrap_or("") {
            sk if sk.starts_with("cart#") => self.carts += 1,
            sk if sk.starts_with("msg#") => self.messages += 1,
            "profile" => self.profiles += 1,
            "alias" => self.cart_aliases += 1,
            _ => {}
        }
    }
}

/// An audit record of a privacy request: no address, kept after the erasure it records.
#[derive(Clone, Debug, Serialize)]
pub struct AuditRecord {
    /// Request id.
    pub request_id: String,
    /// `data_report`, `erasure`, `store_erasure` or `suppression_import`.
    pub kind: String,
    /// Origin: `merchant_api` or `shopify`.
    pub source: String,
    /// The shopper, when the request is about one.
    pub customer_key: Option<String>,
    /// When it was handled.
    pub at: UnixSeconds,
    /// Counts of what was reported or deleted.
    pub counts: serde_json::Value,
}

impl Storage {
    /// Deletes every item of one shopper at one store: carts (so no email is pending any more),
    /// messages, the profile and the cart-id aliases. The do-not-email list is untouched.
    pub async fn erase_shopper(
        &self,
        store: &StoreId,
        customer: &CustomerKey,
    ) -> Result<ErasureCounts, StorageError> {
        let items = self.shopper_items(store, customer).await?;
        let mut counts = ErasureCounts::default();
        let mut keys = Vec::new();
        for item in &items {
            counts.count(item);
            keys.push(key_of(item));
            if let Some(cart_id) = get_opt_s(item, "sk").and_then(|sk| sk.strip_prefix("cart#")) {
                keys.push(Item::from([
                    ("pk".into(), s(alias_pk(store, cart_id))),
                    ("sk".into(), s(ALIAS_SK)),
                ]));
                counts.cart_aliases += 1;
            }
        }
        self.delete_keys(&self.tables.shoppers, keys).await?;
        Ok(counts)
    }

    /// Deletes every shopper item, the daily counters and the settings of a store. The
    /// do-not-email entries stay, as hashes, so an unsubscribe outlives the store.
    pub async fn erase_store(&self, store: &StoreId) -> Result<ErasureCounts, StorageError> {
        let mut counts = ErasureCounts::default();

        let mut pages = self
            .client
            .query()
            .table_name(&self.tables.shoppers)
            .index_name(STORE_INDEX)
            .key_condition_expression("store_id = :store")
            .expression_attribute_values(":store", s(store.as_str()))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let items = page
                .map_err(|e| StorageError::request("Query", e))?
                .items
                .unwrap_or_default();
            items.iter().for_each(|item| counts.count(item));
            self.delete_keys(&self.tables.shoppers, items.iter().map(key_of).collect())
                .await?;
        }

        let mut pages = self
            .client
            .query()
            .table_name(&self.tables.stats)
            .key_condition_expression("store_id = :store")
            .expression_attribute_values(":store", s(store.as_str()))
            .projection_expression("store_id, #day")
            .expression_attribute_names("#day", "day")
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let keys: Vec<Item> = page
                .map_err(|e| StorageError::request("Query", e))?
                .items
                .unwrap_or_default();
            counts.daily_stats += keys.len();
            self.delete_keys(&self.tables.stats, keys).await?;
        }

        counts.stores = usize::from(self.delete_store(store).await?);
        Ok(counts)
    }

    /// Stores an audit record of a privacy request. It has no TTL, so it is kept.
    pub async fn put_audit(
        &self,
        store: &StoreId,
        record: &AuditRecord,
    ) -> Result<(), StorageError> {
        let mut item = Item::from([
            ("store_id".into(), s(store.as_str())),
            (
                "sk".into(),
                s(format!("audit#{}#{}", record.at, record.request_id)),
            ),
            ("request_id".into(), s(&record.request_id)),
            ("kind".into(), s(&record.kind)),
            ("source".into(), s(&record.source)),
            ("at".into(), n(record.at)),
            ("counts".into(), s(record.counts.to_string())),
        ]);
        if let Some(customer) = &record.customer_key {
            item.insert("customer_key".into(), s(customer));
        }
        self.client
            .put_item()
            .table_name(&self.tables.privacy)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| StorageError::request("PutItem", e))?;
        Ok(())
    }

    /// Stores a data report for the merchant to fetch, kept for 30 days.
    pub async fn put_report(
        &self,
        store: &StoreId,
        request_id: &str,
        report: &serde_json::Value,
        now: UnixSeconds,
    ) -> Result<(), StorageError> {
        self.client
            .put_item()
            .table_name(&self.tables.privacy)
            .item("store_id", s(store.as_str()))
            .item("sk", s(format!("report#{request_id}")))
            .item("report", s(report.to_string()))
            .item("created_at", n(now))
            .item("expires_at", n(now + REPORT_RETENTION_SECONDS))
            .send()
            .await
            .map_err(|e| StorageError::request("PutItem", e))?;
        Ok(())
    }

    /// Loads a stored data report.
    pub async fn report(
        &self,
        store: &StoreId,
        request_id: &str,
    ) -> Result<Option<serde_json::Value>, StorageError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.tables.privacy)
            .key("store_id", s(store.as_str()))
            .key("sk", s(format!("report#{request_id}")))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StorageError::request("GetItem", e))?;
        output
            .item
            .as_ref()
            .and_then(|item| get_opt_s(item, "report"))
            .map(|text| {
                serde_json::from_str(text)
                    .map_err(|e| StorageError::Corrupt(format!("stored report: {e}")))
            })
            .transpose()
    }

    /// Deletes items by key in batches of 25, retrying unprocessed ones.
    pub(crate) async fn delete_keys(
        &self,
        table: &str,
        keys: Vec<Item>,
    ) -> Result<(), StorageError> {
        for chunk in keys.chunks(BATCH_WRITE_LIMIT) {
            let mut requests: Vec<WriteRequest> = chunk
                .iter()
                .map(|key| {
                    let delete = DeleteRequest::builder()
                        .set_key(Some(key.clone()))
                        .build()
                        .map_err(|e| StorageError::request("DeleteRequest", e))?;
                    Ok(WriteRequest::builder().delete_request(delete).build())
                })
                .collect::<Result<_, StorageError>>()?;
            let mut attempt = 0u32;
            while !requests.is_empty() {
                let output = self
                    .client
                    .batch_write_item()
                    .request_items(table, requests)
                    .send()
                    .await
                    .map_err(|e| StorageError::request("BatchWriteItem", e))?;
                requests = output
                    .unprocessed_items
                    .and_then(|mut map: HashMap<String, Vec<WriteRequest>>| map.remove(table))
                    .unwrap_or_default();
                attempt += 1;
                if !requests.is_empty() {
                    tokio::time::sleep(std::time::Duration::from_millis(
                        50 * u64::from(attempt.min(10)),
                    ))
                    .await;
                }
            }
        }
        Ok(())
    }
}

fn key_of(item: &Item) -> Item {
    ["pk", "sk", "store_id", "day"]
        .iter()
        .filter_map(|name| {
            item.get(*name)
                .map(|value| ((*name).to_owned(), value.clone()))
        })
        .filter(|(name, _)| name == "pk" || name == "sk" || item.get("pk").is_none())
        .collect::<HashMap<String, AttributeValue>>()
}
