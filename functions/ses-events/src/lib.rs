//! SES events function: bounces and complaints go to the do-not-email list and stop pending
//! sends. Deliveries, opens and clicks are recorded on the message and counted per store and
//! day. Accepts the EventBridge form (source `aws.ses`) and SNS notifications delivered to
//! Lambda, and parses leniently because SES adds fields and event types over time.

mod engagement;
mod parse;

use common::clock::UnixSeconds;
use common::domain::{CustomerKey, EmailAddress, StoreId};
use common::events::DomainEvent;
use common::hashing::Pepper;
use common::storage::{Counter, MessageRef, Scope, StopReason, StorageError, SuppressionReason};
use common::telemetry::cause_chain;
use common::Context;
use serde::Serialize;
use serde_json::Value;

pub use engagement::{is_automated_click_burst, is_automated_open};
pub use parse::{parse_invocation, SesEvent, SesEventKind};

/// Soft bounces within 30 days that put an address on the global list.
pub const SOFT_BOUNCE_LIMIT: usize = 3;

/// Counts of one invocation's outcomes.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct Summary {
    /// SES events read from the invocation.
    pub events: usize,
    /// Addresses newly put on a do-not-email list.
    pub suppressed: usize,
    /// Deliveries, opens and clicks recorded.
    pub engagement: usize,
    /// Events seen before and skipped.
    pub duplicates: usize,
    /// Events logged and dropped: unknown types, events about unknown messages.
    pub ignored: usize,
    /// Records that could not be parsed, logged and dropped (a retry would fail the same way).
    pub malformed: usize,
}

/// Handles one invocation. A storage failure is returned as an error, so EventBridge or SNS
/// retries the invocation. On the retry, events already handled are skipped by their dedupe id.
pub async fn handle(context: &Context, payload: Value) -> Result<Summary, StorageError> {
    let mut summary = Summary::default();
    for parsed in parse_invocation(&payload) {
        let event = match parsed {
            Ok(event) => event,
            Err(reason) => {
                tracing::warn!(reason = %reason, "malformed SES event dropped");
                summary.malformed += 1;
                continue;
            }
        };
        summary.events += 1;

        if !context
            .storage
            .record_once(&event.dedupe_id, event.occurred_at)
            .await?
        {
            tracing::info!(message_id = %event.message_id, kind = event.kind.name(), "duplicate SES event skipped");
            summary.duplicates += 1;
            continue;
        }
        if let Err(error) = handle_event(context, &event, &mut summary).await {
            // Let the retry handle the event again instead of taking it for a duplicate.
            context.storage.forget(&event.dedupe_id).await?;
            tracing::error!(message_id = %event.message_id, error.cause_chain = %cause_chain(&error), "SES event failed");
            return Err(error);
        }
    }
    tracing::info!(?summary, "SES events handled");
    Ok(summary)
}

#[tracing::instrument(skip_all, fields(message_id = %event.message_id, kind = event.kind.name(), store_id = event.store.as_deref().unwrap_or("")))]
async fn handle_event(
    context: &Context,
    event: &SesEvent,
    summary: &mut Summary,
) -> Result<(), StorageError> {
    let store = event
        .store
        .as_deref()
        .and_then(|id| StoreId::parse(id).ok());
    match &event.kind {
        SesEventKind::Bounce { permanent: true } => {
            for customer in recipients(&context.secrets().await?.pepper, event) {
                let reason = SuppressionReason::HardBounce;
                suppress(
                    context,
                    &Scope::Global,
                    store.as_ref(),
                    &customer,
                    reason,
                    Counter::Bounced,
                    event.occurred_at,
                    summary,
                )
                .await?;
            }
        }
        SesEventKind::Bounce { permanent: false } => {
            for customer in recipients(&context.secrets().await?.pepper, event) {
                soft_bounce(
                    context,
                    store.as_ref(),
                    &customer,
                    event.occurred_at,
                    summary,
                )
                .await?;
            }
        }
        SesEventKind::Complaint => {
            let Some(store) = &store else {
                tracing::warn!(
                    "complaint without a store tag dropped; the email was not sent by this product"
                );
                summary.ignored += 1;
                return Ok(());
            };
            let scope = Scope::Store(store.clone());
            for customer in recipients(&context.secrets().await?.pepper, event) {
                let reason = SuppressionReason::Complaint;
                suppress(
                    context,
                    &scope,
                    Some(store),
                    &customer,
                    reason,
                    Counter::Complained,
                    event.occurred_at,
                    summary,
                )
                .await?;
            }
        }
        SesEventKind::Delivery | SesEventKind::Open { .. } | SesEventKind::Click { .. } => {
            let Some(message) = message_ref(event) else {
                tracing::warn!("engagement event without this product's message tags dropped");
                summary.ignored += 1;
                return Ok(());
            };
            if engagement::record(context, &message, event).await? {
                summary.engagement += 1;
            } else {
                summary.ignored += 1;
            }
        }
        SesEventKind::NotSpam | SesEventKind::Other(_) => {
            // Send, Reject, DeliveryDelay, RenderingFailure and new types are logged and counted.
            tracing::info!("SES event logged");
            summary.ignored += 1;
        }
    }
    Ok(())
}

