//! `cart-admin`: adds, lists, shows, updates, pauses and resumes stores.
//!
//! It reads the stores table name from `STORES_TABLE` and AWS access from the standard
//! environment (region, credentials, and endpoint variables for the local stack).

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
    if cli.stores_table.is_empty() {
        anyhow::bail!("set STORES_TABLE or --stores-table to the stack's stores table name");
    }
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let mut tables = Tables::stores_only(cli.stores_table);
    tables.stats = cli.stats_table;
    let storage = Storage::new(aws_sdk_dynamodb::Client::new(&sdk), tables);

    let command = match cli.command {
        Command::Store(command) => command,
        Command::Stats { id, from, to } => {
            if storage.tables().stats.is_empty() {
                anyhow::bail!("set STATS_TABLE or --stats-table to the stack's stats table name");
            }
            let output = operator::stats(&storage, &id, &from, &to).await?;
            println!("{}", serde_json::to_string_pretty(&output)?);
            return Ok(());
        }
    };
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

fn paused(paused: bool) -> StoreChanges {
    StoreChanges {
        paused: Some(paused),
        ..StoreChanges::default()
    }
}
