//! Cart items: upserts from webhooks and stops from orders, unsubscribes and bounces.

use std::time::Duration;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, ConditionCheck, Put, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, Update,
};

use super::attributes::{get_opt_n, get_opt_s, n, s, Item};
use super::suppression::Scope;
use super::{cart_sk, due_shard, shopper_pk, Storage, StorageError};
use crate::clock::UnixSeconds;
use crate::domain::{Cart, CartStatus, CustomerKey, Sequence, StoreId};

/// How long cart data is kept after the last cart activity, in seconds (60 days): long enough
/// for the longest sequence and for attributing a late order, short enough to minimize data.
pub const CART_RETENTION_SECONDS: i64 = 60 * 86_400;

/// Attempts of a transaction that lost a race with another writer of the same items.
const CONFLICT_ATTEMPTS: u32 = 4;

/// Outcome of an upsert.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UpsertOutcome {
    /// The cart was stored and its first email scheduled (or moved later).
    Scheduled {
        /// When the first email is due.
        due_at: UnixSeconds,
        /// True when the cart was new.
        created: bool,
    },
    /// The contents changed; emails already under way keep their schedule.
    ContentsUpdated,
    /// The cart became empty and its pending emails were cancelled.
    Emptied,
    /// This event id was handled before.
    Duplicate,
    /// The stored cart is newer than this update.
    Stale,
    /// The cart is closed (ordered, finished, stopped) or was empty on arrival; nothing changed.
    Ignored,
    /// The shopper is on the do-not-email list; nothing was stored.
    Suppressed,
}

/// Reason pending emails stop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// The shopper ordered; the order id is recorded on each cart.
    Ordered {
        /// The platform's order id.
        order_id: String,
    },
    /// The shopper is on the do-not-email list.
    Suppressed,
}

/// A cart whose emails were stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoppedCart {
    /// Cart id.
    pub cart_id: String,
    /// Recovery emails already sent for it.
    pub emails_sent: u32,
    /// Cart total as a decimal string.
    pub total_price: String,
    /// ISO 4217 currency code.
    pub currency: String,
}

enum CartWrite {
    /// Store a new cart and schedule its first email.
    Create { due_at: UnixSeconds },
    /// Replace contents and move the first email later; allowed before the first send.
    Reschedule { due_at: UnixSeconds, seen: Version },
    /// Replace contents only; allowed while the cart is pending.
    ContentsOnly { seen: Version },
    /// Mark the cart emptied and cancel its pending emails.
    Empty { seen: Version },
}

/// The stored cart version a follow-up write expects, so a concurrent change makes it fail.
#[derive(Clone)]
struct Version {
    updated_at: UnixSeconds,
    status: String,
}

/// Rounds of read-decide-write before an upsert gives up on a cart that keeps changing.
const UPSERT_ROUNDS: u32 = 3;

