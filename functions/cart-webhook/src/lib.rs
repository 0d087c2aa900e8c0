//! Cart webhook function: verifies a store's webhook, keeps only the allowed fields, stores the
//! cart and schedules its first recovery email; an order stops recovery.
//!
//! Routes: `POST /webhooks/shopify` (Shopify topics, store found by X-Shopify-Shop-Domain) and
//! `POST /webhooks/generic/{store_id}` (the documented generic schema).

pub mod generic;
pub mod shopify;

use std::collections::BTreeSet;

use common::clock::{self, UnixSeconds};
use common::domain::{
    to_minor_units, Cart, CartId, CustomerKey, EmailAddress, Platform, Store, StoreId,
};
use common::events::DomainEvent;
use common::storage::{Counter, StopReason, StorageError, UpsertOutcome};
use common::telemetry::cause_chain;
use common::Context;
use http::StatusCode;
use lambda_http::{Body, Request, Response};
use secrecy::ExposeSecret;
use serde_json::json;

use shopify::CheckoutInput;

/// Largest webhook body accepted, in bytes (256 KiB).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// Errors of the webhook handler. Client errors get a short reason, and the cause chain of
/// unexpected errors goes to the log only.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The route does not exist.
    #[error("not found")]
    NotFound,
    /// Only POST is accepted.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The body is larger than [`MAX_BODY_BYTES`].
    #[error("body is larger than {MAX_BODY_BYTES} bytes")]
    TooLarge,
    /// The signature is missing, malformed, wrong or expired, or the store is unknown. All get
    /// the same response, so it does not reveal which stores exist.
    #[error("invalid webhook signature")]
    Unauthorized,
    /// A required header is missing or the body is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// DynamoDB failed; the store should retry.
    #[error("storage failed")]
    Storage(#[from] StorageError),
}

impl WebhookError {
    fn status(&self) -> StatusCode {
        match self {
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// An order, reduced to what stops recovery and attributes revenue.
#[derive(Debug, Clone)]
pub struct OrderInput {
    /// The platform's order id.
    pub order_id: String,
    /// The buyer's address, when the order has one.
    pub email: Option<EmailAddress>,
    /// Checkout and cart tokens of the order, which match carts stored under another address.
    pub cart_ids: Vec<CartId>,
    /// Order currency.
    pub currency: Option<String>,
    /// Order total as a decimal string.
    pub total_price: Option<String>,
}

/// Handles one webhook request and always returns a response; errors become 4xx or 5xx.
#[tracing::instrument(skip_all, fields(store_id, shop_domain, topic, event_id, customer_key))]
pub async fn handle(context: &Context, request: Request) -> Response<Body> {
    match route(context, &request).await {
        Ok(outcome) => json_response(StatusCode::OK, json!({ "result": outcome })),
        Err(error) => {
            let status = error.status();
            if status.is_server_error() {
                tracing::error!(status = status.as_u16(), error.message = %error, error.cause_chain = %cause_chain(&error), "webhook failed");
            } else {
                tracing::warn!(status = status.as_u16(), reason = %error, "webhook rejected");
            }
            json_response(status, json!({ "error": error.to_string() }))
        }
    }
}

async fn route(context: &Context, request: &Request) -> Result<&'static str, WebhookError> {
    let path = request.uri().path().trim_end_matches('/');
    let platform = if path == "/webhooks/shopify" {
        None
    } else if let Some(store_id) = path.strip_prefix("/webhooks/generic/") {
        Some(store_id.to_owned())
    } else {
        return Err(WebhookError::NotFound);
    };
    if request.method() != http::Method::POST {
        return Err(WebhookError::MethodNotAllowed);
    }
    let body: &[u8] = request.body().as_ref();
    if body.len() > MAX_BODY_BYTES {
        return Err(WebhookError::TooLarge);
    }
    match platform {
        None => shopify_webhook(context, request, body).await,
        Some(store_id) => generic_webhook(context, request, &store_id, body).await,
    }
}

fn header<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

async fn shopify_webhook(
    context: &Context,
    request: &Request,
    body: &[u8],
) -> Result<&'static str, WebhookError> {
    let span = tracing::Span::current();
    let signature = header(request, "x-shopify-hmac-sha256").ok_or(WebhookError::Unauthorized)?;
    let domain = header(request, "x-shopify-shop-domain").ok_or(WebhookError::Unauthorized)?;
    span.record("shop_domain", domain);
    let store = context
        .storage
        .store_by_domain(domain)
        .await?
        .filter(|store| store.platform == Platform::Shopify)
        .ok_or(WebhookError::Unauthorized)?;
    span.record("store_id", store.id.as_str());
    if !shopify::signature_is_valid(
        store.webhook_secret.expose_secret().as_bytes(),
        body,
        signature,
    ) {
        return Err(WebhookError::Unauthorized);
    }

    let topic = header(request, "x-shopify-topic")
        .ok_or_else(|| WebhookError::BadRequest("X-Shopify-Topic header is missing".into()))?;
    let event_id =
        header(request, "x-shopify-event-id").or(header(request, "x-shopify-webhook-id"));
    span.record("topic", topic);
    if let Some(id) = event_id {
        span.record("event_id", id);
    }

    let now = clock::now();
    let outcome = match topic {
        "checkouts/create" | "checkouts/update" => {
            match shopify::parse_checkout(body).map_err(|e| WebhookError::BadRequest(e.0))? {
                CheckoutInput::Cart(cart) => {
                    let dedupe_id = event_id.map(|id| format!("shopify#{}#{id}", store.id));
                    apply_cart(context, &store, &cart, dedupe_id.as_deref(), now).await?
                }
                CheckoutInput::NoEmail => "ignored: no email",
                CheckoutInput::Completed => "ignored: completed",
            }
        }
        "orders/create" => {
            let order = shopify::parse_order(body).map_err(|e| WebhookError::BadRequest(e.0))?;
            apply_order(context, &store, &order, now).await?
        }
        "customers/data_request" | "customers/redact" | "shop/redact" => {
            compliance(context, &store, topic, body, event_id, now).await?
        }
        // Shopify retries anything but a 2xx, so an unknown topic is acknowledged and ignored.
        _ => "ignored",
    };
    tracing::info!(outcome, "webhook handled");
    Ok(outcome)
}

async fn generic_webhook(
    context: &Context,
    request: &Request,
    store_id: &str,
    body: &[u8],
) -> Result<&'static str, WebhookError> {
    let span = tracing::Span::current();
    let signature = header(request, "x-cart-signature").ok_or(WebhookError::Unauthorized)?;
    let store_id = StoreId::parse(store_id).map_err(|_| WebhookError::Unauthorized)?;
    span.record("store_id", store_id.as_str());
    let store = context
        .storage
        .store(&store_id)
        .await?
        .filter(|store| store.platform == Platform::Generic)
        .ok_or(WebhookError::Unauthorized)?;

