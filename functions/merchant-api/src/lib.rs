//! Merchant API function: data reports, erasure, do-not-email import and stats, for one store
//! per API key. Addresses travel in JSON request bodies, never in URLs. docs/merchant-api.yaml
//! is the OpenAPI description.

use common::clock;
use common::domain::{EmailAddress, Store, StoreId};
use common::hashing::{api_key_matches, api_key_store};
use common::privacy::{self, Source};
use common::storage::{Scope, StorageError, SuppressionReason};
use common::telemetry::cause_chain;
use common::Context;
use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::{json, Value};

/// Largest request body accepted, in bytes.
const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Most addresses one import request may carry.
pub const MAX_IMPORT_ADDRESSES: usize = 1_000;
/// Maximum date range of a stats request, in days.
const MAX_STATS_DAYS: i64 = 366;

/// Errors of the merchant API.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Unknown route.
    #[error("not found")]
    NotFound,
    /// Known route, other method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// Missing or invalid API key. Both get the same response, so keys and stores cannot be probed.
    #[error("missing or invalid API key")]
    Unauthorized,
    /// Invalid request. The message names what to fix.
    #[error("{0}")]
    BadRequest(String),
    /// DynamoDB failed; retry later.
    #[error("storage failed")]
    Storage(#[from] StorageError),
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

#[derive(Deserialize)]
struct EmailBody {
    email: String,
}

#[derive(Deserialize)]
struct ImportBody {
    emails: Vec<String>,
}

/// Handles one request and always returns a response.
#[tracing::instrument(skip_all, fields(store_id, route))]
pub async fn handle(context: &Context, request: Request) -> Response<Body> {
    match route(context, &request).await {
        Ok(body) => json_response(StatusCode::OK, body),
        Err(error) => {
            let status = error.status();
            if status.is_server_error() {
                tracing::error!(error.message = %error, error.cause_chain = %cause_chain(&error), "merchant API request failed");
            } else {
                tracing::warn!(status = status.as_u16(), reason = %error, "merchant API request rejected");
            }
            json_response(status, json!({ "error": error.to_string() }))
        }
    }
}

async fn route(context: &Context, request: &Request) -> Result<Value, ApiError> {
    let path = request.uri().path().trim_end_matches('/').to_owned();
    let method = request.method().clone();
    let allowed = match path.as_str() {
        "/v1/data-report" | "/v1/erasure" | "/v1/suppressions" => Method::POST,
        "/v1/stats" => Method::GET,
        p if p.starts_with("/v1/privacy-requests/") => Method::GET,
        _ => return Err(ApiError::NotFound),
    };
    if method != allowed {
        return Err(ApiError::MethodNotAllowed);
    }
    tracing::Span::current().record("route", path.as_str());

    let store = authenticate(context, request).await?;
    tracing::Span::current().record("store_id", store.id.as_str());
    let request_id = uuid::Uuid::new_v4().to_string();

    match path.as_str() {
        "/v1/data-report" => {
            let email = email_from(request)?;
            Ok(
                privacy::data_report(context, &store.id, &email, &request_id, Source::MerchantApi)
                    .await?,
            )
        }
        "/v1/erasure" => {
            let email = email_from(request)?;
            let counts = privacy::erase_shopper(
                context,
                &store.id,
                &email,
                &request_id,
                Source::MerchantApi,
            )
            .await?;
            Ok(
                json!({ "request_id": request_id, "deleted": counts, "kept": "the keyed hash on the do-not-email list" }),
            )
        }
        "/v1/suppressions" => import(context, &store.id, request, &request_id).await,
        "/v1/stats" => stats(context, &store.id, request).await,
        _ => {
            let id = path.trim_start_matches("/v1/privacy-requests/");
            context
                .storage
                .report(&store.id, id)
                .await?
                .ok_or(ApiError::NotFound)
        }
    }
}

/// Finds the store of the bearer API key and checks the key against its stored digest.
async fn authenticate(context: &Context, request: &Request) -> Result<Store, ApiError> {
    let key = request
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or(ApiError::Unauthorized)?;
    let store_id = api_key_store(key)
        .and_then(|id| StoreId::parse(id).ok())
        .ok_or(ApiError::Unauthorized)?;
    let store = context
        .storage
        .store(&store_id)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    match &store.api_key_hash {
        Some(digest) if api_key_matches(key, digest) => Ok(store),
        _ => Err(ApiError::Unauthorized),
    }
}

fn json_body<T: for<'de> Deserialize<'de>>(request: &Request) -> Result<T, ApiError> {
    let body: &[u8] = request.body().as_ref();
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::BadRequest(format!(
            "body is larger than {MAX_BODY_BYTES} bytes"
        )));
    }
    serde_json::from_slice(body).map_err(|e| {
        let reason = match e.classify() {
            serde_json::error::Category::Data => {
                "body is missing a required field or has a wrong type"
            }
            _ => "body is not valid JSON",
        };
        ApiError::BadRequest(reason.into())
    })
}