impl Storage {
    /// Stores a cart from a webhook and schedules its first email.
    ///
    /// Each write is one transaction that also records the event id (when there is one) and
    /// checks both do-not-email scopes, so a duplicate, an out-of-order update or a suppressed
    /// shopper changes nothing. A new cart costs one request; an update costs two, because the
    /// first attempt returns the stored cart that decides the second.
    pub async fn upsert_cart(
        &self,
        store: &StoreId,
        customer: &CustomerKey,
        cart: &Cart,
        sequence: &Sequence,
        event_id: Option<&str>,
        now: UnixSeconds,
    ) -> Result<UpsertOutcome, StorageError> {
        let due_at = sequence
            .due_at(0, cart.updated_at)
            .expect("a validated sequence has at least one step");
        if cart.line_items.is_empty() {
            // An empty cart is only worth writing when it cancels a pending one.
            let Some(old) = self
                .get_cart_item(store, customer, cart.id.as_str())
                .await?
            else {
                return Ok(UpsertOutcome::Ignored);
            };
            return self
                .follow_up(store, customer, cart, old, due_at, event_id, now)
                .await;
        }

        let create = CartWrite::Create { due_at };
        let mut result = self
            .write_cart(store, customer, cart, &create, event_id, now)
            .await?;
        if let WriteResult::OwnedByOtherCustomer(previous) = result {
            // The shopper changed the address on this checkout: the cart moves to the new
            // address, and the old address gets no more reminders about it.
            if let Some(previous) = previous {
                self.supersede_cart(store, &previous, cart.id.as_str(), now)
                    .await?;
            }
            self.client
                .put_item()
                .table_name(&self.tables.shoppers)
                .set_item(Some(alias_item(store, cart.id.as_str(), customer, now)))
                .send()
                .await
                .map_err(|e| StorageError::request("PutItem", e))?;
            result = self
                .write_cart(store, customer, cart, &create, event_id, now)
                .await?;
        }
        match result {
            WriteResult::CartConditionFailed(old) => {
                let old = match old {
                    Some(item) => item,
                    None => self
                        .get_cart_item(store, customer, cart.id.as_str())
                        .await?
                        .unwrap_or_default(),
                };
                self.follow_up(store, customer, cart, old, due_at, event_id, now)
                    .await
            }
            WriteResult::Written => Ok(UpsertOutcome::Scheduled {
                due_at,
                created: true,
            }),
            WriteResult::Duplicate => Ok(UpsertOutcome::Duplicate),
            WriteResult::Suppressed => Ok(UpsertOutcome::Suppressed),
            WriteResult::OwnedByOtherCustomer(_) => Err(StorageError::Corrupt(
                "cart alias changed owner twice during one upsert".into(),
            )),
        }
    }

