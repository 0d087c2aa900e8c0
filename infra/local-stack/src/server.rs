//! One HTTP server on 127.0.0.1 in front of every HTTP function, as API Gateway is in a
//! deployment, plus an outbox page and an SES event inbox for the walkthrough.

use std::time::{Duration, Instant};

use axum::body::Body as AxumBody;
use axum::extract::{Request as AxumRequest, State};
use axum::response::{IntoResponse, Response as AxumResponse};
use axum::Router;
use bytes::Bytes;
use common::Context;
use http::StatusCode;
use lambda_http::Body as LambdaBody;

/// Largest request body the local server reads, in bytes; the functions set their own, lower limits.
const MAX_REQUEST_BYTES: usize = 1024 * 1024;

#[derive(Clone)]
struct AppState {
    context: Context,
    moto_url: String,
}

/// Builds the router: `/webhooks/*` to the cart webhook function, `/unsubscribe` to the
/// unsubscribe function, `/v1/*` to the merchant API, `POST /ses-events` to the SES events function, `GET /outbox` lists sent mail.
pub fn router(context: Context, moto_url: String) -> Router {
    Router::new()
        .fallback(dispatch)
        .with_state(AppState { context, moto_url })
}

async fn dispatch(State(state): State<AppState>, request: AxumRequest) -> AxumResponse {
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_REQUEST_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return (StatusCode::PAYLOAD_TOO_LARGE, "request body is too large\n").into_response()
        }
    };
    let path = parts.uri.path().to_owned();
    tracing::debug!(method = %parts.method, path = %path, "local request");

    if path == "/outbox" && parts.method == http::Method::GET {
        return outbox_page(&state.moto_url).await;
    }
    if path == "/ses-events" && parts.method == http::Method::POST {
        return ses_event(&state.context, &bytes).await;
    }

    let request = http::Request::from_parts(parts, LambdaBody::Binary(bytes.to_vec()));
    let response = if path.starts_with("/webhooks/") {
        cart_webhook::handle(&state.context, request).await
    } else if path.starts_with("/unsubscribe") {
        unsubscribe::handle(&state.context, request).await
    } else if path.starts_with("/v1/") {
        merchant_api::handle(&state.context, request).await
    } else {
        return (
            StatusCode::NOT_FOUND,
            [(http::header::CONTENT_TYPE, "application/json")],
            "{\"error\":\"not found\"}",
        )
            .into_response();
    };
    into_axum(response)
}

fn into_axum(response: http::Response<LambdaBody>) -> AxumResponse {
    let (parts, body) = response.into_parts();
    let bytes = match body {
        LambdaBody::Empty => Bytes::new(),
        LambdaBody::Text(text) => Bytes::from(text),
        LambdaBody::Binary(data) => Bytes::from(data),
        _ => Bytes::new(),
    };
    AxumResponse::from_parts(parts, AxumBody::from(bytes))
}

async fn ses_event(context: &Context, body: &[u8]) -> AxumResponse {
    let Ok(payload) = serde_json::from_slice(body) else {
        return (StatusCode::BAD_REQUEST, "body is not JSON\n").into_response();
    };
    match ses_events::handle(context, payload).await {
        Ok(summary) => (
            [(http::header::CONTENT_TYPE, "application/json")],
            serde_json::to_string(&summary).unwrap_or_default(),
        )
            .into_response(),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{error}\n")).into_response(),
    }
}

async fn outbox_page(moto_url: &str) -> AxumResponse {
    match crate::outbox::sent_messages(moto_url).await {
        Ok(messages) => {
            let mut text = format!("{} message(s) in the local SES outbox\n", messages.len());
            for message in messages.iter().rev() {
                text.push_str(&format!(
                    "\n===== {} to {}\n",
                    message.message_id,
                    message.destinations.join(", ")
                ));
                text.push_str(&message.raw);
                text.push('\n');
            }
            (
                [(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                text,
            )
                .into_response()
        }
        Err(error) => (StatusCode::BAD_GATEWAY, format!("{error:#}\n")).into_response(),
    }
}

/// Runs the recovery sender every `interval`, as the EventBridge schedule does in a deployment.
pub async fn run_sender_every(context: Context, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        // A scheduled Lambda run gets a one-minute budget here, like a 60-second timeout.
        let deadline = Instant::now() + Duration::from_secs(60);
        if let Err(error) = recovery_sender::run(&context, deadline).await {
            tracing::error!(error.cause_chain = %common::telemetry::cause_chain(&error), "sender run failed");
        }
    }
}