    let now = clock::now();
    generic::verify_signature(
        store.webhook_secret.expose_secret().as_bytes(),
        body,
        signature,
        now,
    )
    .map_err(|reason| {
        tracing::warn!(?reason, "generic webhook signature rejected");
        WebhookError::Unauthorized
    })?;

    let (event_id, event) = generic::parse(body).map_err(|e| WebhookError::BadRequest(e.0))?;
    if let Some(id) = &event_id {
        span.record("event_id", id.as_str());
    }
    let outcome = match event {
        generic::GenericEvent::Cart(cart) => {
            span.record("topic", "cart.updated");
            let dedupe_id = event_id.map(|id| format!("generic#{}#{id}", store.id));
            apply_cart(context, &store, &cart, dedupe_id.as_deref(), now).await?
        }
        generic::GenericEvent::CartWithoutEmail => "ignored: no email",
        generic::GenericEvent::Order(order) => {
            span.record("topic", "order.created");
            apply_order(context, &store, &order, now).await?
        }
        generic::GenericEvent::Unknown => "ignored",
    };
    tracing::info!(outcome, "webhook handled");
    Ok(outcome)
}

/// Stores a cart and schedules its first email; counts and announces a new cart.
async fn apply_cart(
    context: &Context,
    store: &Store,
    cart: &Cart,
    dedupe_id: Option<&str>,
    now: UnixSeconds,
) -> Result<&'static str, WebhookError> {
    let customer = context.secrets().await?.pepper.customer_key(&cart.email);
    tracing::Span::current().record("customer_key", customer.as_str());

    let sequence = store.sequence_or(&context.config.default_sequence);
    let outcome = context
        .storage
        .upsert_cart(&store.id, &customer, cart, sequence, dedupe_id, now)
        .await?;
    tracing::info!(cart_id = %cart.id, ?outcome, "cart upserted");

    Ok(match outcome {
        UpsertOutcome::Scheduled { created: true, .. } => {
            context
                .storage
                .add_counters(&store.id, now, &[(Counter::Carts, 1)])
                .await?;
            let event = DomainEvent::cart_abandoned(&store.id, &customer, cart.id.as_str(), now);
            context.events.publish(vec![event]).await;
            "scheduled"
        }
        UpsertOutcome::Scheduled { created: false, .. } => "rescheduled",
        UpsertOutcome::ContentsUpdated => "updated",
        UpsertOutcome::Emptied => "emptied",
        UpsertOutcome::Duplicate => "duplicate",
        UpsertOutcome::Stale => "stale",
        UpsertOutcome::Ignored => "ignored",
        UpsertOutcome::Suppressed => "suppressed",
    })
}

