//! Engagement on message items (delivery, open and click times) and the soft-bounce tracker.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::attributes::{get_opt_n, n, s, written, Item};
use super::{message_sk, shopper_pk, Storage, StorageError};
use crate::clock::UnixSeconds;
use crate::domain::{CustomerKey, StoreId};

/// Soft bounces within this window count toward suppression, in seconds (30 days).
pub const SOFT_BOUNCE_WINDOW_SECONDS: i64 = 30 * 86_400;

/// Partition of the soft-bounce tracker in the suppression table. It is not a do-not-email
/// scope: it only counts soft bounces per address until they reach the limit.
const SOFT_BOUNCE_SCOPE: &str = "soft-bounces";

/// Most clicks kept on a message item, newest last.
const MAX_CLICKS_KEPT: usize = 20;

/// The message a SES event is about, as its tags name it.
#[derive(Clone, Debug)]
pub struct MessageRef {
    /// Store.
    pub store: StoreId,
    /// Shopper.
    pub customer: CustomerKey,
    /// Cart id.
    pub cart_id: String,
    /// Step of the sequence.
    pub step: u32,
}

impl MessageRef {
    fn key(&self) -> (AttributeValue, AttributeValue) {
        (
            s(shopper_pk(&self.store, &self.customer)),
            s(message_sk(&self.cart_id, self.step)),
        )
    }
}

impl Storage {
    /// Loads a message item, or `None` when it does not exist (erased, or not this product's).
    pub async fn message(&self, message: &MessageRef) -> Result<Option<Item>, StorageError> {
        let (pk, sk) = message.key();
        let output = self
            .client
            .get_item()
            .table_name(&self.tables.shoppers)
            .key("pk", pk)
            .key("sk", sk)
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StorageError::request("GetItem", e))?;
        Ok(output.item)
    }

    /// Sets `attribute` to `at` on an existing message item unless it is already set. Returns
    /// true when this call set it, so a first delivery, open or click is counted once.
    pub async fn mark_first(
        &self,
        message: &MessageRef,
        attribute: &str,
        at: UnixSeconds,
    ) -> Result<bool, StorageError> {
        let (pk, sk) = message.key();
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.shoppers)
            .key("pk", pk)
            .key("sk", sk)
            .update_expression("SET #attribute = :at")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(#attribute)")
            .expression_attribute_names("#attribute", attribute)
            .expression_attribute_values(":at", n(at))
            .send()
            .await;
        written(result, "UpdateItem")
    }

    /// Removes an attribute from a message item.
    pub async fn clear_attribute(
        &self,
        message: &MessageRef,
        attribute: &str,
    ) -> Result<(), StorageError> {
        let (pk, sk) = message.key();
        self.client
            .update_item()
            .table_name(&self.tables.shoppers)
            .key("pk", pk)
            .key("sk", sk)
            .update_expression("REMOVE #attribute")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#attribute", attribute)
            .send()
            .await
            .map(|_| ())
            .or_else(|error| {
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception())
                {
                    Ok(())
                } else {
                    Err(StorageError::request("UpdateItem", error))
                }
            })
    }

    /// Appends a click to a message item and returns every kept click as (time, link).
    pub async fn record_click(
        &self,
        message: &MessageRef,
        link: &str,
        at: UnixSeconds,
    ) -> Result<Vec<(UnixSeconds, String)>, StorageError> {
        let (pk, sk) = message.key();
        let click = AttributeValue::M(
            [
                ("at".to_owned(), n(at)),
                (
                    "link".to_owned(),
                    s(link.chars().take(500).collect::<String>()),
                ),
            ]
            .into(),
        );
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.shoppers)
            .key("pk", pk)
            .key("sk", sk)
            .update_expression("SET clicks = list_append(if_not_exists(clicks, :empty), :click)")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":empty", AttributeValue::L(Vec::new()))
            .expression_attribute_values(":click", AttributeValue::L(vec![click]))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        let item = match result {
            Ok(output) => output.attributes.unwrap_or_default(),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                return Ok(Vec::new())
            }
            Err(error) => return Err(StorageError::request("UpdateItem", error)),
        };

        let clicks: Vec<(UnixSeconds, String)> = match item.get("clicks") {
            Some(AttributeValue::L(list)) => list
                .iter()
                .filter_map(|value| match value {
                    AttributeValue::M(click) => Some((
                        get_opt_n(click, "at")?,
                        super::attributes::get_opt_s(click, "link")
                            .unwrap_or_default()
                            .to_owned(),
                    )),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        if clicks.len() > MAX_CLICKS_KEPT {
            // Keep the item small; the oldest clicks no longer matter for burst detection.
            let (pk, sk) = message.key();
            self.client
                .update_item()
                .table_name(&self.tables.shoppers)
                .key("pk", pk)
                .key("sk", sk)
                .update_expression("REMOVE clicks[0]")
                .send()
                .await
                .map_err(|e| StorageError::request("UpdateItem", e))?;
        }
        Ok(clicks)
    }

    /// Records a soft bounce of an address at `at` and returns how many fall within the last
    /// 30 days, this one included.
    pub async fn record_soft_bounce(
        &self,
        customer: &CustomerKey,
        at: UnixSeconds,
    ) -> Result<usize, StorageError> {
        let output = self
            .client
            .update_item()
            .table_name(&self.tables.suppression)
            .key("scope", s(SOFT_BOUNCE_SCOPE))
            .key("customer_key", s(customer.as_str()))
            .update_expression("SET bounces = list_append(if_not_exists(bounces, :empty), :bounce)")
            .expression_attribute_values(":empty", AttributeValue::L(Vec::new()))
            .expression_attribute_values(":bounce", AttributeValue::L(vec![n(at)]))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(|e| StorageError::request("UpdateItem", e))?;

        let bounces: Vec<i64> = match output
            .attributes
            .as_ref()
            .and_then(|item| item.get("bounces"))
        {
            Some(AttributeValue::L(list)) => list
                .iter()
                .filter_map(|value| value.as_n().ok()?.parse().ok())
                .collect(),
            _ => Vec::new(),
        };
        let recent: Vec<i64> = bounces
            .iter()
            .copied()
            .filter(|time| at - time < SOFT_BOUNCE_WINDOW_SECONDS)
            .collect();
        if recent.len() < bounces.len() {
            // Drop bounces older than the window so the list stays short.
            self.client
                .put_item()
                .table_name(&self.tables.suppression)
                .item("scope", s(SOFT_BOUNCE_SCOPE))
                .item("customer_key", s(customer.as_str()))
                .item("bounces", AttributeValue::L(recent.iter().map(n).collect()))
                .send()
                .await
                .map_err(|e| StorageError::request("PutItem", e))?;
        }
        Ok(recent.len())
    }
}