/// Returns the customer keys of the event's bounced or complaining recipients, each handled on
/// its own.
fn recipients(pepper: &Pepper, event: &SesEvent) -> Vec<CustomerKey> {
    event
        .recipients
        .iter()
        .filter_map(|recipient| match EmailAddress::parse(recipient) {
            Ok(email) => Some(pepper.customer_key(&email)),
            Err(_) => {
                tracing::warn!("recipient address in SES event is malformed; skipped");
                None
            }
        })
        .collect()
}

fn message_ref(event: &SesEvent) -> Option<MessageRef> {
    Some(MessageRef {
        store: StoreId::parse(event.store.as_deref()?).ok()?,
        customer: CustomerKey::parse(event.customer.as_deref()?).ok()?,
        cart_id: event.cart.clone()?,
        step: event.step?,
    })
}

async fn soft_bounce(
    context: &Context,
    store: Option<&StoreId>,
    customer: &CustomerKey,
    at: UnixSeconds,
    summary: &mut Summary,
) -> Result<(), StorageError> {
    let recent = context.storage.record_soft_bounce(customer, at).await?;
    if let Some(store) = store {
        context
            .storage
            .add_counters(store, at, &[(Counter::SoftBounced, 1)])
            .await?;
    }
    tracing::info!(customer_key = %customer, recent, "soft bounce recorded");
    if recent >= SOFT_BOUNCE_LIMIT {
        let reason = SuppressionReason::SoftBounceLimit;
        suppress(
            context,
            &Scope::Global,
            store,
            customer,
            reason,
            Counter::Bounced,
            at,
            summary,
        )
        .await?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn suppress(
    context: &Context,
    scope: &Scope,
    store: Option<&StoreId>,
    customer: &CustomerKey,
    reason: SuppressionReason,
    counter: Counter,
    now: UnixSeconds,
    summary: &mut Summary,
) -> Result<(), StorageError> {
    let added = context
        .storage
        .suppress(scope, customer, reason, now)
        .await?;
    summary.suppressed += usize::from(added);
    if added {
        let metric = if counter == Counter::Complained {
            common::metrics::Metric::Complained
        } else {
            common::metrics::Metric::Bounced
        };
        common::metrics::emit(&[(metric, 1)]);
    }
    let Some(store) = store else {
        tracing::info!(customer_key = %customer, added, reason = reason.as_str(), "address suppressed");
        return Ok(());
    };

    // Carts at other stores stop when the sender's claim finds the global entry.
    let stopped = context
        .storage
        .stop_carts(store, customer, StopReason::Suppressed, now)
        .await?;
    tracing::info!(customer_key = %customer, added, stopped = stopped.len(), reason = reason.as_str(), "address suppressed");
    if added {
        context
            .storage
            .add_counters(store, now, &[(counter, 1)])
            .await?;
        context
            .events
            .publish(vec![DomainEvent::suppressed(
                store,
                customer,
                reason.as_str(),
                now,
            )])
            .await;
        if counter == Counter::Complained {
            common::health::pause_if_complaints_too_high(context, store).await?;
        }
    }
    Ok(())
}
