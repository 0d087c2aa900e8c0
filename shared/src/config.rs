//! Configuration read from environment variables, which template.yaml sets for every function.

use std::sync::Arc;
use std::time::Duration;

use crate::domain::{Sequence, FREQUENCY_CAP_SECONDS};
use crate::hashing::Pepper;
use crate::secrets::{SecretSource, Secrets};
use crate::tokens::TokenKeys;

/// How long a function uses the secrets it read before reading them again, by default.
pub const SECRETS_REFRESH_SECONDS: u64 = 300;

/// A missing or invalid setting.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is not set.
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    /// A variable is set to a value that cannot be used.
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid {
        /// Variable name.
        name: &'static str,
        /// The problem with the value.
        reason: String,
    },
    /// The secrets are named in more than one way, or in none.
    #[error("set SECRET_ID (a Secrets Manager secret), or HASH_PEPPER and TOKEN_KEYS, and not both: {0}")]
    Secrets(&'static str),
}

/// DynamoDB table names.
#[derive(Clone, Debug)]
pub struct Tables {
    /// Stores and their settings.
    pub stores: String,
    /// Everything about one shopper in one store, under one partition key.
    pub shoppers: String,
    /// The do-not-email list, by scope and customer key.
    pub suppression: String,
    /// Webhook and SES event ids seen recently, for dedupe.
    pub idempotency: String,
    /// Per-store daily counters.
    pub stats: String,
    /// Audit records of privacy requests and stored data reports.
    pub privacy: String,
}

impl Tables {
    /// Names only the stores table, for tools that touch nothing else. The other names are
    /// empty, so a request to those tables fails with DynamoDB's validation error.
    pub fn stores_only(stores: String) -> Self {
        Self {
            stores,
            shoppers: String::new(),
            suppression: String::new(),
            idempotency: String::new(),
            stats: String::new(),
            privacy: String::new(),
        }
    }
}

