//! Stores table: settings of each tenant, cached for a minute per Lambda instance.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use secrecy::ExposeSecret;

use super::attributes::{get_bool, get_opt_s, get_s, s, written, Item};
use super::{Storage, StorageError, SHOP_DOMAIN_INDEX};
use crate::clock;
use crate::domain::{Platform, Sequence, Store, StoreId};

/// How long a loaded store stays cached. A paused store or a rotated secret takes effect
/// within this time.
const CACHE_TTL: Duration = Duration::from_secs(60);

#[derive(Clone, Default)]
pub(crate) struct StoreCache(Arc<Mutex<HashMap<String, (Instant, Store)>>>);

impl StoreCache {
    fn get(&self, key: &str) -> Option<Store> {
        let cache = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        cache
            .get(key)
            .filter(|(loaded, _)| loaded.elapsed() < CACHE_TTL)
            .map(|(_, store)| store.clone())
    }

    fn put(&self, key: String, store: &Store) {
        let mut cache = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        cache.insert(key, (Instant::now(), store.clone()));
    }
}

impl Storage {
    /// Loads a store by id, or `None` when it does not exist.
    pub async fn store(&self, id: &StoreId) -> Result<Option<Store>, StorageError> {
        let cache_key = format!("id:{id}");
        if let Some(store) = self.store_cache.get(&cache_key) {
            return Ok(Some(store));
        }

        let output = self
            .client
            .get_item()
            .table_name(&self.tables.stores)
            .key("store_id", s(id.as_str()))
            .send()
            .await
            .map_err(|e| StorageError::request("GetItem", e))?;
        let Some(item) = output.item else {
            return Ok(None);
        };

        let store = store_from_item(&item)?;
        self.store_cache.put(cache_key, &store);
        Ok(Some(store))
    }

    /// Finds the store of a shop domain, such as `example.myshopify.com`.
    pub async fn store_by_domain(&self, domain: &str) -> Result<Option<Store>, StorageError> {
        let domain = domain.trim().to_ascii_lowercase();
        let cache_key = format!("domain:{domain}");
        if let Some(store) = self.store_cache.get(&cache_key) {
            return Ok(Some(store));
        }
        let Some(store) = self.store_by_domain_uncached(&domain).await? else {
            return Ok(None);
        };
        self.store_cache.put(cache_key, &store);
        Ok(Some(store))
    }

    /// Finds the store of a shop domain without the cache, for checks before a write.
    pub async fn store_by_domain_uncached(
        &self,
        domain: &str,
    ) -> Result<Option<Store>, StorageError> {
        let domain = domain.trim().to_ascii_lowercase();

        let output = self
            .client
            .query()
            .table_name(&self.tables.stores)
            .index_name(SHOP_DOMAIN_INDEX)
            .key_condition_expression("shop_domain = :domain")
            .expression_attribute_values(":domain", s(&domain))
            .limit(2)
            .send()
            .await
            .map_err(|e| StorageError::request("Query", e))?;
        output.items().first().map(store_from_item).transpose()
    }

