//! Cart webhook function: verifies a store's webhook, keeps only the allowed fields, stores the
//! cart and schedules its first recovery email; an order stops recovery.

pub mod shopify;

use common::clock::{self, UnixSeconds};
use common::domain::{Platform, Store};
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
    /// The signature is missing, malformed or wrong, or the shop is unknown. All four get the same
    /// response, so it does not reveal which shops exist.
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

/// Handles one webhook request and always returns a response; errors become 4xx or 5xx.
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
    if path != "/webhooks/shopify" {
        return Err(WebhookError::NotFound);
    }
    if request.method() != http::Method::POST {
        return Err(WebhookError::MethodNotAllowed);
    }
    let body: &[u8] = request.body().as_ref();
    if body.len() > MAX_BODY_BYTES {
        return Err(WebhookError::TooLarge);
    }
    shopify_webhook(context, request, body).await
}

#[tracing::instrument(skip_all, fields(store_id, topic, event_id, customer_key))]
async fn shopify_webhook(
    context: &Context,
    request: &Request,
    body: &[u8],
) -> Result<&'static str, WebhookError> {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };

    let signature = header("x-shopify-hmac-sha256").ok_or(WebhookError::Unauthorized)?;
    let domain = header("x-shopify-shop-domain").ok_or(WebhookError::Unauthorized)?;
    let store = context
        .storage
        .store_by_domain(domain)
        .await?
        .filter(|store| store.platform == Platform::Shopify)
        .ok_or(WebhookError::Unauthorized)?;
    tracing::Span::current().record("store_id", store.id.as_str());
    if !shopify::signature_is_valid(
        store.webhook_secret.expose_secret().as_bytes(),
        body,
        signature,
    ) {
        return Err(WebhookError::Unauthorized);
    }

    let topic = header("x-shopify-topic")
        .ok_or_else(|| WebhookError::BadRequest("X-Shopify-Topic header is missing".into()))?;
    let event_id = header("x-shopify-event-id").or(header("x-shopify-webhook-id"));
    tracing::Span::current().record("topic", topic);
    if let Some(id) = event_id {
        tracing::Span::current().record("event_id", id);
    }

    let now = clock::now();
    let outcome = match topic {
        "checkouts/create" | "checkouts/update" => {
            checkout(context, &store, body, event_id, now).await?
        }
        "orders/create" => order(context, &store, body, now).await?,
        // NOTE: the compliance topics are acknowledged but the data report and erasure are not
        // built yet; Shopify requires a 200 from them.
        "customers/data_request" | "customers/redact" | "shop/redact" => "acknowledged",
        // Shopify retries anything but a 2xx, so an unknown topic is acknowledged and ignored.
        _ => "ignored",
    };
    tracing::info!(outcome, "webhook handled");
    Ok(outcome)
}

async fn checkout(
    context: &Context,
    store: &Store,
    body: &[u8],
    event_id: Option<&str>,
    now: UnixSeconds,
) -> Result<&'static str, WebhookError> {
    let cart = match shopify::parse_checkout(body).map_err(|e| WebhookError::BadRequest(e.0))? {
        CheckoutInput::Cart(cart) => cart,
        CheckoutInput::NoEmail => return Ok("ignored: no email"),
        CheckoutInput::Completed => return Ok("ignored: completed"),
    };
    let customer = context.config.pepper.customer_key(&cart.email);
    tracing::Span::current().record("customer_key", customer.as_str());

    let dedupe_id = event_id.map(|id| format!("shopify#{}#{id}", store.id));
    let outcome = context
        .storage
        .upsert_cart(
            &store.id,
            &customer,
            &cart,
            store.sequence_or(&context.config.default_sequence),
            dedupe_id.as_deref(),
            now,
        )
        .await?;
    tracing::info!(cart_id = %cart.id, ?outcome, customer_key = %customer, "cart upserted");

    Ok(match outcome {
        UpsertOutcome::Scheduled { created: true, .. } => {
            context
                .storage
                .add_counters(&store.id, now, &[(Counter::Carts, 1)])
                .await?;
            context
                .events
                .publish(vec![DomainEvent::cart_abandoned(
                    &store.id,
                    &customer,
                    cart.id.as_str(),
                    now,
                )])
                .await;
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

async fn order(
    context: &Context,
    store: &Store,
    body: &[u8],
    now: UnixSeconds,
) -> Result<&'static str, WebhookError> {
    // NOTE: an order without an email address is not matched to carts by checkout token yet.
    let Some(email) = shopify::parse_order(body).map_err(|e| WebhookError::BadRequest(e.0))? else {
        return Ok("ignored: no email");
    };
    let customer = context.config.pepper.customer_key(&email);

    let stopped = context
        .storage
        .stop_carts(&store.id, &customer, StopReason::Ordered, now)
        .await?;
    let recovered: Vec<_> = stopped.iter().filter(|cart| cart.emails_sent > 0).collect();
    tracing::info!(customer_key = %customer, stopped = stopped.len(), recovered = recovered.len(), "order stopped recovery");

    if !recovered.is_empty() {
        context
            .storage
            .add_counters(
                &store.id,
                now,
                &[(Counter::Recovered, recovered.len() as i64)],
            )
            .await?;
        let events = recovered
            .iter()
            .map(|cart| DomainEvent::cart_recovered(&store.id, &customer, &cart.cart_id, now))
            .collect();
        context.events.publish(events).await;
    }
    Ok(if stopped.is_empty() {
        "no pending carts"
    } else {
        "stopped"
    })
}

fn json_response(status: StatusCode, body: serde_json::Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .expect("static response parts are valid")
}