/// Settings of every function.
#[derive(Clone, Debug)]
pub struct Config {
    /// Table names.
    pub tables: Tables,
    /// Custom EventBridge bus for domain events.
    pub event_bus: String,
    /// SES configuration set named on every send.
    pub configuration_set: String,
    /// Base URL of the unsubscribe function, such as `https://carts.example.com`.
    pub public_base_url: String,
    /// Source of the hash pepper and the token keys.
    pub secrets: SecretSource,
    /// Sequence used by stores that set none.
    pub default_sequence: Sequence,
    /// Maximum SES sends per second; `None` reads the account's quota.
    pub max_send_rate: Option<f64>,
    /// At most one recovery email per shopper per store in this many seconds.
    pub frequency_cap_seconds: i64,
}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup`, so tests can supply variables without touching
    /// the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |name: &'static str| {
            lookup(name)
                .filter(|value| !value.trim().is_empty())
                .ok_or(ConfigError::Missing(name))
        };

        let tables = Tables {
            stores: required("STORES_TABLE")?,
            shoppers: required("SHOPPERS_TABLE")?,
            suppression: required("SUPPRESSION_TABLE")?,
            idempotency: required("IDEMPOTENCY_TABLE")?,
            stats: required("STATS_TABLE")?,
            privacy: required("PRIVACY_TABLE")?,
        };

        let secrets = secret_source(&lookup)?;

        let default_sequence = match lookup("SEQUENCE_DELAYS_SECONDS") {
            Some(spec) if !spec.trim().is_empty() => parse_sequence(&spec)?,
            _ => Sequence::default(),
        };

        let max_send_rate = match lookup("SES_MAX_SEND_RATE") {
            Some(rate) if !rate.trim().is_empty() => {
                let parsed: f64 = rate.trim().parse().map_err(|_| ConfigError::Invalid {
                    name: "SES_MAX_SEND_RATE",
                    reason: "must be a number of emails per second".into(),
                })?;
                if !(parsed > 0.0 && parsed.is_finite()) {
                    return Err(ConfigError::Invalid {
                        name: "SES_MAX_SEND_RATE",
                        reason: "must be greater than zero".into(),
                    });
                }
                Some(parsed)
            }
            _ => None,
        };

        let frequency_cap_seconds = match lookup("FREQUENCY_CAP_SECONDS") {
            Some(cap) if !cap.trim().is_empty() => cap
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|seconds| *seconds >= 0)
                .ok_or(ConfigError::Invalid {
                    name: "FREQUENCY_CAP_SECONDS",
                    reason: "must be whole seconds, zero or more".into(),
                })?,
            _ => FREQUENCY_CAP_SECONDS,
        };

        let public_base_url = required("PUBLIC_BASE_URL")?
            .trim_end_matches('/')
            .to_owned();
        if !(public_base_url.starts_with("https://") || public_base_url.starts_with("http://")) {
            return Err(ConfigError::Invalid {
                name: "PUBLIC_BASE_URL",
                reason: "must start with https:// (or http:// for the local stack)".into(),
            });
        }

        Ok(Self {
            tables,
            event_bus: required("EVENT_BUS_NAME")?,
            configuration_set: required("SES_CONFIGURATION_SET")?,
            public_base_url,
            secrets,
            default_sequence,
            max_send_rate,
            frequency_cap_seconds,
        })
    }
}

/// Reads `SECRET_ID` (deployments) or `HASH_PEPPER` and `TOKEN_KEYS` (local stack and tests).
fn secret_source(lookup: &impl Fn(&str) -> Option<String>) -> Result<SecretSource, ConfigError> {
    let set = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
    match (set("SECRET_ID"), set("HASH_PEPPER"), set("TOKEN_KEYS")) {
        (Some(secret_id), None, None) => {
            let refresh = match set("SECRETS_REFRESH_SECONDS") {
                Some(seconds) => {
                    seconds
                        .trim()
                        .parse::<u64>()
                        .map_err(|_| ConfigError::Invalid {
                            name: "SECRETS_REFRESH_SECONDS",
                            reason: "must be whole seconds, zero or more".into(),
                        })?
                }
                None => SECRETS_REFRESH_SECONDS,
            };
            Ok(SecretSource::SecretsManager {
                secret_id: secret_id.trim().to_owned(),
                refresh: Duration::from_secs(refresh),
            })
        }
        (None, Some(pepper), Some(keys)) => Ok(SecretSource::Inline(Arc::new(Secrets {
            pepper: Pepper::new(pepper.into_bytes())?,
            token_keys: TokenKeys::parse(&keys)?,
        }))),
        (Some(_), _, _) => Err(ConfigError::Secrets(
            "SECRET_ID is set together with HASH_PEPPER or TOKEN_KEYS",
        )),
        (None, None, None) => Err(ConfigError::Secrets("none is set")),
        (None, _, _) => Err(ConfigError::Secrets(
            "HASH_PEPPER and TOKEN_KEYS go together",
        )),
    }
}

/// Parses comma-separated delays in seconds, such as `3600,86400,259200`.
pub fn parse_sequence(spec: &str) -> Result<Sequence, ConfigError> {
    let invalid = |reason: String| ConfigError::Invalid {
        name: "SEQUENCE_DELAYS_SECONDS",
        reason,
    };
    let delays = spec
        .split(',')
        .map(|part| part.trim().parse::<i64>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| invalid("must be comma-separated whole seconds".into()))?;
    Sequence::new(delays).map_err(|e| invalid(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn base() -> HashMap<&'static str, String> {
        let key = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [3u8; 32]);
        HashMap::from([
            ("STORES_TABLE", "stores".to_string()),
            ("SHOPPERS_TABLE", "shoppers".to_string()),
            ("SUPPRESSION_TABLE", "suppression".to_string()),
            ("IDEMPOTENCY_TABLE", "idempotency".to_string()),
            ("STATS_TABLE", "stats".to_string()),
            ("PRIVACY_TABLE", "privacy".to_string()),
            ("EVENT_BUS_NAME", "bus".to_string()),
            ("SES_CONFIGURATION_SET", "set".to_string()),
            ("PUBLIC_BASE_URL", "https://carts.example.com/".to_string()),
            ("HASH_PEPPER", "0123456789abcdef0123".to_string()),
            ("TOKEN_KEYS", format!("k1={key}")),
        ])
    }

    fn load(vars: &HashMap<&'static str, String>) -> Result<Config, ConfigError> {
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn reads_complete_environment() {
        let config = load(&base()).unwrap();
        assert_eq!(config.public_base_url, "https://carts.example.com");
        assert_eq!(config.default_sequence, Sequence::default());
        assert_eq!(config.max_send_rate, None);
    }

    #[test]
    fn names_the_missing_variable() {
        let mut vars = base();
        vars.remove("SHOPPERS_TABLE");
        let error = load(&vars).unwrap_err().to_string();
        assert!(error.contains("SHOPPERS_TABLE"), "{error}");
    }

    #[test]
    fn rejects_bad_sequence_and_rate() {
        let mut vars = base();
        vars.insert("SEQUENCE_DELAYS_SECONDS", "60,30".into());
        assert!(load(&vars).is_err());

        let mut vars = base();
        vars.insert("SES_MAX_SEND_RATE", "-1".into());
        assert!(load(&vars).is_err());

        let mut vars = base();
        vars.insert("SEQUENCE_DELAYS_SECONDS", "60, 120".into());
        assert_eq!(load(&vars).unwrap().default_sequence.delays(), &[60, 120]);
    }

    #[test]
    fn secret_id_names_the_secret() {
        let mut vars = base();
        vars.remove("HASH_PEPPER");
        vars.remove("TOKEN_KEYS");
        vars.insert("SECRET_ID", "cart-recovery/secrets".into());
        match load(&vars).unwrap().secrets {
            SecretSource::SecretsManager { secret_id, refresh } => {
                assert_eq!(secret_id, "cart-recovery/secrets");
                assert_eq!(refresh, Duration::from_secs(SECRETS_REFRESH_SECONDS));
            }
            other => panic!("expected Secrets Manager, got {other:?}"),
        }

        vars.insert("SECRETS_REFRESH_SECONDS", "soon".into());
        assert!(load(&vars)
            .unwrap_err()
            .to_string()
            .contains("SECRETS_REFRESH_SECONDS"));
    }

    #[test]
    fn secrets_come_from_exactly_one_place() {
        let mut both = base();
        both.insert("SECRET_ID", "cart-recovery/secrets".into());
        let mut neither = base();
        neither.remove("HASH_PEPPER");
        neither.remove("TOKEN_KEYS");
        let mut half = base();
        half.remove("TOKEN_KEYS");
        for (vars, reason) in [
            (both, "set together"),
            (neither, "none is set"),
            (half, "go together"),
        ] {
            let error = load(&vars).unwrap_err().to_string();
            assert!(error.contains("set SECRET_ID"), "{error}");
            assert!(error.contains(reason), "{error}");
        }
    }
}