    /// Creates a store. Returns false, changing nothing, when the id is taken.
    pub async fn create_store(&self, store: &Store) -> Result<bool, StorageError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.tables.stores)
            .set_item(Some(store_to_item(store)))
            .condition_expression("attribute_not_exists(store_id)")
            .send()
            .await;
        written(result, "PutItem")
    }

    /// Replaces an existing store. Returns false when no store has this id.
    pub async fn update_store(&self, store: &Store) -> Result<bool, StorageError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.tables.stores)
            .set_item(Some(store_to_item(store)))
            .condition_expression("attribute_exists(store_id)")
            .send()
            .await;
        written(result, "PutItem")
    }

    /// Lists every store, sorted by id. Meant for the operator tool: it scans the table.
    pub async fn list_stores(&self) -> Result<Vec<Store>, StorageError> {
        let mut stores = Vec::new();
        let mut pages = self
            .client
            .scan()
            .table_name(&self.tables.stores)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| StorageError::request("Scan", e))?;
            for item in page.items() {
                stores.push(store_from_item(item)?);
            }
        }
        stores.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(stores)
    }

    /// Deletes a store's settings. Returns false when it did not exist.
    pub async fn delete_store(&self, id: &StoreId) -> Result<bool, StorageError> {
        let output = self
            .client
            .delete_item()
            .table_name(&self.tables.stores)
            .key("store_id", s(id.as_str()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| StorageError::request("DeleteItem", e))?;
        Ok(output.attributes.is_some())
    }

    /// Creates or replaces a store.
    pub async fn put_store(&self, store: &Store) -> Result<(), StorageError> {
        self.client
            .put_item()
            .table_name(&self.tables.stores)
            .set_item(Some(store_to_item(store)))
            .send()
            .await
            .map_err(|e| StorageError::request("PutItem", e))?;
        Ok(())
    }
}

fn store_to_item(store: &Store) -> Item {
    let mut item = Item::from([
        ("store_id".into(), s(store.id.as_str())),
        ("platform".into(), s(platform_name(store.platform))),
        (
            "shop_domain".into(),
            s(store.shop_domain.to_ascii_lowercase()),
        ),
        ("name".into(), s(&store.name)),
        ("sender".into(), s(&store.sender)),
        (
            "webhook_secret".into(),
            s(store.webhook_secret.expose_secret()),
        ),
        ("default_locale".into(), s(&store.default_locale)),
        ("paused".into(), AttributeValue::Bool(store.paused)),
        ("updated_at".into(), super::attributes::n(clock::now())),
    ]);
    if let Some(sequence) = &store.sequence {
        let delays = sequence.delays().iter().map(super::attributes::n).collect();
        item.insert("sequence_delays_seconds".into(), AttributeValue::L(delays));
    }
    if let Some(reply_to) = &store.reply_to {
        item.insert("reply_to".into(), s(reply_to));
    }
    if let Some(hash) = &store.api_key_hash {
        item.insert("api_key_hash".into(), s(hash));
    }
    item
}

fn platform_name(platform: Platform) -> &'static str {
    match platform {
        Platform::Shopify => "shopify",
        Platform::Generic => "generic",
    }
}

fn store_from_item(item: &Item) -> Result<Store, StorageError> {
    let id = StoreId::parse(get_s(item, "store_id")?)
        .map_err(|e| StorageError::Corrupt(e.to_string()))?;
    let platform = match get_s(item, "platform")? {
        "shopify" => Platform::Shopify,
        "generic" => Platform::Generic,
        other => return Err(StorageError::Corrupt(format!("unknown platform {other:?}"))),
    };

    let delays = match item.get("sequence_delays_seconds") {
        Some(AttributeValue::L(values)) => values
            .iter()
            .map(|value| match value {
                AttributeValue::N(number) => number.parse::<i64>().ok(),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| StorageError::Corrupt("sequence delays are not numbers".into()))?,
        _ => Vec::new(),
    };
    let sequence = if delays.is_empty() {
        None
    } else {
        Some(Sequence::new(delays).map_err(|e| StorageError::Corrupt(e.to_string()))?)
    };

    Ok(Store {
        id,
        platform,
        shop_domain: get_s(item, "shop_domain")?.to_owned(),
        name: get_s(item, "name")?.to_owned(),
        sender: get_s(item, "sender")?.to_owned(),
        reply_to: get_opt_s(item, "reply_to").map(str::to_owned),
        webhook_secret: get_s(item, "webhook_secret")?.to_owned().into(),
        sequence,
        default_locale: get_opt_s(item, "default_locale").unwrap_or("en").to_owned(),
        paused: get_bool(item, "paused"),
        api_key_hash: get_opt_s(item, "api_key_hash").map(str::to_owned),
    })
}
