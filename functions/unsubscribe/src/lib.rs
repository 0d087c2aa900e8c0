//! Unsubscribe function: verifies the signed token from an email link, shows a page on GET,
//! unsubscribes on the RFC 8058 one-click POST or the page's POST, and offers opt-back-in.
//!
//! GET never changes state, because mail scanners fetch links. For a person, the page submits
//! the unsubscribe by itself when the browser runs scripts and shows one button otherwise.
//! Pages are in the shopper's language: the link's `lang` parameter, then the browser's
//! Accept-Language, then the store's default locale.

mod body;
mod wording;

use askama::Template;
use common::clock;
use common::domain::Store;
use common::email::Language;
use common::events::DomainEvent;
use common::storage::{Counter, Scope, StopReason, StorageError, SuppressionReason};
use common::telemetry::cause_chain;
use common::tokens::UnsubscribeToken;
use common::Context;
use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};

use wording::{wording, PageWording};

/// Largest POST body read, in bytes; a one-click body is 26 bytes.
const MAX_BODY_BYTES: usize = 16 * 1024;

/// Errors of the unsubscribe function.
#[derive(Debug, thiserror::Error)]
pub enum UnsubscribeError {
    /// The route does not exist.
    #[error("not found")]
    NotFound,
    /// Only GET, HEAD and POST are served.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The token is missing, tampered with, truncated, or names a store that does not exist.
    #[error("invalid unsubscribe link")]
    InvalidToken,
    /// The POST body is neither a one-click body nor a page action.
    #[error("{0}")]
    BadRequest(&'static str),
    /// DynamoDB failed; the mail client or the person should retry.
    #[error("storage failed")]
    Storage(#[from] StorageError),
}

impl UnsubscribeError {
    fn status(&self) -> StatusCode {
        match self {
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::InvalidToken | Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

#[derive(Template)]
#[template(path = "page.html")]
struct Page<'a> {
    lang: &'a str,
    nonce: &'a str,
    title: &'a str,
    message: &'a str,
    form: Option<PageForm<'a>>,
}

struct PageForm<'a> {
    action: &'a str,
    value: &'a str,
    label: &'a str,
    secondary: bool,
    auto_submit: bool,
}

/// A verified request: the identity from the token, its store and the page language.
struct Verified {
    token: UnsubscribeToken,
    store: Store,
    language: Language,
    action_url: String,
}

/// Handles one request and always returns a response.
pub async fn handle(context: &Context, request: Request) -> Response<Body> {
    let requested_language = request_language(&request);
    match route(context, &request).await {
        Ok(response) => response,
        Err(error) => {
            let status = error.status();
            if status.is_server_error() {
                tracing::error!(error.message = %error, error.cause_chain = %cause_chain(&error), "unsubscribe failed");
            } else {
                tracing::warn!(status = status.as_u16(), reason = %error, "unsubscribe request rejected");
            }
            let language = requested_language.unwrap_or(Language::English);
            let text = wording(language);
            let message = match &error {
                UnsubscribeError::InvalidToken => text.invalid_link,
                UnsubscribeError::Storage(_) => text.try_again,
                _ => text.bad_request,
            };
            page(status, language, text.error_title, message, None)
        }
    }
}

async fn route(context: &Context, request: &Request) -> Result<Response<Body>, UnsubscribeError> {
    if request.uri().path().trim_end_matches('/') != "/unsubscribe" {
        return Err(UnsubscribeError::NotFound);
    }
    if !matches!(*request.method(), Method::GET | Method::HEAD | Method::POST) {
        return Err(UnsubscribeError::MethodNotAllowed);
    }
    let verified = verify(context, request).await?;
    let text = wording(verified.language);
    let store_name = verified.store.name.as_str();

    if request.method() == Method::POST {
        return post(context, request, &verified).await;
    }

    // A shopper who already unsubscribed gets the confirmation with the way back, not the question again.
    let reasons = context
        .storage
        .suppression_reasons(&verified.token.store_id, &verified.token.customer)
        .await?;
    if reasons
        .iter()
        .any(|(scope, reason)| matches!(scope, Scope::Store(_)) && reason == "unsubscribed")
    {
        return Ok(unsubscribed_page(&verified));
    }
    Ok(page(
        StatusCode::OK,
        verified.language,
        &text.confirm_title.replace("{store}", store_name),
        &text.confirm_message.replace("{store}", store_name),
        Some(PageForm {
            action: &verified.action_url,
            value: "unsubscribe",
            label: text.confirm_button,
            secondary: false,
            auto_submit: true,
        }),
    ))
}

/// Verifies the token and loads its store. A token of a store that does not exist (another
/// deployment's, or a deleted store's) is as invalid as a tampered one.
async fn verify(context: &Context, request: &Request) -> Result<Verified, UnsubscribeError> {
    let raw_token = query_value(request, "token").unwrap_or_default();
    let token = context
        .secrets()
        .await?
        .token_keys
        .verify(&raw_token)
        .map_err(|_| UnsubscribeError::InvalidToken)?;
    let store = context
        .storage
        .store(&token.store_id)
        .await?
        .ok_or(UnsubscribeError::InvalidToken)?;

    let language = request_language(request)
        .or_else(|| Language::from_locale(&store.default_locale))
        .unwrap_or(Language::English);
    let mut action_url = format!("/unsubscribe?token={raw_token}");
    if let Some(lang) = query_value(request, "lang").filter(|l| Language::from_locale(l).is_some())
    {
        action_url.push_str(&format!("&lang={lang}"));
    }
    Ok(Verified {
        token,
        store,
        language,
        action_url,
    })
}

async fn post(
    context: &Context,
    request: &Request,
    verified: &Verified,
) -> Result<Response<Body>, UnsubscribeError> {
    let raw: &[u8] = request.body().as_ref();
    if raw.len() > MAX_BODY_BYTES {
        return Err(UnsubscribeError::BadRequest("body is too large"));
    }
    let content_type = request
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let text: &PageWording = wording(verified.language);
    let store_name = verified.store.name.as_str();
    let token = &verified.token;

    match body::parse(content_type, raw) {
        body::Action::OneClick => {
            unsubscribe(context, token).await?;
            Ok(plain_text(StatusCode::OK, text.one_click_done))
        }
        body::Action::Unsubscribe => {
            unsubscribe(context, token).await?;
            Ok(unsubscribed_page(verified))
        }
        body::Action::Resubscribe => {
            let lifted = context
                .storage
                .lift_unsubscribe(&token.store_id, &token.customer)
                .await?;
            let blocked = !context
                .storage
                .suppression_reasons(&token.store_id, &token.customer)
                .await?
                .is_empty();
            tracing::info!(store_id = %token.store_id, customer_key = %token.customer, lifted, blocked, "opt-back-in");
            let message = if blocked {
                text.resubscribe_blocked
            } else {
                text.resubscribed_message
            };
            let title = if blocked {
                text.error_title
            } else {
                text.resubscribed_title
            };
            Ok(page(
                StatusCode::OK,
                verified.language,
                title,
                &message.replace("{store}", store_name),
                None,
            ))
        }
        body::Action::Unknown => Err(UnsubscribeError::BadRequest(
            "body must be List-Unsubscribe=One-Click or a page action",
        )),
    }
}

/// Confirms the unsubscribe and offers the way back.
fn unsubscribed_page(verified: &Verified) -> Response<Body> {
    let text = wording(verified.language);
    page(
        StatusCode::OK,
        verified.language,
        text.done_title,
        &text.done_message.replace("{store}", &verified.store.name),
        Some(PageForm {
            action: &verified.action_url,
            value: "resubscribe",
            label: text.resubscribe_button,
            secondary: true,
            auto_submit: false,
        }),
    )
}

/// Stores the unsubscribe before the response is sent, then stops every pending email of the
/// shopper at this store. Repeating it changes nothing.
#[tracing::instrument(skip_all, fields(store_id = %token.store_id, customer_key = %token.customer))]
async fn unsubscribe(context: &Context, token: &UnsubscribeToken) -> Result<(), UnsubscribeError> {
    let now = clock::now();
    let storage = &context.storage;
    let added = storage
        .suppress(
            &Scope::Store(token.store_id.clone()),
            &token.customer,
            SuppressionReason::Unsubscribed,
            now,
        )
        .await?;
    let stopped = storage
        .stop_carts(
            &token.store_id,
            &token.customer,
            StopReason::Suppressed,
            now,
        )
        .await?;
    tracing::info!(added, stopped = stopped.len(), "shopper unsubscribed");

    if added {
        common::metrics::emit(&[(common::metrics::Metric::Unsubscribed, 1)]);
    }
    if added {
        storage
            .add_counters(&token.store_id, now, &[(Counter::Unsubscribed, 1)])
            .await?;
        context
            .events
            .publish(vec![DomainEvent::unsubscribed(
                &token.store_id,
                &token.customer,
                now,
            )])
            .await;
    }
    Ok(())
}

/// Returns the language the link or the browser requests, if supported.
fn request_language(request: &Request) -> Option<Language> {
    if let Some(language) = query_value(request, "lang").and_then(|l| Language::from_locale(&l)) {
        return Some(language);
    }
    let accept = request
        .headers()
        .get(http::header::ACCEPT_LANGUAGE)?
        .to_str()
        .ok()?;
    accept
        .split(',')
        .map(|entry| entry.split(';').next().unwrap_or("").trim())
        .find_map(Language::from_locale)
}

fn query_value(request: &Request, name: &str) -> Option<String> {
    let query = request.uri().query()?;
    form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

fn page(
    status: StatusCode,
    language: Language,
    title: &str,
    message: &str,
    form: Option<PageForm<'_>>,
) -> Response<Body> {
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let html = Page {
        lang: language.wording().lang,
        nonce: &nonce,
        title,
        message,
        form,
    }
    .render()
    .unwrap_or_else(|_| {
        String::from("<!DOCTYPE html><title>Unsubscribe</title><p>Unavailable.</p>")
    });
    let policy = format!(
        "default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; form-action 'self'; \
         base-uri 'none'; frame-ancestors 'none'"
    );
    secured(Response::builder().status(status))
        .header(http::header::CONTENT_TYPE, "text/html; charset=utf-8")
        .header(http::header::CONTENT_SECURITY_POLICY, policy)
        .body(Body::from(html))
        .expect("static response parts are valid")
}

fn plain_text(status: StatusCode, message: &'static str) -> Response<Body> {
    secured(Response::builder().status(status))
        .header(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .header(http::header::CONTENT_SECURITY_POLICY, "default-src 'none'")
        .body(Body::from(message))
        .expect("static response parts are valid")
}

fn secured(builder: http::response::Builder) -> http::response::Builder {
    builder
        .header(http::header::CACHE_CONTROL, "no-store")
        .header(http::header::REFERRER_POLICY, "no-referrer")
        .header(http::header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(http::header::X_FRAME_OPTIONS, "DENY")
}
