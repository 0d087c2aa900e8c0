//! The hash pepper and the unsubscribe token keys.
//!
//! A deployed function reads them from one Secrets Manager secret on first use, not during
//! start-up, and reads it again once the copy is older than the refresh interval. So the values
//! never sit in the function's configuration, and a changed secret (a new token key) takes
//! effect without a deploy. The local stack and the tests set them as variables instead.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::config::ConfigError;
use crate::hashing::Pepper;
use crate::tokens::TokenKeys;

/// The values that must stay secret.
#[derive(Debug)]
pub struct Secrets {
    /// Pepper for customer keys.
    pub pepper: Pepper,
    /// Unsubscribe token keys, the signing key first.
    pub token_keys: TokenKeys,
}

/// The JSON of the Secrets Manager secret.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretJson {
    hash_pepper: String,
    token_keys: String,
}

impl Secrets {
    /// Reads the secret's JSON, `{"hash_pepper": "…", "token_keys": "k1=BASE64,…"}`. An error
    /// names the field and the problem, never a value.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let json: SecretJson = serde_json::from_str(text).map_err(|error| {
            // serde's message can quote a value, so only the missing and unknown field messages,
            // which name fields, are kept whole.
            let message = error.to_string();
            let detail =
                if message.starts_with("missing field") || message.starts_with("unknown field") {
                    message
                        .split(" at line")
                        .next()
                        .unwrap_or_default()
                        .to_owned()
                } else {
                    format!(
                        "{:?} error at line {}, column {}",
                        error.classify(),
                        error.line(),
                        error.column()
                    )
                };
            format!("is not JSON with the string fields hash_pepper and token_keys ({detail})")
        })?;
        let field_error = |field: &str, error: ConfigError| match error {
            ConfigError::Invalid { reason, .. } => format!("field {field}: {reason}"),
            ConfigError::Missing(_) => format!("field {field} is empty"),
            other => format!("field {field}: {other}"),
        };
        Ok(Self {
            pepper: Pepper::new(json.hash_pepper.into_bytes())
                .map_err(|e| field_error("hash_pepper", e))?,
            token_keys: TokenKeys::parse(&json.token_keys)
                .map_err(|e| field_error("token_keys", e))?,
        })
    }
}

/// Source of the pepper and the token keys.
#[derive(Clone, Debug)]
pub enum SecretSource {
    /// Given in `HASH_PEPPER` and `TOKEN_KEYS` (local stack and tests).
    Inline(Arc<Secrets>),
    /// Read from the Secrets Manager secret `SECRET_ID` (a name or an ARN).
    SecretsManager {
        /// Name or ARN of the secret.
        secret_id: String,
        /// How long a read copy is used before the secret is read again.
        refresh: Duration,
    },
}

/// The secrets could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// The request to Secrets Manager failed.
    #[error("Secrets Manager GetSecretValue failed")]
    Request(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The secret exists but cannot be used.
    #[error("secret {secret_id} {reason}")]
    Invalid {
        /// Name or ARN of the secret.
        secret_id: String,
        /// The problem, without any value.
        reason: String,
    },
}

/// Gives out the secrets, reading them on first use and again after the refresh interval.
pub struct SecretStore {
    source: SecretSource,
    client: aws_sdk_secretsmanager::Client,
    cached: tokio::sync::Mutex<Option<(Instant, Arc<Secrets>)>>,
}

impl SecretStore {
    /// Creates the store without a request; the first [`SecretStore::get`] reads the secret.
    pub fn new(source: SecretSource, client: aws_sdk_secretsmanager::Client) -> Self {
        Self {
            source,
            client,
            cached: tokio::sync::Mutex::new(None),
        }
    }

    /// Returns the secrets. When a refresh fails, the copy read before is used and a warning is
    /// logged, so a Secrets Manager outage does not stop a warm function.
    pub async fn get(&self) -> Result<Arc<Secrets>, SecretsError> {
        let (secret_id, refresh) = match &self.source {
            SecretSource::Inline(secrets) => return Ok(secrets.clone()),
            SecretSource::SecretsManager { secret_id, refresh } => (secret_id, *refresh),
        };
        // One read at a time: concurrent invocations of a fresh instance wait for the first.
        let mut cached = self.cached.lock().await;
        if let Some((read_at, secrets)) = cached.as_ref() {
            if read_at.elapsed() < refresh {
                return Ok(secrets.clone());
            }
        }
        match self.read(secret_id).await {
            Ok(secrets) => {
                let secrets = Arc::new(secrets);
                *cached = Some((Instant::now(), secrets.clone()));
                Ok(secrets)
            }
            Err(error) => match cached.as_ref() {
                Some((_, stale)) => {
                    tracing::warn!(
                        error.cause_chain = %crate::telemetry::cause_chain(&error),
                        "could not read the secret again; using the copy read before"
                    );
                    Ok(stale.clone())
                }
                None => Err(error),
            },
        }
    }

    async fn read(&self, secret_id: &str) -> Result<Secrets, SecretsError> {
        let output = self
            .client
            .get_secret_value()
            .secret_id(secret_id)
            .send()
            .await
            .map_err(|error| SecretsError::Request(Box::new(error)))?;
        let invalid = |reason: String| SecretsError::Invalid {
            secret_id: secret_id.to_owned(),
            reason,
        };
        let text = output
            .secret_string()
            .ok_or_else(|| invalid("has no SecretString (binary secrets are not read)".into()))?;
        let secrets = Secrets::from_json(text).map_err(invalid)?;
        tracing::info!(
            version_id = output.version_id().unwrap_or("-"),
            "secret read"
        );
        Ok(secrets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "dGVzdC10b2tlbi1rZXktdGhhdC1pcy1sb25nLWVub3VnaC0wMTIzNDU2Nw==";

    #[test]
    fn from_json_reads_pepper_and_keys() {
        let text =
            format!(r#"{{"hash_pepper":"0123456789abcdef0123","token_keys":"k2={KEY},k1={KEY}"}}"#);
        let secrets = Secrets::from_json(&text).unwrap();
        assert_eq!(
            format!("{:?}", secrets.token_keys),
            r#"TokenKeys { key_ids: ["k2", "k1"] }"#
        );
    }

    #[test]
    fn from_json_errors_hide_values() {
        let cases = [
            (
                r#"{"hash_pepper":"short-pepper","token_keys":"k1=KEY"}"#,
                "field hash_pepper",
            ),
            (
                r#"{"hash_pepper":"0123456789abcdef0123","token_keys":"k1=not base64!"}"#,
                "field token_keys",
            ),
            (r#"{"hash_pepper":"0123456789abcdef0123"}"#, "is not JSON"),
            (
                r#"{"hash_pepper":"s3cr3t-pepper-value","token_keys":"x","extra":1}"#,
                "is not JSON",
            ),
            ("hash_pepper=s3cr3t-pepper-value", "is not JSON"),
        ];
        for (text, expected) in cases {
            let error = Secrets::from_json(text).unwrap_err();
            assert!(error.contains(expected), "{text}: {error}");
            assert!(!error.contains("s3cr3t"), "a value leaked: {error}");
            assert!(!error.contains("short-pepper"), "a value leaked: {error}");
        }
    }
}