    /// Builds the transaction item that makes `cart` the shopper's latest cart, so the sender
    /// ends the sequence of any older cart instead of emailing about both.
    fn latest_cart_update(
        &self,
        store: &StoreId,
        customer: &CustomerKey,
        cart: &Cart,
        now: UnixSeconds,
    ) -> Result<TransactWriteItem, StorageError> {
        let update = Update::builder()
            .table_name(&self.tables.shoppers)
            .key("pk", s(shopper_pk(store, customer)))
            .key("sk", s(super::PROFILE_SK))
            .update_expression(
                "SET kind = :kind, store_id = :store, latest_cart = :cart, latest_cart_at = :updated, \
                 expires_at = :expires",
            )
            .expression_attribute_values(":kind", s("profile"))
            .expression_attribute_values(":store", s(store.as_str()))
            .expression_attribute_values(":cart", s(cart.id.as_str()))
            .expression_attribute_values(":updated", n(cart.updated_at))
            .expression_attribute_values(":expires", n(cart.updated_at.max(now) + CART_RETENTION_SECONDS))
            .build()
            .map_err(|e| StorageError::request("Update", e))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    fn cart_alias_put(
        &self,
        store: &StoreId,
        cart_id: &str,
        customer: &CustomerKey,
        now: UnixSeconds,
    ) -> Result<TransactWriteItem, StorageError> {
        let put = Put::builder()
            .table_name(&self.tables.shoppers)
            .set_item(Some(alias_item(store, cart_id, customer, now)))
            .condition_expression("attribute_not_exists(pk) OR customer_key = :customer")
            .expression_attribute_values(":customer", s(customer.as_str()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(|e| StorageError::request("Put", e))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Returns the shopper a cart id belongs to, from the cart's alias item.
    pub async fn cart_owner(
        &self,
        store: &StoreId,
        cart_id: &str,
    ) -> Result<Option<CustomerKey>, StorageError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.tables.shoppers)
            .key("pk", s(alias_pk(store, cart_id)))
            .key("sk", s(ALIAS_SK))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StorageError::request("GetItem", e))?;
        Ok(output
            .item
            .as_ref()
            .and_then(|item| get_opt_s(item, "customer_key"))
            .and_then(|key| CustomerKey::parse(key).ok()))
    }

    /// Ends a pending cart of `customer` because a newer cart or another address took it over.
    pub async fn supersede_cart(
        &self,
        store: &StoreId,
        customer: &CustomerKey,
        cart_id: &str,
        now: UnixSeconds,
    ) -> Result<(), StorageError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.shoppers)
            .key("pk", s(shopper_pk(store, customer)))
            .key("sk", s(cart_sk(cart_id)))
            .update_expression(
                "SET #status = :superseded, stopped_at = :now REMOVE due_shard, due_at",
            )
            .condition_expression("#status = :pending")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":superseded", s("superseded"))
            .expression_attribute_values(":pending", s("pending"))
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(error) => Err(StorageError::request("UpdateItem", error)),
        }
    }

    /// Applies an update to an existing cart, deciding from the stored item `old`.
    #[allow(clippy::too_many_arguments)]
    async fn follow_up(
        &self,
        store: &StoreId,
        customer: &CustomerKey,
        cart: &Cart,
        mut old: Item,
        due_at: UnixSeconds,
        event_id: Option<&str>,
        now: UnixSeconds,
    ) -> Result<UpsertOutcome, StorageError> {
        for _ in 0..UPSERT_ROUNDS {
            if old.is_empty() {
                return Ok(UpsertOutcome::Ignored);
            }
            let seen = Version {
                updated_at: get_opt_n(&old, "cart_updated_at").unwrap_or(i64::MIN),
                status: get_opt_s(&old, "status").unwrap_or_default().to_owned(),
            };
            if seen.updated_at >= cart.updated_at {
                return Ok(UpsertOutcome::Stale);
            }

            let first_email_pending =
                get_opt_n(&old, "next_step") == Some(0) && !old.contains_key("claim_step");
            let write = match (cart.line_items.is_empty(), seen.status.as_str()) {
                (true, "pending") => CartWrite::Empty { seen },
                (false, "pending" | "emptied") if first_email_pending => {
                    CartWrite::Reschedule { due_at, seen }
                }
                (false, "pending") => CartWrite::ContentsOnly { seen },
                _ => return Ok(UpsertOutcome::Ignored),
            };

            match self
                .write_cart(store, customer, cart, &write, event_id, now)
                .await?
            {
                WriteResult::Written => {
                    return Ok(match write {
                        CartWrite::Create { due_at } | CartWrite::Reschedule { due_at, .. } => {
                            UpsertOutcome::Scheduled {
                                due_at,
                                created: false,
                            }
                        }
                        CartWrite::ContentsOnly { .. } => UpsertOutcome::ContentsUpdated,
                        CartWrite::Empty { .. } => UpsertOutcome::Emptied,
                    })
                }
                WriteResult::Duplicate => return Ok(UpsertOutcome::Duplicate),
                WriteResult::Suppressed => return Ok(UpsertOutcome::Suppressed),
                WriteResult::OwnedByOtherCustomer(_) => {
                    unreachable!("only a create writes the alias")
                }
                // The cart changed between the read and the write: decide again.
                WriteResult::CartConditionFailed(item) => {
                    old = match item {
                        Some(item) => item,
                        None => self
                            .get_cart_item(store, customer, cart.id.as_str())
                            .await?
                            .unwrap_or_default(),
                    };
                }
            }
        }
        Err(StorageError::Corrupt(format!(
            "cart kept changing during {UPSERT_ROUNDS} update rounds"
        )))
    }

    async fn write_cart(
        &self,
        store: &StoreId,
        customer: &CustomerKey,
        cart: &Cart,
        write: &CartWrite,
        event_id: Option<&str>,
        now: UnixSeconds,
    ) -> Result<WriteResult, StorageError> {
        let mut items = Vec::new();
        if let Some(id) = event_id {
            items.push(self.dedupe_put(id, now)?);
        }
        let dedupe_count = items.len();
        for scope in [Scope::Store(store.clone()), Scope::Global] {
            items.push(self.not_suppressed_check(&scope, customer)?);
        }
        items.push(self.cart_update(store, customer, cart, write, now)?);
        let alias_index = items.len();
        if matches!(write, CartWrite::Create { .. }) {
            items.push(self.cart_alias_put(store, cart.id.as_str(), customer, now)?);
            items.push(self.latest_cart_update(store, customer, cart, now)?);
        }

        let Some(reasons) = self.transact(items).await? else {
            return Ok(WriteResult::Written);
        };
        let failed = |index: usize| {
            reasons.get(index).and_then(|r| r.code()) == Some("ConditionalCheckFailed")
        };
        if dedupe_count == 1 && failed(0) {
            return Ok(WriteResult::Duplicate);
        }
        if failed(dedupe_count) || failed(dedupe_count + 1) {
            return Ok(WriteResult::Suppressed);
        }
        if failed(dedupe_count + 2) {
            let old = reasons[dedupe_count + 2].item().cloned();
            return Ok(WriteResult::CartConditionFailed(old));
        }
        if failed(alias_index) {
            let previous = reasons[alias_index]
                .item()
                .and_then(|item| get_opt_s(item, "customer_key"))
                .and_then(|key| CustomerKey::parse(key).ok());
            return Ok(WriteResult::OwnedByOtherCustomer(previous));
        }
        // No other item has a condition, so this is a bug rather than a race.
        Err(StorageError::request(
            "TransactWriteItems",
            error_from(reasons),
        ))
    }

    /// Runs one TransactWriteItems. Returns `None` when it is written, or the cancellation
    /// reasons by item when a condition failed. Cancellations without a failed condition (another
    /// transaction touched the same items, or throttling) are tried again, up to four attempts
    /// with a short backoff.
    pub(crate) async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> Result<Option<Vec<CancellationReason>>, StorageError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            let reasons = match result {
                Ok(_) => return Ok(None),
                Err(error) => match cancellation_reasons(&error) {
                    Some(reasons) => reasons,
                    None => return Err(StorageError::request("TransactWriteItems", error)),
                },
            };
            if reasons
                .iter()
                .any(|r| r.code() == Some("ConditionalCheckFailed"))
            {
                return Ok(Some(reasons));
            }
            if attempt >= CONFLICT_ATTEMPTS {
                return Err(StorageError::request(
                    "TransactWriteItems",
                    error_from(reasons),
                ));
            }
            tokio::time::sleep(Duration::from_millis(20 * u64::from(attempt))).await;
        }
    }

    pub(crate) fn not_suppressed_check(
        &self,
        scope: &Scope,
        customer: &CustomerKey,
    ) -> Result<TransactWriteItem, StorageError> {
        let check = ConditionCheck::builder()
            .table_name(&self.tables.suppression)
            .key("scope", s(scope.key()))
            .key("customer_key", s(customer.as_str()))
            .condition_expression("attribute_not_exists(customer_key)")
            .build()
            .map_err(|e| StorageError::request("ConditionCheck", e))?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }

    fn cart_update(
        &self,
        store: &StoreId,
        customer: &CustomerKey,
        cart: &Cart,
        write: &CartWrite,
        now: UnixSeconds,
    ) -> Result<TransactWriteItem, StorageError> {
        let pk = shopper_pk(store, customer);
        let sk = cart_sk(cart.id.as_str());
        let line_items = serde_dynamo::to_attribute_value(&cart.line_items)
            .map_err(|e| StorageError::Corrupt(format!("line items: {e}")))?;

        let mut set = vec![
            "kind = :kind",
            "store_id = :store",
            "customer_key = :customer",
            "cart_id = :cart",
            "email = :email",
            "line_items = :items",
            "currency = :currency",
            "total_price = :total",
            "cart_updated_at = :updated",
            "expires_at = :expires",
            "created_at = if_not_exists(created_at, :now)",
        ];
        let mut remove = Vec::new();
        let mut values = Item::from([
            (":kind".into(), s("cart")),
            (":store".into(), s(store.as_str())),
            (":customer".into(), s(customer.as_str())),
            (":cart".into(), s(cart.id.as_str())),
            (":email".into(), s(cart.email.as_str())),
            (":items".into(), line_items),
            (":currency".into(), s(&cart.currency)),
            (":total".into(), s(&cart.total_price)),
            (":updated".into(), n(cart.updated_at)),
            (
                ":expires".into(),
                n(cart.updated_at.max(now) + CART_RETENTION_SECONDS),
            ),
            (":now".into(), n(now)),
        ]);
        for (name, value) in [
            ("recovery_url", &cart.recovery_url),
            ("locale", &cart.locale),
        ] {
            match value {
                Some(text) => {
                    set.push(if name == "locale" {
                        "locale = :locale"
                    } else {
                        "recovery_url = :url"
                    });
                    values.insert(
                        if name == "locale" { ":locale" } else { ":url" }.into(),
                        s(text),
                    );
                }
                None => remove.push(name),
            }
        }

        let schedule = |due_at: UnixSeconds, values: &mut Item, set: &mut Vec<&str>| {
            set.extend([
                "#status = :pending",
                "next_step = :zero",
                "due_shard = :shard",
                "due_at = :due",
            ]);
            values.insert(":pending".into(), s("pending"));
            values.insert(":zero".into(), n(0));
            values.insert(":shard".into(), s(due_shard(&pk, &sk)));
            values.insert(":due".into(), n(due_at));
        };
        let condition = match write {
            CartWrite::Create { due_at } => {
                schedule(*due_at, &mut values, &mut set);
                "attribute_not_exists(pk)"
            }
            CartWrite::Reschedule { due_at, seen } => {
                schedule(*due_at, &mut values, &mut set);
                values.insert(":seen_updated".into(), n(seen.updated_at));
                values.insert(":seen_status".into(), s(&seen.status));
                "cart_updated_at = :seen_updated AND #status = :seen_status AND next_step = :zero \
                 AND attribute_not_exists(claim_step)"
            }
            CartWrite::ContentsOnly { seen } => {
                values.insert(":pending".into(), s("pending"));
                values.insert(":seen_updated".into(), n(seen.updated_at));
                "cart_updated_at = :seen_updated AND #status = :pending"
            }
            CartWrite::Empty { seen } => {
                set.push("#status = :emptied");
                remove.extend(["due_shard", "due_at"]);
                values.insert(":emptied".into(), s("emptied"));
                values.insert(":seen_updated".into(), n(seen.updated_at));
                values.insert(":seen_status".into(), s(&seen.status));
                "cart_updated_at = :seen_updated AND #status = :seen_status"
            }
        };

        let mut expression = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        let update = Update::builder()
            .table_name(&self.tables.shoppers)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .update_expression(expression)
            .condition_expression(condition)
            .expression_attribute_names("#status", "status")
            .set_expression_attribute_values(Some(values))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(|e| StorageError::request("Update", e))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    async fn get_cart_item(
        &self,
        store: &StoreId,
        customer: &CustomerKey,
        cart_id: &str,
    ) -> Result<Option<Item>, StorageError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.tables.shoppers)
            .key("pk", s(shopper_pk(store, customer)))
            .key("sk", s(cart_sk(cart_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StorageError::request("GetItem", e))?;
        Ok(output.item)
    }

    /// Loads every item of one shopper in one store (carts, messages, profile).
    pub async fn shopper_items(
        &self,
        store: &StoreId,
        customer: &CustomerKey,
    ) -> Result<Vec<Item>, StorageError> {
        let mut items = Vec::new();
        let mut pages = self
            .client
            .query()
            .table_name(&self.tables.shoppers)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(shopper_pk(store, customer)))
            .consistent_read(true)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| StorageError::request("Query", e))?;
            items.extend(page.items.unwrap_or_default());
        }
        Ok(items)
    }

    /// Stops the pending emails of every cart of a shopper in a store. For an order, carts whose
    /// sequence already finished are marked ordered too, so a late purchase still counts as
    /// recovered. Returns the carts that changed.
    pub async fn stop_carts(
        &self,
        store: &StoreId,
        customer: &CustomerKey,
        reason: StopReason,
        now: UnixSeconds,
    ) -> Result<Vec<StoppedCart>, StorageError> {
        let (new_status, from) = match &reason {
            StopReason::Ordered { .. } => (
                CartStatus::Ordered,
                &["pending", "completed", "emptied"][..],
            ),
            StopReason::Suppressed => (CartStatus::Suppressed, &["pending"][..]),
        };

        let mut stopped = Vec::new();
        for item in self.shopper_items(store, customer).await? {
            let Some(sk) = get_opt_s(&item, "sk").filter(|sk| sk.starts_with("cart#")) else {
                continue;
            };
            let status = get_opt_s(&item, "status").unwrap_or("");
            if !from.contains(&status) {
                continue;
            }

            let emails_sent = get_opt_n(&item, "next_step").unwrap_or(0).max(0) as u32;
            let mut request = self
                .client
                .update_item()
                .table_name(&self.tables.shoppers)
                .key("pk", s(shopper_pk(store, customer)))
                .key("sk", s(sk))
                .condition_expression("#status = :old")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":new", s(status_name(new_status)))
                .expression_attribute_values(":old", s(status))
                .expression_attribute_values(":now", n(now));
            request = match &reason {
                StopReason::Ordered { order_id } => request
                    .update_expression(
                        "SET #status = :new, stopped_at = :now, order_id = :order, recovered = :recovered \
                         REMOVE due_shard, due_at",
                    )
                    .expression_attribute_values(":order", s(order_id))
                    .expression_attribute_values(":recovered", AttributeValue::Bool(emails_sent > 0)),
                StopReason::Suppressed => {
                    request.update_expression("SET #status = :new, stopped_at = :now REMOVE due_shard, due_at")
                }
            };
            let result = request.send().await;
            match result {
                Ok(_) => {}
                // The sender or another webhook moved the cart on meanwhile; it is no longer ours to stop.
                Err(error)
                    if error
                        .as_service_error()
                        .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
                {
                    continue
                }
                Err(error) => return Err(StorageError::request("UpdateItem", error)),
            }

            stopped.push(StoppedCart {
                cart_id: get_opt_s(&item, "cart_id").unwrap_or_default().to_owned(),
                emails_sent,
                total_price: get_opt_s(&item, "total_price").unwrap_or("0").to_owned(),
                currency: get_opt_s(&item, "currency").unwrap_or_default().to_owned(),
            });
        }
        Ok(stopped)
    }
}

