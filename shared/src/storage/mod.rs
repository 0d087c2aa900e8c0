//! DynamoDB storage.
//!
//! Tables and keys (template.yaml declares the same):
//! - stores: `store_id`; index `shop-domain-index` on `shop_domain`.
//! - shoppers: `pk` = `{store_id}#{customer_key}`, `sk` = `profile`, `cart#{cart_id}` or
//!   `msg#{cart_id}#{step}`, so a data report or an erasure is one Query. Index `due-index`
//!   (`due_shard`, `due_at`) is sparse: a cart carries those two attributes only while an email is
//!   pending, so the sender reads due work only.
//! - suppression: `scope` (`store#{store_id}` or `global`), `customer_key`.
//! - idempotency: `id`, with the TTL attribute `expires_at`.
//! - stats: `store_id`, `day` (`YYYY-MM-DD`, UTC), counters updated with atomic ADD.
//! - privacy: `store_id`, `sk` = `audit#{time}#{id}` (kept) or `report#{id}` (TTL `expires_at`).
//!
//! Every shoppers item carries `store_id`, and the keys-only index `store-index` on it lets a
//! whole store be erased without a Scan.

mod attributes;
mod carts;
mod dedupe;
mod engagement;
mod privacy;
mod sending;
mod stats;
mod stores;
mod suppression;

use aws_sdk_dynamodb::Client;

pub use carts::{StopReason, StoppedCart, UpsertOutcome, CART_RETENTION_SECONDS};
pub use engagement::{MessageRef, SOFT_BOUNCE_WINDOW_SECONDS};
pub use privacy::{AuditRecord, ErasureCounts, REPORT_RETENTION_SECONDS};
pub use sending::{ClaimOutcome, DueCart, CLAIM_LEASE_SECONDS};
pub use stats::Counter;
pub use suppression::{Scope, SuppressionReason};

use crate::config::Tables;
use crate::domain::{CustomerKey, StoreId};

/// Number of shards of the due-index. Each sender run queries every shard, so no single index
/// partition takes all the writes of a busy hour.
pub const DUE_SHARDS: u32 = 16;

/// Name of the sparse index of pending sends.
pub const DUE_INDEX: &str = "due-index";

/// Name of the keys-only index of shopper items by store, used to erase a whole store.
pub const STORE_INDEX: &str = "store-index";

/// Name of the index of stores by shop domain.
pub const SHOP_DOMAIN_INDEX: &str = "shop-domain-index";

/// A DynamoDB request failed or returned an item this code cannot read. Either way the caller
/// should fail the invocation so that the sender of the event retries.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The request failed.
    #[error("DynamoDB {operation} failed")]
    Request {
        /// The operation, such as `TransactWriteItems`.
        operation: &'static str,
        /// The SDK error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A stored item lacks an attribute or has one of the wrong type.
    #[error("stored item is unreadable: {0}")]
    Corrupt(String),
    /// The secrets that keys are derived from could not be read.
    #[error("secrets are unavailable")]
    Secrets(#[from] crate::secrets::SecretsError),
}

impl StorageError {
    pub(crate) fn request<E>(operation: &'static str, error: E) -> Self
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        Self::Request {
            operation,
            source: Box::new(error),
        }
    }
}

/// Access to every table. Cloning is cheap.
#[derive(Clone)]
pub struct Storage {
    client: Client,
    tables: Tables,
    store_cache: stores::StoreCache,
}

impl Storage {
    /// Wraps a DynamoDB client and the table names.
    pub fn new(client: Client, tables: Tables) -> Self {
        Self {
            client,
            tables,
            store_cache: stores::StoreCache::default(),
        }
    }

    /// Returns the DynamoDB client, for tools and tests that read raw items.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Returns the table names.
    pub fn tables(&self) -> &Tables {
        &self.tables
    }
}

/// Returns the partition key of everything about one shopper in one store.
pub fn shopper_pk(store: &StoreId, customer: &CustomerKey) -> String {
    format!("{store}#{customer}")
}

/// Returns the sort key of a cart item.
pub fn cart_sk(cart_id: &str) -> String {
    format!("cart#{cart_id}")
}

/// Returns the sort key of a message item.
pub fn message_sk(cart_id: &str, step: u32) -> String {
    format!("msg#{cart_id}#{step}")
}

/// Sort key of the shopper's profile item, which contains the frequency-cap time and latest cart.
pub const PROFILE_SK: &str = "profile";

/// Picks the due-index shard of a cart from its keys, so one cart always lands on one shard.
pub fn due_shard(pk: &str, sk: &str) -> String {
    // FNV-1a: stable across builds and platforms, unlike the standard library's hasher.
    let mut hash: u32 = 0x811c_9dc5;
    for byte in pk.bytes().chain(sk.bytes()) {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    (hash % DUE_SHARDS).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_shard_is_stable_and_in_range() {
        let shard = due_shard("store#abc", "cart#1");
        assert_eq!(shard, due_shard("store#abc", "cart#1"));
        let mut seen = std::collections::HashSet::new();
        for i in 0..500 {
            let shard: u32 = due_shard("s#k", &format!("cart#{i}")).parse().unwrap();
            assert!(shard < DUE_SHARDS);
            seen.insert(shard);
        }
        assert_eq!(
            seen.len(),
            DUE_SHARDS as usize,
            "500 carts should reach every shard"
        );
    }
}