fn email_from(request: &Request) -> Result<EmailAddress, ApiError> {
    let body: EmailBody = json_body(request)?;
    EmailAddress::parse(&body.email).map_err(|e| ApiError::BadRequest(format!("email: {e}")))
}

/// Adds addresses to the store's do-not-email list as keyed hashes. An entry already there
/// keeps its reason.
async fn import(
    context: &Context,
    store: &StoreId,
    request: &Request,
    request_id: &str,
) -> Result<Value, ApiError> {
    let body: ImportBody = json_body(request)?;
    if body.emails.is_empty() || body.emails.len() > MAX_IMPORT_ADDRESSES {
        return Err(ApiError::BadRequest(format!(
            "emails must hold 1 to {MAX_IMPORT_ADDRESSES} addresses"
        )));
    }
    let mut invalid = Vec::new();
    let mut added = 0;
    let mut already = 0;
    let now = clock::now();
    let secrets = context.secrets().await?;
    for (index, raw) in body.emails.iter().enumerate() {
        let Ok(email) = EmailAddress::parse(raw) else {
            invalid.push(index);
            continue;
        };
        let customer = secrets.pepper.customer_key(&email);
        let scope = Scope::Store(store.clone());
        if context
            .storage
            .suppress(&scope, &customer, SuppressionReason::Imported, now)
            .await?
        {
            added += 1;
        } else {
            already += 1;
        }
        context
            .storage
            .stop_carts(
                store,
                &customer,
                common::storage::StopReason::Suppressed,
                now,
            )
            .await?;
    }
    let counts = json!({ "added": added, "already_listed": already, "invalid": invalid.len() });
    privacy::audit(
        context,
        store,
        request_id,
        "suppression_import",
        Source::MerchantApi,
        None,
        counts.clone(),
    )
    .await?;
    Ok(
        json!({ "request_id": request_id, "added": added, "already_listed": already, "invalid_indexes": invalid }),
    )
}

async fn stats(context: &Context, store: &StoreId, request: &Request) -> Result<Value, ApiError> {
    let query = request.uri().query().unwrap_or("");
    let value = |name: &str| {
        form_urlencoded::parse(query.as_bytes())
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    };
    let today = clock::utc_day(clock::now());
    let from = value("from").unwrap_or_else(|| clock::utc_day(clock::now() - 29 * 86_400));
    let to = value("to").unwrap_or(today);
    let (Some(start), Some(end)) = (parse_day(&from), parse_day(&to)) else {
        return Err(ApiError::BadRequest(
            "from and to must be dates such as 2026-12-01".into(),
        ));
    };
    if end < start || (end - start).whole_days() >= MAX_STATS_DAYS {
        return Err(ApiError::BadRequest(format!(
            "the range must be 1 to {MAX_STATS_DAYS} days, from before to"
        )));
    }
    let report = common::health::store_stats(context, store, &from, &to).await?;
    Ok(serde_json::to_value(report).unwrap_or_default())
}

fn parse_day(text: &str) -> Option<time::Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(text, &format).ok()
}

fn json_response(status: StatusCode, body: Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("cache-control", "no-store")
        .body(Body::from(body.to_string()))
        .expect("static response parts are valid")
}
