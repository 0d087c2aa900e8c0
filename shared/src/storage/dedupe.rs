//! Idempotency records: ids of webhooks and SES events already handled, kept for a week.

use aws_sdk_dynamodb::types::{Put, TransactWriteItem};

use super::attributes::{n, s, written};
use super::{Storage, StorageError};
use crate::clock::UnixSeconds;

/// How long an event id is remembered, in seconds. Shopify retries a webhook for up to 48 hours
/// and EventBridge an event for up to 24 hours, so a week covers every redelivery.
pub const DEDUPE_TTL_SECONDS: i64 = 7 * 86_400;

impl Storage {
    /// Builds the transaction item that records `id` and fails if it was recorded before.
    pub(crate) fn dedupe_put(
        &self,
        id: &str,
        now: UnixSeconds,
    ) -> Result<TransactWriteItem, StorageError> {
        let put = Put::builder()
            .table_name(&self.tables.idempotency)
            .item("id", s(id))
            .item("expires_at", n(now + DEDUPE_TTL_SECONDS))
            .condition_expression("attribute_not_exists(id)")
            .build()
            .map_err(|e| StorageError::request("Put", e))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Records `id` and returns false if it was recorded before.
    pub async fn record_once(&self, id: &str, now: UnixSeconds) -> Result<bool, StorageError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.tables.idempotency)
            .item("id", s(id))
            .item("expires_at", n(now + DEDUPE_TTL_SECONDS))
            .condition_expression("attribute_not_exists(id)")
            .send()
            .await;
        written(result, "PutItem")
    }

    /// Forgets `id`, so that a retry of an event whose handling failed is not taken for a duplicate.
    pub async fn forget(&self, id: &str) -> Result<(), StorageError> {
        self.client
            .delete_item()
            .table_name(&self.tables.idempotency)
            .key("id", s(id))
            .send()
            .await
            .map_err(|e| StorageError::request("DeleteItem", e))?;
        Ok(())
    }
}
