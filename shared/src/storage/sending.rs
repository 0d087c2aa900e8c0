//! The sender's side of cart items: reading due work, claiming a send, recording the result.
//!
//! A send moves a cart through three writes: a claim (one transaction that also checks both
//! do-not-email scopes and the frequency cap), the SES call, and a completion that records the
//! message and schedules the next step. A claim keeps the cart off the due-index for
//! [`CLAIM_LEASE_SECONDS`]; a cart found with an expired claim belonged to a run that died
//! between claim and completion, so that step is skipped rather than risk sending it twice.

use aws_sdk_dynamodb::types::{
    Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};

use super::attributes::{get_n, get_opt_n, get_opt_s, get_s, n, s, Item};
use super::carts::{cancellation_reasons, CART_RETENTION_SECONDS};
use super::suppression::Scope;
use super::{message_sk, Storage, StorageError, DUE_INDEX, PROFILE_SK};
use crate::clock::UnixSeconds;
use crate::domain::{CustomerKey, LineItem, StoreId};

/// How long a claim keeps a cart from other runs, in seconds. It is longer than the 15-minute
/// maximum Lambda timeout (the template sets 300 s), so a run never outlives its claims.
pub const CLAIM_LEASE_SECONDS: i64 = 16 * 60;

/// A cart whose next email is due, as read from the due-index.
#[derive(Clone, Debug)]
pub struct DueCart {
    /// Partition key of the shopper.
    pub pk: String,
    /// Sort key of the cart.
    pub sk: String,
    /// Store.
    pub store_id: StoreId,
    /// Shopper.
    pub customer: CustomerKey,
    /// Cart id.
    pub cart_id: String,
    /// The shopper's address.
    pub email: String,
    /// Line items.
    pub line_items: Vec<LineItem>,
    /// Currency code.
    pub currency: String,
    /// Cart total.
    pub total_price: String,
    /// Link back to the cart.
    pub recovery_url: Option<String>,
    /// Shopper's locale.
    pub locale: Option<String>,
    /// Step (0-based) of the email that is due.
    pub step: u32,
    /// Due time as stored; a claim succeeds only if it is unchanged.
    pub due_at: UnixSeconds,
    /// Last cart activity, from which the sequence counts.
    pub cart_updated_at: UnixSeconds,
    /// Step of an expired claim, when an earlier run died holding it.
    pub stale_claim: Option<String>,
}

/// The result of trying to claim a send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// This run owns the send.
    Claimed,
    /// Another run claimed it, or the cart changed (ordered, updated, emptied) since it was read.
    Lost,
    /// The shopper is on the do-not-email list.
    Suppressed,
    /// The shopper got a recovery email too recently; try again at `retry_at`.
    Capped {
        /// When the frequency cap allows the next email.
        retry_at: UnixSeconds,
    },
    /// A newer cart of the same shopper took over the sequence.
    Superseded,
    /// A concurrent transaction on the same items; the cart stays due for a later run.
    Conflict,
}

impl Storage {
    /// Reads up to `limit` carts of one shard whose next email is due at or before `now`, oldest
    /// first, continuing after `start` when given.
    pub async fn due_carts(
        &self,
        shard: u32,
        now: UnixSeconds,
        limit: i32,
        start: Option<Item>,
    ) -> Result<(Vec<DueCart>, Option<Item>), StorageError> {
        let output = self
            .client
            .query()
            .table_name(&self.tables.shoppers)
            .index_name(DUE_INDEX)
            .key_condition_expression("due_shard = :shard AND due_at <= :now")
            .expression_attribute_values(":shard", s(shard.to_string()))
            .expression_attribute_values(":now", n(now))
            .limit(limit)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| StorageError::request("Query", e))?;