/// Sort key of a cart alias item.
pub const ALIAS_SK: &str = "alias";

/// Returns the partition key of a cart's alias item, which maps a cart id to its shopper so an
/// order without the same address still finds the cart.
pub fn alias_pk(store: &StoreId, cart_id: &str) -> String {
    format!("{store}#cart#{cart_id}")
}

fn alias_item(store: &StoreId, cart_id: &str, customer: &CustomerKey, now: UnixSeconds) -> Item {
    Item::from([
        ("pk".into(), s(alias_pk(store, cart_id))),
        ("sk".into(), s(ALIAS_SK)),
        ("kind".into(), s("cart_alias")),
        ("store_id".into(), s(store.as_str())),
        ("customer_key".into(), s(customer.as_str())),
        ("cart_id".into(), s(cart_id)),
        ("expires_at".into(), n(now + CART_RETENTION_SECONDS)),
    ])
}

/// Returns the stored name of a status.
pub fn status_name(status: CartStatus) -> &'static str {
    match status {
        CartStatus::Pending => "pending",
        CartStatus::Completed => "completed",
        CartStatus::Ordered => "ordered",
        CartStatus::Emptied => "emptied",
        CartStatus::Suppressed => "suppressed",
        CartStatus::Superseded => "superseded",
        CartStatus::Failed => "failed",
    }
}

enum WriteResult {
    Written,
    /// The cart id belongs to another shopper's partition: the address changed mid-checkout.
    OwnedByOtherCustomer(Option<CustomerKey>),
    Duplicate,
    Suppressed,
    CartConditionFailed(Option<Item>),
}

/// Returns the cancellation reasons of a cancelled transaction, or `None` for any other error.
pub(crate) fn cancellation_reasons<R>(
    error: &SdkError<TransactWriteItemsError, R>,
) -> Option<Vec<CancellationReason>> {
    match error.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
            Some(cancelled.cancellation_reasons().to_vec())
        }
        _ => None,
    }
}

/// Builds an error describing a transaction that kept conflicting.
pub(crate) fn error_from(reasons: Vec<CancellationReason>) -> std::io::Error {
    let codes: Vec<String> = reasons
        .iter()
        .map(|r| r.code().unwrap_or("None").to_owned())
        .collect();
    std::io::Error::other(format!("transaction cancelled: [{}]", codes.join(", ")))
}
