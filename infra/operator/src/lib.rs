//! The operator's store commands, as library functions so tests call them directly and the
//! `cart-admin` binary stays a thin argument parser.

pub mod secret;

use anyhow::{bail, Context as _};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::domain::{EmailAddress, Platform, Sequence, Store, StoreId};
use common::storage::Storage;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};

/// Length of a generated webhook secret, in random bytes (256 bits).
const SECRET_BYTES: usize = 32;

/// Shortest webhook secret accepted when the operator gives one, in characters.
pub const MIN_SECRET_CHARS: usize = 16;

/// Settings of a new store.
#[derive(Debug, Clone)]
pub struct NewStore {
    /// Store id.
    pub id: String,
    /// Webhook platform.
    pub platform: Platform,
    /// Shop domain, such as `example.myshopify.com`.
    pub shop_domain: String,
    /// Display name in emails.
    pub name: String,
    /// Sender address.
    pub sender: String,
    /// Reply-To address.
    pub reply_to: Option<String>,
    /// Delays in seconds, comma-separated; `None` uses the deployment default.
    pub sequence: Option<String>,
    /// Default locale.
    pub locale: String,
    /// Webhook secret; `None` generates one.
    pub webhook_secret: Option<String>,
}

/// Changes to an existing store; `None` leaves a setting as it is.
#[derive(Debug, Clone, Default)]
pub struct StoreChanges {
    /// New display name.
    pub name: Option<String>,
    /// New sender address.
    pub sender: Option<String>,
    /// New Reply-To address; an empty string removes it.
    pub reply_to: Option<String>,
    /// New delays; an empty string returns to the deployment default.
    pub sequence: Option<String>,
    /// New default locale.
    pub locale: Option<String>,
    /// New webhook secret.
    pub webhook_secret: Option<String>,
    /// Generate a new webhook secret.
    pub rotate_secret: bool,
    /// Pause (true) or resume (false) sending.
    pub paused: Option<bool>,
}

/// Creates a store and returns its description with the webhook secret, which is printed this
/// once unless the operator asks for it later with `--show-secret`.
pub async fn add_store(storage: &Storage, new: NewStore) -> anyhow::Result<Value> {
    let id = StoreId::parse(&new.id)?;
    let shop_domain = validate_domain(&new.shop_domain)?;
    if let Some(existing) = storage.store_by_domain_uncached(&shop_domain).await? {
        bail!(
            "shop domain {shop_domain} already belongs to store {}",
            existing.id
        );
    }
    let secret = match new.webhook_secret {
        Some(secret) => validate_secret(secret)?,
        None => generate_secret(),
    };

    let store = Store {
        id: id.clone(),
        platform: new.platform,
        shop_domain,
        name: validate_name(&new.name)?,
        sender: validate_address("sender", &new.sender)?,
        reply_to: new
            .reply_to
            .map(|r| validate_address("reply-to", &r))
            .transpose()?,
        webhook_secret: secret,
        sequence: new.sequence.as_deref().map(parse_sequence).transpose()?,
        default_locale: validate_locale(&new.locale)?,
        paused: false,
        api_key_hash: None,
    };
    if !storage.create_store(&store).await? {
        bail!("store {id} already exists; use `store update` to change it");
    }
    Ok(describe(&store, true))
}

/// Applies changes to a store and returns its description; the secret is included only when
/// it changed, so a new secret is shown once.
pub async fn update_store(
    storage: &Storage,
    id: &str,
    changes: StoreChanges,
) -> anyhow::Result<Value> {
    let id = StoreId::parse(id)?;
    let mut store = load(storage, &id).await?;
    let secret_changed = changes.webhook_secret.is_some() || changes.rotate_secret;
    if changes.webhook_secret.is_some() && changes.rotate_secret {
        bail!("give either --webhook-secret or --rotate-secret, not both");
    }

    if let Some(name) = changes.name {
        store.name = validate_name(&name)?;
    }
    if let Some(sender) = changes.sender {
        store.sender = validate_address("sender", &sender)?;
    }
    if let Some(reply_to) = changes.reply_to {
        store.reply_to = if reply_to.is_empty() {
            None
        } else {
            Some(validate_address("reply-to", &reply_to)?)
        };
    }
    if let Some(sequence) = changes.sequence {
        store.sequence = if sequence.is_empty() {
            None
        } else {
            Some(parse_sequence(&sequence)?)
        };
    }
    if let Some(locale) = changes.locale {
        store.default_locale = validate_locale(&locale)?;
    }
    if let Some(secret) = changes.webhook_secret {
        store.webhook_secret = validate_secret(secret)?;
    }
    if changes.rotate_secret {
        store.webhook_secret = generate_secret();
    }
    if let Some(paused) = changes.paused {
        store.paused = paused;
    }

    if !storage.update_store(&store).await? {
        bail!("store {id} was deleted while it was being updated");
    }
    Ok(describe(&store, secret_changed))
}

/// Creates or replaces the store's merchant API key and returns it. The key is shown this once
/// and only its SHA-256 digest is stored, so the previous key stops working at once.
pub async fn rotate_api_key(storage: &Storage, id: &str) -> anyhow::Result<Value> {
    let id = StoreId::parse(id)?;
    let mut store = load(storage, &id).await?;
    let (key, digest) = common::hashing::generate_api_key(&id);
    store.api_key_hash = Some(digest);
    if !storage.update_store(&store).await? {
        bail!("store {id} was deleted while its key was being created");
    }
    Ok(json!({ "id": id.as_str(), "api_key": key }))
}