        let carts = output
            .items()
            .iter()
            .map(due_cart_from_item)
            .collect::<Result<Vec<_>, _>>()?;
        Ok((carts, output.last_evaluated_key))
    }

    /// Claims the send of `cart.step` for run `run_id`, checking in the same transaction that
    /// the cart is unchanged and pending, that the shopper is on neither do-not-email scope, and
    /// that the frequency cap allows an email (then taking it).
    pub async fn claim_send(
        &self,
        cart: &DueCart,
        run_id: &str,
        now: UnixSeconds,
        cap_seconds: i64,
    ) -> Result<ClaimOutcome, StorageError> {
        let claim = Update::builder()
            .table_name(&self.tables.shoppers)
            .key("pk", s(&cart.pk))
            .key("sk", s(&cart.sk))
            .update_expression("SET claim_step = :step, claim_run = :run, claimed_at = :now, due_at = :lease")
            .condition_expression(
                "#status = :pending AND next_step = :step AND due_at = :due AND attribute_not_exists(claim_step)",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":pending", s("pending"))
            .expression_attribute_values(":step", n(cart.step))
            .expression_attribute_values(":run", s(run_id))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":lease", n(now + CLAIM_LEASE_SECONDS))
            .expression_attribute_values(":due", n(cart.due_at))
            .build()
            .map_err(|e| StorageError::request("Update", e))?;

        let cap = Update::builder()
            .table_name(&self.tables.shoppers)
            .key("pk", s(&cart.pk))
            .key("sk", s(PROFILE_SK))
            .update_expression(
                "SET kind = :kind, store_id = :store, prev_sent_at = if_not_exists(last_sent_at, :zero), \
                 last_sent_at = :now, expires_at = :expires",
            )
            .condition_expression(
                "(attribute_not_exists(last_sent_at) OR last_sent_at <= :cutoff) \
                 AND (attribute_not_exists(latest_cart) OR latest_cart = :cart)",
            )
            .expression_attribute_values(":cart", s(&cart.cart_id))
            .expression_attribute_values(":store", s(cart.store_id.as_str()))
            .expression_attribute_values(":kind", s("profile"))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":expires", n(now + CART_RETENTION_SECONDS))
            .expression_attribute_values(":cutoff", n(now - cap_seconds))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(|e| StorageError::request("Update", e))?;

        let mut items = vec![TransactWriteItem::builder().update(claim).build()];
        for scope in [Scope::Store(cart.store_id.clone()), Scope::Global] {
            items.push(self.not_suppressed_check(&scope, &cart.customer)?);
        }
        items.push(TransactWriteItem::builder().update(cap).build());

        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        let reasons = match result {
            Ok(_) => return Ok(ClaimOutcome::Claimed),
            Err(error) => match cancellation_reasons(&error) {
                Some(reasons) => reasons,
                None => return Err(StorageError::request("TransactWriteItems", error)),
            },
        };

        let failed = |index: usize| {
            reasons.get(index).and_then(|r| r.code()) == Some("ConditionalCheckFailed")
        };
        if failed(0) {
            return Ok(ClaimOutcome::Lost);
        }
        if failed(1) || failed(2) {
            return Ok(ClaimOutcome::Suppressed);
        }
        if failed(3) {
            let profile = reasons[3].item();
            let latest = profile.and_then(|item| get_opt_s(item, "latest_cart"));
            if latest.is_some_and(|latest| latest != cart.cart_id) {
                return Ok(ClaimOutcome::Superseded);
            }
            let last_sent = profile
                .and_then(|item| get_opt_n(item, "last_sent_at"))
                .unwrap_or(now);
            return Ok(ClaimOutcome::Capped {
                retry_at: last_sent + cap_seconds,
            });
        }
        Ok(ClaimOutcome::Conflict)
    }

    /// Records a sent email and moves the cart to its next step (`next_due`), or finishes the
    /// sequence when there is none. If the cart was stopped while the email was in flight, the
    /// message is still recorded but nothing is rescheduled.
    pub async fn complete_send(
        &self,
        cart: &DueCart,
        run_id: &str,
        message_id: &str,
        now: UnixSeconds,
        next_due: Option<UnixSeconds>,
    ) -> Result<(), StorageError> {
        let message = Put::builder()
            .table_name(&self.tables.shoppers)
            .item("pk", s(&cart.pk))
            .item("sk", s(message_sk(&cart.cart_id, cart.step)))
            .item("kind", s("message"))
            .item("store_id", s(cart.store_id.as_str()))
            .item("customer_key", s(cart.customer.as_str()))
            .item("cart_id", s(&cart.cart_id))
            .item("step", n(cart.step))
            .item("message_id", s(message_id))
            .item("sent_at", n(now))
            .item("expires_at", n(now + CART_RETENTION_SECONDS))
            .build()
            .map_err(|e| StorageError::request("Put", e))?;

        let mut advance = Update::builder()
            .table_name(&self.tables.shoppers)
            .key("pk", s(&cart.pk))
            .key("sk", s(&cart.sk))
            .condition_expression("claim_run = :run AND #status = :pending")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":run", s(run_id))
            .expression_attribute_values(":pending", s("pending"))
            .expression_attribute_values(":next", n(cart.step + 1));
        advance = match next_due {
            Some(due) => advance
                .update_expression(
                    "SET next_step = :next, due_at = :due REMOVE claim_step, claim_run, claimed_at",
                )
                .expression_attribute_values(":due", n(due)),
            None => advance
                .update_expression(
                    "SET next_step = :next, #status = :completed \
                     REMOVE claim_step, claim_run, claimed_at, due_shard, due_at",
                )
                .expression_attribute_values(":completed", s("completed")),
        };
        let advance = advance
            .build()
            .map_err(|e| StorageError::request("Update", e))?;

        let items = vec![
            TransactWriteItem::builder().put(message.clone()).build(),
            TransactWriteItem::builder().update(advance).build(),
        ];
        if self.transact(items).await?.is_none() {
            return Ok(());
        }

        // The cart stopped (ordered, unsubscribed) while the email was in flight.
        let release = Update::builder()
            .table_name(&self.tables.shoppers)
            .key("pk", s(&cart.pk))
            .key("sk", s(&cart.sk))
            .update_expression("SET next_step = :next REMOVE claim_step, claim_run, claimed_at")
            .condition_expression("claim_run = :run")
            .expression_attribute_values(":run", s(run_id))
            .expression_attribute_values(":next", n(cart.step + 1))
            .build()
            .map_err(|e| StorageError::request("Update", e))?;
        let items = vec![
            TransactWriteItem::builder().put(message).build(),
            TransactWriteItem::builder().update(release).build(),
        ];
        if self.transact(items).await?.is_some() {
            tracing::warn!(cart_id = %cart.cart_id, step = cart.step, "claim vanished before the send was recorded");
        }
        Ok(())
    }

    /// Gives a claimed send back after a transient SES failure: the cart becomes due again at
    /// `retry_at` and the frequency cap returns to its previous value.
    pub async fn release_send(
        &self,
        cart: &DueCart,
        run_id: &str,
        claimed_at: UnixSeconds,
        retry_at: UnixSeconds,
    ) -> Result<(), StorageError> {
        self.update_ignoring_condition(
            self.client
                .update_item()
                .table_name(&self.tables.shoppers)
                .key("pk", s(&cart.pk))
                .key("sk", s(&cart.sk))
                .update_expression("SET due_at = :retry REMOVE claim_step, claim_run, claimed_at")
                .condition_expression("claim_run = :run AND #status = :pending")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":run", s(run_id))
                .expression_attribute_values(":pending", s("pending"))
                .expression_attribute_values(":retry", n(retry_at)),
        )
        .await?;
        self.restore_cap(cart, claimed_at).await
    }

    /// Marks a cart failed after a permanent SES rejection, with the reason, and ends its sequence.
    pub async fn fail_send(
        &self,
        cart: &DueCart,
        run_id: &str,
        claimed_at: UnixSeconds,
        reason: &str,
    ) -> Result<(), StorageError> {
        self.update_ignoring_condition(
            self.client
                .update_item()
                .table_name(&self.tables.shoppers)
                .key("pk", s(&cart.pk))
                .key("sk", s(&cart.sk))
                .update_expression(
                    "SET #status = :failed, failure_reason = :reason \
                     REMOVE claim_step, claim_run, claimed_at, due_shard, due_at",
                )
                .condition_expression("claim_run = :run")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":run", s(run_id))
                .expression_attribute_values(":failed", s("failed"))
                .expression_attribute_values(
                    ":reason",
                    s(reason.chars().take(500).collect::<String>()),
                ),
        )
        .await?;
        self.restore_cap(cart, claimed_at).await
    }

    /// Moves a cart whose claim expired past the claimed step without sending it, because that
    /// email may already have gone out.
    pub async fn skip_stale_claim(
        &self,
        cart: &DueCart,
        now: UnixSeconds,
        next_due: impl Fn(u32) -> Option<UnixSeconds>,
    ) -> Result<(), StorageError> {
        let Some(claimed) = cart.stale_claim.as_deref() else {
            return Ok(());
        };
        let claimed_step: u32 = claimed.parse().map_err(|_| {
            StorageError::Corrupt(format!("claim step {claimed:?} is not a number"))
        })?;
        let next_step = claimed_step + 1;

        let mut request = self
            .client
            .update_item()
            .table_name(&self.tables.shoppers)
            .key("pk", s(&cart.pk))
            .key("sk", s(&cart.sk))
            .condition_expression("due_at = :seen AND claim_step = :claimed")
            .expression_attribute_values(":seen", n(cart.due_at))
            .expression_attribute_values(":claimed", n(claimed_step))
            .expression_attribute_values(":next", n(next_step))
            .expression_attribute_values(":now", n(now));
        request = match next_due(next_step) {
            Some(due) => request
                .update_expression(
                    "SET next_step = :next, due_at = :due, abandoned_claim_at = :now \
                     REMOVE claim_step, claim_run, claimed_at",
                )
                .expression_attribute_values(":due", n(due.max(now))),
            None => request
                .update_expression(
                    "SET next_step = :next, #status = :completed, abandoned_claim_at = :now \
                     REMOVE claim_step, claim_run, claimed_at, due_shard, due_at",
                )
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":completed", s("completed")),
        };
        self.update_ignoring_condition(request).await
    }

    /// Moves a cart's due time to `retry_at`, if it still has the due time that was read.
    pub async fn defer_send(
        &self,
        cart: &DueCart,
        retry_at: UnixSeconds,
    ) -> Result<(), StorageError> {
        self.update_ignoring_condition(
            self.client
                .update_item()
                .table_name(&self.tables.shoppers)
                .key("pk", s(&cart.pk))
                .key("sk", s(&cart.sk))
                .update_expression("SET due_at = :retry")
                .condition_expression("due_at = :seen AND attribute_not_exists(claim_step)")
                .expression_attribute_values(":seen", n(cart.due_at))
                .expression_attribute_values(":retry", n(retry_at)),
        )
        .await
    }

    async fn restore_cap(
        &self,
        cart: &DueCart,
        claimed_at: UnixSeconds,
    ) -> Result<(), StorageError> {
        self.update_ignoring_condition(
            self.client
                .update_item()
                .table_name(&self.tables.shoppers)
                .key("pk", s(&cart.pk))
                .key("sk", s(PROFILE_SK))
                .update_expression("SET last_sent_at = prev_sent_at")
                .condition_expression("last_sent_at = :claimed AND attribute_exists(prev_sent_at)")
                .expression_attribute_values(":claimed", n(claimed_at)),
        )
        .await
    }

    async fn update_ignoring_condition(
        &self,
        request: aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder,
    ) -> Result<(), StorageError> {
        match request.send().await {
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
}

fn due_cart_from_item(item: &Item) -> Result<DueCart, StorageError> {
    let corrupt = |e: &dyn std::fmt::Display| StorageError::Corrupt(e.to_string());
    let line_items: Vec<LineItem> = match item.get("line_items") {
        Some(value) => {
            serde_dynamo::from_attribute_value(value.clone()).map_err(|e| corrupt(&e))?
        }
        None => Vec::new(),
    };
    Ok(DueCart {
        pk: get_s(item, "pk")?.to_owned(),
        sk: get_s(item, "sk")?.to_owned(),
        store_id: StoreId::parse(get_s(item, "store_id")?).map_err(|e| corrupt(&e))?,
        customer: CustomerKey::parse(get_s(item, "customer_key")?).map_err(|e| corrupt(&e))?,
        cart_id: get_s(item, "cart_id")?.to_owned(),
        email: get_s(item, "email")?.to_owned(),
        line_items,
        currency: get_s(item, "currency")?.to_owned(),
        total_price: get_s(item, "total_price")?.to_owned(),
        recovery_url: get_opt_s(item, "recovery_url").map(str::to_owned),
        locale: get_opt_s(item, "locale").map(str::to_owned),
        step: get_n(item, "next_step")?.max(0) as u32,
        due_at: get_n(item, "due_at")?,
        cart_updated_at: get_n(item, "cart_updated_at")?,
        stale_claim: get_opt_n(item, "claim_step").map(|step| step.to_string()),
    })
}
