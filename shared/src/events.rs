//! Domain events on the custom EventBridge bus, so merchants can integrate. Details carry ids
//! only: store, customer key, cart, step, message id; never an address or cart content.

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use serde_json::{json, Value};

use crate::clock::{to_rfc3339, UnixSeconds};
use crate::domain::{CustomerKey, StoreId};

/// The `source` of every event this product puts on the bus.
pub const SOURCE: &str = "cart-recovery";

/// PutEvents accepts at most this many entries per request.
const PUT_EVENTS_LIMIT: usize = 10;

/// A domain event.
#[derive(Clone, Debug, PartialEq)]
pub struct DomainEvent {
    /// EventBridge detail-type, such as `Recovery Email Sent`.
    pub detail_type: &'static str,
    /// The detail object.
    pub detail: Value,
}

impl DomainEvent {
    fn new(
        detail_type: &'static str,
        store: &StoreId,
        customer: &CustomerKey,
        at: UnixSeconds,
        extra: Value,
    ) -> Self {
        let mut detail = json!({
            "store_id": store.as_str(),
            "customer_key": customer.as_str(),
            "occurred_at": to_rfc3339(at),
        });
        if let (Some(map), Value::Object(more)) = (detail.as_object_mut(), extra) {
            map.extend(more);
        }
        Self {
            detail_type,
            detail,
        }
    }

    /// Builds the event for a stored cart whose first recovery email is scheduled.
    pub fn cart_abandoned(
        store: &StoreId,
        customer: &CustomerKey,
        cart_id: &str,
        at: UnixSeconds,
    ) -> Self {
        Self::new(
            "Cart Abandoned",
            store,
            customer,
            at,
            json!({ "cart_id": cart_id }),
        )
    }

    /// Builds the event for a sent recovery email.
    pub fn email_sent(
        store: &StoreId,
        customer: &CustomerKey,
        cart_id: &str,
        step: u32,
        message_id: &str,
        at: UnixSeconds,
    ) -> Self {
        Self::new(
            "Recovery Email Sent",
            store,
            customer,
            at,
            json!({ "cart_id": cart_id, "step": step, "message_id": message_id }),
        )
    }

    /// Builds the event for an order placed after at least one recovery email.
    pub fn cart_recovered(
        store: &StoreId,
        customer: &CustomerKey,
        cart_id: &str,
        at: UnixSeconds,
    ) -> Self {
        Self::new(
            "Cart Recovered",
            store,
            customer,
            at,
            json!({ "cart_id": cart_id }),
        )
    }

    /// Builds the event for a shopper who unsubscribed from a store's recovery emails.
    pub fn unsubscribed(store: &StoreId, customer: &CustomerKey, at: UnixSeconds) -> Self {
        Self::new("Shopper Unsubscribed", store, customer, at, json!({}))
    }

    /// Builds the event for an address suppressed after a bounce or complaint.
    pub fn suppressed(
        store: &StoreId,
        customer: &CustomerKey,
        reason: &str,
        at: UnixSeconds,
    ) -> Self {
        Self::new(
            "Shopper Suppressed",
            store,
            customer,
            at,
            json!({ "reason": reason }),
        )
    }
}

impl DomainEvent {
    /// Builds the event for a change of a store's sending health, such as a pause for complaints.
    pub fn store_health(
        store: &StoreId,
        status: &str,
        complaint_rate: f64,
        at: UnixSeconds,
    ) -> Self {
        Self {
            detail_type: "Store Health Warning",
            detail: json!({
                "store_id": store.as_str(),
                "status": status,
                "complaint_rate": complaint_rate,
                "occurred_at": to_rfc3339(at),
            }),
        }
    }
}

/// Puts domain events on the custom bus.
#[derive(Clone)]
pub struct EventPublisher {
    client: aws_sdk_eventbridge::Client,
    bus: String,
}

impl EventPublisher {
    /// Wraps an EventBridge client and the bus name.
    pub fn new(client: aws_sdk_eventbridge::Client, bus: String) -> Self {
        Self { client, bus }
    }

    /// Puts events on the bus, ten per request.
    ///
    /// Events are notifications for integrations, not the record of truth: a failure is logged
    /// and counted here rather than failing the request whose state change already happened.
    // NOTE: an event that fails here is lost; an outbox table would make delivery at-least-once.
    pub async fn publish(&self, events: Vec<DomainEvent>) {
        for chunk in events.chunks(PUT_EVENTS_LIMIT) {
            let entries: Vec<PutEventsRequestEntry> = chunk
                .iter()
                .map(|event| {
                    PutEventsRequestEntry::builder()
                        .event_bus_name(&self.bus)
                        .source(SOURCE)
                        .detail_type(event.detail_type)
                        .detail(event.detail.to_string())
                        .build()
                })
                .collect();
            match self
                .client
                .put_events()
                .set_entries(Some(entries))
                .send()
                .await
            {
                Ok(output) if output.failed_entry_count() > 0 => {
                    tracing::error!(
                        failed = output.failed_entry_count(),
                        "EventBridge rejected domain events"
                    );
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::error!(
                        events = chunk.len(),
                        error.cause_chain = %crate::telemetry::cause_chain(&error),
                        "failed to put domain events"
                    );
                }
            }
        }
    }
}