/// Stops every pending email of the buyer at this store, found by normalized address and by the
/// order's cart tokens, and records a recovered cart with its revenue when a recovery email had
/// gone out. Repeated deliveries find the carts already ordered and change nothing.
async fn apply_order(
    context: &Context,
    store: &Store,
    order: &OrderInput,
    now: UnixSeconds,
) -> Result<&'static str, WebhookError> {
    let mut customers: BTreeSet<CustomerKey> = BTreeSet::new();
    if let Some(email) = &order.email {
        customers.insert(context.secrets().await?.pepper.customer_key(email));
    }
    for cart_id in &order.cart_ids {
        if let Some(owner) = context
            .storage
            .cart_owner(&store.id, cart_id.as_str())
            .await?
        {
            customers.insert(owner);
        }
    }
    if customers.is_empty() {
        return Ok("ignored: no matching shopper");
    }

    let reason = StopReason::Ordered {
        order_id: order.order_id.clone(),
    };
    let mut stopped_count = 0;
    let mut recovered = Vec::new();
    for customer in &customers {
        let stopped = context
            .storage
            .stop_carts(&store.id, customer, reason.clone(), now)
            .await?;
        stopped_count += stopped.len();
        recovered.extend(
            stopped
                .into_iter()
                .filter(|cart| cart.emails_sent > 0)
                .map(|cart| (customer.clone(), cart)),
        );
    }
    tracing::info!(order_id = %order.order_id, stopped = stopped_count, recovered = recovered.len(), "order stopped recovery");

    if !recovered.is_empty() {
        record_recovery(context, &store.id, order, &recovered, now).await?;
    }
    Ok(if stopped_count == 0 {
        "no pending carts"
    } else {
        "stopped"
    })
}

async fn record_recovery(
    context: &Context,
    store: &StoreId,
    order: &OrderInput,
    recovered: &[(CustomerKey, common::storage::StoppedCart)],
    now: UnixSeconds,
) -> Result<(), WebhookError> {
    // One order recovers its carts once: the count is per order, the revenue the order's total.
    context
        .storage
        .add_counters(store, now, &[(Counter::Recovered, 1)])
        .await?;
    common::metrics::emit(&[(common::metrics::Metric::Recovered, 1)]);
    let (currency, total) = match (&order.currency, &order.total_price) {
        (Some(currency), Some(total)) => (currency.clone(), total.clone()),
        _ => (
            recovered[0].1.currency.clone(),
            recovered[0].1.total_price.clone(),
        ),
    };
    match to_minor_units(&total, &currency) {
        Some(minor) if currency.len() == 3 => {
            context
                .storage
                .add_revenue(store, now, &currency, minor)
                .await?
        }
        _ => {
            tracing::warn!(order_id = %order.order_id, "order total or currency is unreadable; revenue not counted")
        }
    }

    let events = recovered
        .iter()
        .map(|(customer, cart)| DomainEvent::cart_recovered(store, customer, &cart.cart_id, now))
        .collect();
    context.events.publish(events).await;
    Ok(())
}

/// Runs a Shopify compliance request within the webhook: a data request stores the report for
/// the merchant (fetched with the merchant API under the data request id), customers/redact
/// erases the shopper, shop/redact erases every shopper and the store.
// NOTE: shop/redact runs within the request. A store with very many shoppers could exceed the
// function timeout, and Shopify's retry then continues the erasure where it stopped.
async fn compliance(
    context: &Context,
    store: &Store,
    topic: &str,
    body: &[u8],
    event_id: Option<&str>,
    now: UnixSeconds,
) -> Result<&'static str, WebhookError> {
    let fallback_id = || {
        event_id
            .map(str::to_owned)
            .unwrap_or_else(|| format!("shopify-{now}"))
    };
    if topic == "shop/redact" {
        let counts = common::privacy::erase_store(
            context,
            &store.id,
            &fallback_id(),
            common::privacy::Source::Shopify,
        )
        .await?;
        tracing::info!(?counts, "shop redacted");
        return Ok("store erased");
    }

    let request = shopify::parse_compliance(body).map_err(|e| WebhookError::BadRequest(e.0))?;
    let Some(email) = request.email else {
        return Ok("ignored: no email");
    };
    let source = common::privacy::Source::Shopify;
    if topic == "customers/redact" {
        common::privacy::erase_shopper(context, &store.id, &email, &fallback_id(), source).await?;
        return Ok("shopper erased");
    }
    let request_id = request.request_id.unwrap_or_else(fallback_id);
    let report =
        common::privacy::data_report(context, &store.id, &email, &request_id, source).await?;
    context
        .storage
        .put_report(&store.id, &request_id, &report, now)
        .await?;
    Ok("report stored")
}

fn json_response(status: StatusCode, body: serde_json::Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .expect("static response parts are valid")
}
