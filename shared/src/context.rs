//! Everything a handler needs, built once per Lambda instance and shared by every invocation.

use std::sync::Arc;

use aws_config::SdkConfig;

use crate::config::Config;
use crate::email::Mailer;
use crate::events::EventPublisher;
use crate::secrets::{SecretStore, Secrets};
use crate::storage::{Storage, StorageError};

/// Configuration and AWS clients shared by the handlers. Cloning is cheap.
#[derive(Clone)]
pub struct Context {
    /// Settings.
    pub config: Arc<Config>,
    /// DynamoDB access.
    pub storage: Storage,
    /// SES v2 sending.
    pub mailer: Mailer,
    /// Domain events on the custom bus.
    pub events: EventPublisher,
    /// The hash pepper and the token keys, read on first use.
    pub secret_store: Arc<SecretStore>,
}

impl Context {
    /// Builds the clients from the standard AWS environment (region, credentials and endpoint
    /// variables such as `AWS_ENDPOINT_URL_DYNAMODB`). Makes no network call.
    pub async fn from_env() -> anyhow::Result<Self> {
        let config = Config::from_env()?;
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Ok(Self::new(config, &sdk))
    }

    /// Builds the clients from a given configuration.
    pub fn new(config: Config, sdk: &SdkConfig) -> Self {
        let config = Arc::new(config);
        Self {
            storage: Storage::new(aws_sdk_dynamodb::Client::new(sdk), config.tables.clone()),
            mailer: Mailer::new(aws_sdk_sesv2::Client::new(sdk), config.clone()),
            events: EventPublisher::new(
                aws_sdk_eventbridge::Client::new(sdk),
                config.event_bus.clone(),
            ),
            secret_store: Arc::new(SecretStore::new(
                config.secrets.clone(),
                aws_sdk_secretsmanager::Client::new(sdk),
            )),
            config,
        }
    }

    /// Returns the hash pepper and the token keys. The first call of a deployed function reads
    /// them from Secrets Manager. A failure is a [`StorageError::Secrets`], so the handlers treat
    /// it as any failed dependency (a 5xx, or an error the sender run returns).
    pub async fn secrets(&self) -> Result<Arc<Secrets>, StorageError> {
        Ok(self.secret_store.get().await?)
    }
}
