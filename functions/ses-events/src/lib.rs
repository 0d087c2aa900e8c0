//! SES events function: bounces and complaints go to the do-not-email list and stop pending
//! sends. Accepts the EventBridge form (source `aws.ses`) and SNS notifications delivered to
//! Lambda, and parses leniently because SES adds fields over time.

mod parse;

use common::clock;
use common::domain::{CustomerKey, EmailAddress, StoreId};
use common::events::DomainEvent;
use common::storage::{Counter, Scope, StopReason, StorageError, SuppressionReason};
use common::Context;
use serde::Serialize;
use serde_json::Value;

pub use parse::{parse_invocation, SesEvent, SesEventKind};

/// Counts of one invocation's outcomes.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct Summary {
    /// SES events read from the invocation.
    pub events: usize,
    /// Addresses newly put on a do-not-email list.
    pub suppressed: usize,
    /// Events logged and dropped: unknown types, soft bounces, engagement not yet recorded.
    pub ignored: usize,
    /// Records that could not be parsed, logged and dropped (a retry would fail the same way).
    pub malformed: usize,
}

/// Handles one invocation. A storage failure is returned as an error, so EventBridge or SNS
/// retries the whole invocation; the effects are idempotent, so a retry is harmless.
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
        handle_event(context, &event, &mut summary).await?;
    }
    tracing::info!(?summary, "SES events handled");
    Ok(summary)
}

#[tracing::instrument(skip_all, fields(message_id = %event.message_id, kind = ?event.kind, store_id = event.store.as_deref().unwrap_or("")))]
async fn handle_event(
    context: &Context,
    event: &SesEvent,
    summary: &mut Summary,
) -> Result<(), StorageError> {
    let store = event
        .store
        .as_deref()
        .and_then(|id| StoreId::parse(id).ok());
    let (scope, reason, counter) = match (&event.kind, &store) {
        (SesEventKind::Bounce { permanent: true }, _) => (
            Scope::Global,
            SuppressionReason::HardBounce,
            Counter::Bounced,
        ),
        (SesEventKind::Complaint, Some(store)) => (
            Scope::Store(store.clone()),
            SuppressionReason::Complaint,
            Counter::Complained,
        ),
        (SesEventKind::Complaint, None) => {
            tracing::warn!(
                "complaint without a store tag dropped; the email was not sent by this product"
            );
            summary.ignored += 1;
            return Ok(());
        }
        // NOTE: soft bounces, deliveries, opens and clicks are logged but not yet recorded.
        _ => {
            tracing::info!("SES event logged");
            summary.ignored += 1;
            return Ok(());
        }
    };

    let now = clock::now();
    for recipient in &event.recipients {
        let Ok(email) = EmailAddress::parse(recipient) else {
            tracing::warn!("recipient address in SES event is malformed; skipped");
            continue;
        };
        let customer = context.config.pepper.customer_key(&email);
        suppress(
            context,
            &scope,
            store.as_ref(),
            &customer,
            reason,
            counter,
            now,
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
    now: i64,
    summary: &mut Summary,
) -> Result<(), StorageError> {
    let added = context
        .storage
        .suppress(scope, customer, reason, now)
        .await?;
    let Some(store) = store else {
        tracing::info!(customer_key = %customer, added, reason = reason.as_str(), "address suppressed");
        summary.suppressed += usize::from(added);
        return Ok(());
    };

    // Carts at other stores stop when the sender's claim finds the global entry.
    let stopped = context
        .storage
        .stop_carts(store, customer, StopReason::Suppressed, now)
        .await?;
    tracing::info!(customer_key = %customer, added, stopped = stopped.len(), reason = reason.as_str(), "address suppressed");
    if added {
        summary.suppressed += 1;
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
    }
    Ok(())
}