/// Returns a store's counters, rates and warnings for the UTC days `from` to `to` (inclusive).
pub async fn stats(storage: &Storage, id: &str, from: &str, to: &str) -> anyhow::Result<Value> {
    let id = StoreId::parse(id)?;
    load(storage, &id).await?;
    let format = time::macros::format_description!("[year]-[month]-[day]");
    for day in [from, to] {
        time::Date::parse(day, &format)
            .with_context(|| format!("{day:?} is not a date such as 2026-12-01"))?;
    }
    let totals = storage.counters_between(&id, from, to).await?;
    Ok(serde_json::to_value(common::health::compute(
        &id, from, to, &totals,
    ))?)
}

/// Returns one store's description, with the secret only when `show_secret` is set.
pub async fn show_store(storage: &Storage, id: &str, show_secret: bool) -> anyhow::Result<Value> {
    let id = StoreId::parse(id)?;
    Ok(describe(&load(storage, &id).await?, show_secret))
}

/// Returns every store's description, without secrets.
pub async fn list_stores(storage: &Storage) -> anyhow::Result<Value> {
    let stores = storage.list_stores().await?;
    Ok(Value::Array(
        stores.iter().map(|store| describe(store, false)).collect(),
    ))
}

async fn load(storage: &Storage, id: &StoreId) -> anyhow::Result<Store> {
    storage.store(id).await?.with_context(|| {
        format!("store {id} not found; `cart-admin store list` shows the existing stores")
    })
}

fn describe(store: &Store, with_secret: bool) -> Value {
    let mut description = json!({
        "id": store.id.as_str(),
        "platform": match store.platform { Platform::Shopify => "shopify", Platform::Generic => "generic" },
        "shop_domain": store.shop_domain,
        "name": store.name,
        "sender": store.sender,
        "reply_to": store.reply_to,
        "sequence_delays_seconds": store.sequence.as_ref().map(|s| s.delays().to_vec()),
        "default_locale": store.default_locale,
        "paused": store.paused,
        "has_api_key": store.api_key_hash.is_some(),
    });
    if with_secret {
        description["webhook_secret"] = json!(store.webhook_secret.expose_secret());
    }
    description
}

fn generate_secret() -> SecretString {
    let mut bytes = [0u8; SECRET_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    SecretString::from(URL_SAFE_NO_PAD.encode(bytes))
}

fn validate_secret(secret: String) -> anyhow::Result<SecretString> {
    if secret.chars().count() < MIN_SECRET_CHARS || secret.chars().any(char::is_whitespace) {
        bail!("webhook secret must be at least {MIN_SECRET_CHARS} characters without spaces");
    }
    Ok(SecretString::from(secret))
}

fn validate_domain(domain: &str) -> anyhow::Result<String> {
    let domain = domain.trim().to_ascii_lowercase();
    let valid = domain.len() <= 253
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && domain
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    if !valid {
        bail!("shop domain {domain:?} is not a host name such as example.myshopify.com");
    }
    Ok(domain)
}

fn validate_address(what: &str, address: &str) -> anyhow::Result<String> {
    EmailAddress::parse(address)
        .map(|email| email.as_str().to_owned())
        .map_err(|e| anyhow::anyhow!("{what} address is invalid: {e}"))
}

fn validate_name(name: &str) -> anyhow::Result<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        bail!("store name must be 1 to 100 characters without control characters");
    }
    Ok(name.to_owned())
}

fn validate_locale(locale: &str) -> anyhow::Result<String> {
    let valid = (2..=35).contains(&locale.len())
        && locale
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !valid {
        bail!("locale {locale:?} must be a language tag such as en or de-DE");
    }
    Ok(locale.to_owned())
}

fn parse_sequence(spec: &str) -> anyhow::Result<Sequence> {
    common::config::parse_sequence(spec).map_err(|e| anyhow::anyhow!("sequence: {e}"))
}

/// Returns the physical id (for a table, its name) of a stack's resource.
pub async fn stack_resource(
    client: &aws_sdk_cloudformation::Client,
    stack: &str,
    logical_id: &str,
) -> anyhow::Result<String> {
    let output = client
        .describe_stack_resource()
        .stack_name(stack)
        .logical_resource_id(logical_id)
        .send()
        .await
        .map_err(|error| {
            anyhow::anyhow!(
                "failed to look up {logical_id} in stack {stack}: {}; check --stack and the region",
                aws_message(&error)
            )
        })?;
    output
        .stack_resource_detail()
        .and_then(|detail| detail.physical_resource_id())
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
        .with_context(|| format!("stack {stack} has no {logical_id} yet"))
}

/// Returns the value of a stack's parameter.
pub async fn stack_parameter(
    client: &aws_sdk_cloudformation::Client,
    stack: &str,
    parameter: &str,
) -> anyhow::Result<String> {
    let output = client
        .describe_stacks()
        .stack_name(stack)
        .send()
        .await
        .map_err(|error| {
            anyhow::anyhow!(
                "failed to read stack {stack}: {}; check --stack and the region",
                aws_message(&error)
            )
        })?;
    output
        .stacks()
        .first()
        .and_then(|found| {
            found
                .parameters()
                .iter()
                .find(|p| p.parameter_key() == Some(parameter))
        })
        .and_then(|p| p.parameter_value())
        .filter(|value| !value.is_empty())
        .map(str::to_owned)
        .with_context(|| format!("stack {stack} has no {parameter} parameter; pass --name"))
}

/// Returns the code and message AWS gave for a failed request, without the SDK's debug dump.
pub fn aws_message(error: &impl aws_sdk_cloudformation::error::ProvideErrorMetadata) -> String {
    match (error.code(), error.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_owned(),
        (None, Some(message)) => message.to_owned(),
        (None, None) => "no response from the service".to_owned(),
    }
}
