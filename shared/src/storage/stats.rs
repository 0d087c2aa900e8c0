//! Per-store daily counters, updated with atomic ADD.

use aws_sdk_dynamodb::types::AttributeValue;

use super::attributes::{n, s};
use super::{Storage, StorageError};
use crate::clock::{utc_day, UnixSeconds};
use crate::domain::StoreId;

/// A daily counter of a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Counter {
    /// Carts tracked.
    Carts,
    /// Recovery emails sent.
    Sent,
    /// Shoppers who unsubscribed.
    Unsubscribed,
    /// Hard bounces.
    Bounced,
    /// Spam complaints.
    Complained,
    /// Carts ordered after a recovery email.
    Recovered,
    /// Emails delivered.
    Delivered,
    /// Emails opened by a person (first open of each email).
    Opened,
    /// Emails with a link followed by a person (first click of each email).
    Clicked,
    /// Opens made by a privacy proxy or scanner, left out of the open rate.
    AutomatedOpens,
    /// Click bursts made by a scanner, left out of the click rate.
    AutomatedClicks,
    /// Transient or undetermined bounces.
    SoftBounced,
}

impl Counter {
    /// Every counter, in report order.
    pub const ALL: [Counter; 12] = [
        Counter::Carts,
        Counter::Sent,
        Counter::Delivered,
        Counter::Opened,
        Counter::Clicked,
        Counter::Unsubscribed,
        Counter::Bounced,
        Counter::SoftBounced,
        Counter::Complained,
        Counter::Recovered,
        Counter::AutomatedOpens,
        Counter::AutomatedClicks,
    ];

    /// Returns the attribute name of the counter.
    pub fn attribute(self) -> &'static str {
        match self {
            Self::Carts => "carts",
            Self::Sent => "sent",
            Self::Unsubscribed => "unsubscribed",
            Self::Bounced => "bounced",
            Self::Complained => "complained",
            Self::Recovered => "recovered",
            Self::Delivered => "delivered",
            Self::Opened => "opened",
            Self::Clicked => "clicked",
            Self::AutomatedOpens => "automated_opens",
            Self::AutomatedClicks => "automated_clicks",
            Self::SoftBounced => "soft_bounced",
        }
    }
}

impl Storage {
    /// Adds to counters of a store for the UTC day of `at`, in one request.
    pub async fn add_counters(
        &self,
        store: &StoreId,
        at: UnixSeconds,
        counters: &[(Counter, i64)],
    ) -> Result<(), StorageError> {
        if counters.is_empty() {
            return Ok(());
        }

        let mut expression = String::from("ADD ");
        let mut request = self
            .client
            .update_item()
            .table_name(&self.tables.stats)
            .key("store_id", s(store.as_str()))
            .key("day", s(utc_day(at)));
        for (index, (counter, amount)) in counters.iter().enumerate() {
            if index > 0 {
                expression.push_str(", ");
            }
            expression.push_str(&format!("#c{index} :v{index}"));
            request = request
                .expression_attribute_names(format!("#c{index}"), counter.attribute())
                .expression_attribute_values(format!(":v{index}"), n(amount));
        }

        request
            .update_expression(expression)
            .send()
            .await
            .map_err(|e| StorageError::request("UpdateItem", e))?;
        Ok(())
    }

    /// Adds recovered revenue in minor units of `currency` to the store's day of `at`, in the
    /// attribute `revenue_{CURRENCY}`.
    pub async fn add_revenue(
        &self,
        store: &StoreId,
        at: UnixSeconds,
        currency: &str,
        minor_units: i64,
    ) -> Result<(), StorageError> {
        let currency = currency.to_ascii_uppercase();
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(StorageError::Corrupt(format!(
                "invalid currency code {currency:?}"
            )));
        }
        self.client
            .update_item()
            .table_name(&self.tables.stats)
            .key("store_id", s(store.as_str()))
            .key("day", s(utc_day(at)))
            .update_expression("ADD #revenue :amount")
            .expression_attribute_names("#revenue", format!("revenue_{currency}"))
            .expression_attribute_values(":amount", n(minor_units))
            .send()
            .await
            .map_err(|e| StorageError::request("UpdateItem", e))?;
        Ok(())
    }

    /// Reads one day's counters of a store; missing counters are zero.
    pub async fn counters(
        &self,
        store: &StoreId,
        day: &str,
    ) -> Result<Vec<(Counter, i64)>, StorageError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.tables.stats)
            .key("store_id", s(store.as_str()))
            .key("day", s(day))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StorageError::request("GetItem", e))?;
        let item = output.item.unwrap_or_default();
        let all = Counter::ALL;
        Ok(all
            .into_iter()
            .map(|counter| {
                let value = match item.get(counter.attribute()) {
                    Some(AttributeValue::N(number)) => number.parse().unwrap_or(0),
                    _ => 0,
                };
                (counter, value)
            })
            .collect())
    }
}

impl Storage {
    /// Sums every counter of a store over the UTC days `from` to `to` (inclusive, `YYYY-MM-DD`),
    /// including the `revenue_{CURRENCY}` attributes.
    pub async fn counters_between(
        &self,
        store: &StoreId,
        from: &str,
        to: &str,
    ) -> Result<std::collections::BTreeMap<String, i64>, StorageError> {
        let mut totals = std::collections::BTreeMap::new();
        let mut pages = self
            .client
            .query()
            .table_name(&self.tables.stats)
            .key_condition_expression("store_id = :store AND #day BETWEEN :from AND :to")
            .expression_attribute_names("#day", "day")
            .expression_attribute_values(":store", s(store.as_str()))
            .expression_attribute_values(":from", s(from))
            .expression_attribute_values(":to", s(to))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| StorageError::request("Query", e))?;
            for item in page.items() {
                for (name, value) in item {
                    if let AttributeValue::N(number) = value {
                        *totals.entry(name.clone()).or_insert(0) +=
                            number.parse::<i64>().unwrap_or(0);
                    }
                }
            }
        }
        Ok(totals)
    }
}
