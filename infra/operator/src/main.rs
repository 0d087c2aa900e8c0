//! `cart-admin`: adds, lists, shows, updates, pauses and resumes stores, prints their counters,
//! and creates the deployment secret and rotates its token keys.
//!
//! It finds the tables through `--stack` (the CloudFormation stack's StoresTable and StatsTable)
//! or takes their names from `STORES_TABLE` and `STATS_TABLE`, and reads AWS access from the
//! standard environment (region, credentials, and endpoint variables for the local stack).

use clap::{Parser, Subcommand, ValueEnum};
use common::config::Tables;
use common::domain::Platform;
use common::storage::Storage;
use operator::{NewStore, StoreChanges};

#[derive(Parser)]
#[command(
    name = "cart-admin",
    about = "Manage the stores of a cart recovery deployment",
    version
)]
struct Cli {
    /// CloudFormation stack of the deployment, such as cart-recovery; its StoresTable and
    /// StatsTable are used unless the table options name others.
    #[arg(long, env = "STACK_NAME", global = true)]
    stack: Option<String>,
    /// DynamoDB table of stores (the stack's StoresTable).
    #[arg(long, env = "STORES_TABLE", global = true, default_value = "")]
    stores_table: String,
    /// DynamoDB table of daily counters (the stack's StatsTable), for `stats`.
    #[arg(long, env = "STATS_TABLE", global = true, default_value = "")]
    stats_table: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Store commands.
    #[command(subcommand)]
    Store(StoreCommand),
    /// Deployment secret commands (Secrets Manager).
    #[command(subcommand)]
    Secret(SecretCommand),
    /// Print a store's counters, rates and warnings, as the merchant API returns them.
    Stats {
        /// Store id.
        id: String,
        /// First day, such as 2026-12-01 (UTC).
        #[arg(long)]
        from: String,
        /// Last day, inclusive.
        #[arg(long)]
        to: String,
    },
}

