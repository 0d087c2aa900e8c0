//! Creates the product's resources on DynamoDB Local and moto: tables from template.yaml, the
//! custom event bus, the SES identity and configuration set.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_sesv2::error::ProvideErrorMetadata;
use common::{Config, Context};

use crate::template::{load_tables, KeyElement, TableDefinition};

/// Returns the path of the project's template.yaml.
pub fn template_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml")
}

/// Loads the SDK configuration from the standard AWS environment variables, refusing to run
/// unless every endpoint points at this machine, so nothing here can reach real AWS.
pub async fn local_sdk_config() -> anyhow::Result<SdkConfig> {
    for name in [
        "AWS_ENDPOINT_URL_DYNAMODB",
        "AWS_ENDPOINT_URL_SESV2",
        "AWS_ENDPOINT_URL_EVENTBRIDGE",
    ] {
        let value = std::env::var(name).with_context(|| {
            format!("{name} is not set; start the local servers with infra/run-local or infra/test")
        })?;
        anyhow::ensure!(
            value.starts_with("http://127.0.0.1:") || value.starts_with("http://localhost:"),
            "{name} must point at 127.0.0.1, not {value}"
        );
    }
    anyhow::ensure!(
        std::env::var("AWS_EC2_METADATA_DISABLED").as_deref() == Ok("true"),
        "AWS_EC2_METADATA_DISABLED must be true so the SDK never asks a metadata address"
    );
    Ok(aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await)
}

/// Returns the base URL of the moto server, from `AWS_ENDPOINT_URL_SESV2`.
pub fn moto_url() -> anyhow::Result<String> {
    let url =
        std::env::var("AWS_ENDPOINT_URL_SESV2").context("AWS_ENDPOINT_URL_SESV2 is not set")?;
    Ok(url.trim_end_matches('/').to_owned())
}

/// Creates every table of the template, named `{prefix}-{LogicalId}`, and returns the
/// environment variable to table name map.
pub async fn create_tables(
    client: &aws_sdk_dynamodb::Client,
    prefix: &str,
) -> anyhow::Result<BTreeMap<String, String>> {
    let definitions = load_tables(&template_path())?;
    let mut names = BTreeMap::new();
    for definition in &definitions {
        let name = format!("{prefix}-{}", definition.logical_id);
        create_table(client, definition, &name).await?;
        names.insert(definition.env_var.clone(), name);
    }
    Ok(names)
}

async fn create_table(
    client: &aws_sdk_dynamodb::Client,
    table: &TableDefinition,
    name: &str,
) -> anyhow::Result<()> {
    let mut request = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_key_schema(Some(key_schema(&table.keys)?));
    for (attribute, kind) in &table.attributes {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(attribute)
                .attribute_type(ScalarAttributeType::from(kind.as_str()))
                .build()?,
        );
    }
    for index in &table.indexes {
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(&index.name)
                .set_key_schema(Some(key_schema(&index.keys)?))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::from(index.projection.as_str()))
                        .build(),
                )
                .build()?,
        );
    }
    match request.send().await {
        Ok(_) => {}
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception()) =>
        {
            return Ok(())
        }
        Err(error) => return Err(error).with_context(|| format!("failed to create table {name}")),
    }

    if let Some(attribute) = &table.ttl_attribute {
        client
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(attribute)
                    .enabled(true)
                    .build()?,
            )
            .send()
            .await
            .with_context(|| format!("failed to enable TTL on {name}"))?;
    }
    Ok(())
}

fn key_schema(keys: &[KeyElement]) -> anyhow::Result<Vec<KeySchemaElement>> {
    keys.iter()
        .map(|key| {
            Ok(KeySchemaElement::builder()
                .attribute_name(&key.attribute)
                .key_type(KeyType::from(key.key_type.as_str()))
                .build()?)
        })
        .collect()
}

/// Creates the custom event bus; an existing bus is kept.
pub async fn create_event_bus(
    client: &aws_sdk_eventbridge::Client,
    name: &str,
) -> anyhow::Result<()> {
    match client.create_event_bus().name(name).send().await {
        Ok(_) => Ok(()),
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_resource_already_exists_exception()) =>
        {
            Ok(())
        }
        Err(error) => Err(error).with_context(|| format!("failed to create event bus {name}")),
    }
}

/// Creates (and, on moto, thereby verifies) the SES domain identity and the configuration set.
/// Existing ones are kept. moto names a duplicate configuration set
/// `ConfigurationSetAlreadyExistsException` where SES returns `AlreadyExistsException`, so any
/// error code that ends in `AlreadyExistsException` counts as "exists".
pub async fn create_ses_resources(
    client: &aws_sdk_sesv2::Client,
    domain: &str,
    configuration_set: &str,
) -> anyhow::Result<()> {
    let exists = |code: Option<&str>| code.is_some_and(|c| c.ends_with("AlreadyExistsException"));
    if let Err(error) = client
        .create_email_identity()
        .email_identity(domain)
        .send()
        .await
    {
        if !exists(error.code()) {
            return Err(error).with_context(|| format!("failed to create SES identity {domain}"));
        }
    }
    let created = client
        .create_configuration_set()
        .configuration_set_name(configuration_set)
        .send()
        .await;
    if let Err(error) = created {
        if !exists(error.code()) {
            return Err(error).with_context(|| {
                format!("failed to create configuration set {configuration_set}")
            });
        }
    }
    Ok(())
}

/// Creates the tables, bus and configuration set named after `prefix` and verifies
/// `sender_domain`; returns the settings that name them (`SHOPPERS_TABLE`, `EVENT_BUS_NAME`, …).
/// Resources that exist are kept, so running it again is harmless.
pub async fn provision(
    sdk: &SdkConfig,
    prefix: &str,
    sender_domain: &str,
) -> anyhow::Result<BTreeMap<String, String>> {
    let mut settings = create_tables(&aws_sdk_dynamodb::Client::new(sdk), prefix).await?;
    let bus = format!("{prefix}-events");
    create_event_bus(&aws_sdk_eventbridge::Client::new(sdk), &bus).await?;
    settings.insert("EVENT_BUS_NAME".into(), bus);
    let configuration_set = format!("{prefix}-recovery");
    create_ses_resources(
        &aws_sdk_sesv2::Client::new(sdk),
        sender_domain,
        &configuration_set,
    )
    .await?;
    settings.insert("SES_CONFIGURATION_SET".into(), configuration_set);
    Ok(settings)
}

/// A provisioned set of resources with a handler context over them.
pub struct Stack {
    /// The context the handlers run with.
    pub context: Context,
    /// SDK configuration pointed at the local servers.
    pub sdk: SdkConfig,
    /// Every setting the context was built from (table names, bus, configuration set, …).
    pub settings: BTreeMap<String, String>,
    /// Base URL of moto.
    pub moto_url: String,
}

impl Stack {
    /// Provisions tables, bus and configuration set named after `prefix`, verifies
    /// `sender_domain` in SES, and builds a context from `settings` plus those names.
    pub async fn create(
        prefix: &str,
        sender_domain: &str,
        mut settings: BTreeMap<String, String>,
    ) -> anyhow::Result<Self> {
        let sdk = local_sdk_config().await?;
        settings.extend(provision(&sdk, prefix, sender_domain).await?);

        let config = Config::from_lookup(|name| settings.get(name).cloned())?;
        Ok(Self {
            context: Context::new(config, &sdk),
            sdk,
            settings,
            moto_url: moto_url()?,
        })
    }
}