#[derive(Subcommand)]
enum SecretCommand {
    /// Create the secret with a random hash pepper and one token key; prints no value.
    Create {
        /// Secret name or ARN; default: the --stack's SecretName, else cart-recovery/secrets.
        #[arg(long, env = "SECRET_ID")]
        name: Option<String>,
    },
    /// Put a new random token key first; new emails are signed with it, old links keep working.
    AddTokenKey {
        /// Secret name or ARN; default: the --stack's SecretName, else cart-recovery/secrets.
        #[arg(long, env = "SECRET_ID")]
        name: Option<String>,
    },
    /// Remove an old token key; links signed with it stop working.
    RemoveTokenKey {
        /// Secret name or ARN; default: the --stack's SecretName, else cart-recovery/secrets.
        #[arg(long, env = "SECRET_ID")]
        name: Option<String>,
        /// Key id, such as k1.
        key_id: String,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum PlatformArg {
    Shopify,
    Generic,
}

#[derive(Subcommand)]
enum StoreCommand {
    /// Add a store and print its webhook secret once.
    Add {
        /// Store id: letters, digits, '.', '_' or '-', at most 64 characters.
        #[arg(long)]
        id: String,
        /// Platform the store's webhooks come from.
        #[arg(long, value_enum)]
        platform: PlatformArg,
        /// Shop domain, such as example.myshopify.com.
        #[arg(long)]
        shop_domain: String,
        /// Store name shown in emails.
        #[arg(long)]
        name: String,
        /// Sender address on a verified SES identity.
        #[arg(long)]
        sender: String,
        /// Reply-To address.
        #[arg(long)]
        reply_to: Option<String>,
        /// Email delays after the last cart activity, comma-separated seconds (default: the deployment's).
        #[arg(long)]
        sequence: Option<String>,
        /// Default locale of the emails, such as en or de-DE.
        #[arg(long, default_value = "en")]
        locale: String,
        /// Webhook secret (Shopify's app secret, for example); generated when omitted.
        #[arg(long)]
        webhook_secret: Option<String>,
    },
    /// List stores without secrets.
    List,
    /// Show one store.
    Show {
        /// Store id.
        id: String,
        /// Include the webhook secret.
        #[arg(long)]
        show_secret: bool,
    },
    /// Change a store's settings.
    Update {
        /// Store id.
        id: String,
        /// New store name.
        #[arg(long)]
        name: Option<String>,
        /// New sender address.
        #[arg(long)]
        sender: Option<String>,
        /// New Reply-To address; an empty value removes it.
        #[arg(long)]
        reply_to: Option<String>,
        /// New delays in comma-separated seconds; an empty value returns to the deployment default.
        #[arg(long)]
        sequence: Option<String>,
        /// New default locale.
        #[arg(long)]
        locale: Option<String>,
        /// New webhook secret.
        #[arg(long)]
        webhook_secret: Option<String>,
        /// Generate a new webhook secret and print it once.
        #[arg(long)]
        rotate_secret: bool,
    },
    /// Stop sending for a store; webhooks are still accepted.
    Pause {
        /// Store id.
        id: String,
    },
    /// Resume sending for a paused store.
    Resume {
        /// Store id.
        id: String,
    },
    /// Create or rotate the store's merchant API key and print it once.
    ApiKey {
        /// Store id.
        id: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    // An empty STACK_NAME counts as unset, as the empty table variables do.
    let stack = cli.stack.as_deref().filter(|name| !name.trim().is_empty());
    let cloudformation = aws_sdk_cloudformation::Client::new(&sdk);
    let table = |given: String, logical_id: &'static str| {
        let cloudformation = &cloudformation;
        async move {
            match stack {
                Some(stack) if given.is_empty() => {
                    operator::stack_resource(cloudformation, stack, logical_id).await
                }
                _ => Ok(given),
            }
        }
    };

    let command = match cli.command {
        Command::Secret(command) => {
            let output = secret_command(&sdk, &cloudformation, stack, command).await?;
            println!("{}", serde_json::to_string_pretty(&output)?);
            return Ok(());
        }
        Command::Store(command) => command,
        Command::Stats { id, from, to } => {
            let mut tables = Tables::stores_only(table(cli.stores_table, "StoresTable").await?);
            tables.stats = table(cli.stats_table, "StatsTable").await?;
            if tables.stores.is_empty() || tables.stats.is_empty() {
                anyhow::bail!(
                    "{MISSING_TABLES}, and STATS_TABLE (or --stats-table) to its stats table"
                );
            }
            let storage = Storage::new(aws_sdk_dynamodb::Client::new(&sdk), tables);
            let output = operator::stats(&storage, &id, &from, &to).await?;
            println!("{}", serde_json::to_string_pretty(&output)?);
            return Ok(());
        }
    };
    // Store commands need only the stores table.
    let stores_table = table(cli.stores_table, "StoresTable").await?;
    if stores_table.is_empty() {
        anyhow::bail!("{MISSING_TABLES}");
    }
    let storage = Storage::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        Tables::stores_only(stores_table),
    );
    let output = match command {
        StoreCommand::Add {
            id,
            platform,
            shop_domain,
            name,
            sender,
            reply_to,
            sequence,
            locale,
            webhook_secret,
        } => {
            let platform = match platform {
                PlatformArg::Shopify => Platform::Shopify,
                PlatformArg::Generic => Platform::Generic,
            };
            let new = NewStore {
                id,
                platform,
                shop_domain,
                name,
                sender,
                reply_to,
                sequence,
                locale,
                webhook_secret,
            };
            operator::add_store(&storage, new).await?
        }
        StoreCommand::List => operator::list_stores(&storage).await?,
        StoreCommand::Show { id, show_secret } => {
            operator::show_store(&storage, &id, show_secret).await?
        }
        StoreCommand::Update {
            id,
            name,
            sender,
            reply_to,
            sequence,
            locale,
            webhook_secret,
            rotate_secret,
        } => {
            let changes = StoreChanges {
                name,
                sender,
                reply_to,
                sequence,
                locale,
                webhook_secret,
                rotate_secret,
                paused: None,
            };
            operator::update_store(&storage, &id, changes).await?
        }
        StoreCommand::Pause { id } => operator::update_store(&storage, &id, paused(true)).await?,
        StoreCommand::Resume { id } => operator::update_store(&storage, &id, paused(false)).await?,
        StoreCommand::ApiKey { id } => operator::rotate_api_key(&storage, &id).await?,
    };
    println!("{}", serde_json::to_string_pretty(&output)?);
    Ok(())
}

const MISSING_TABLES: &str = "set --stack (or STACK_NAME) to the deployment's stack, or STORES_TABLE (or --stores-table) to its stores table";

/// Runs a secret command on the secret that `--name` (or `SECRET_ID`) names, else the one the
/// stack's SecretName parameter names, else `cart-recovery/secrets`.
async fn secret_command(
    sdk: &aws_config::SdkConfig,
    cloudformation: &aws_sdk_cloudformation::Client,
    stack: Option<&str>,
    command: SecretCommand,
) -> anyhow::Result<serde_json::Value> {
    let (SecretCommand::Create { name }
    | SecretCommand::AddTokenKey { name }
    | SecretCommand::RemoveTokenKey { name, .. }) = &command;
    let name = match (name.as_deref().filter(|n| !n.trim().is_empty()), stack) {
        (Some(name), _) => name.to_owned(),
        (None, Some(stack)) => {
            operator::stack_parameter(cloudformation, stack, "SecretName").await?
        }
        (None, None) => DEFAULT_SECRET_NAME.to_owned(),
    };
    let client = aws_sdk_secretsmanager::Client::new(sdk);
    match command {
        SecretCommand::Create { .. } => operator::secret::create(&client, &name).await,
        SecretCommand::AddTokenKey { .. } => operator::secret::add_token_key(&client, &name).await,
        SecretCommand::RemoveTokenKey { key_id, .. } => {
            operator::secret::remove_token_key(&client, &name, &key_id).await
        }
    }
}

/// Secret name when neither `--name` nor `--stack` gives one (the template's default).
const DEFAULT_SECRET_NAME: &str = "cart-recovery/secrets";

fn paused(paused: bool) -> StoreChanges {
    StoreChanges {
        paused: Some(paused),
        ..StoreChanges::default()
    }
}
