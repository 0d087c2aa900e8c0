//! `local-stack`: runs the whole product on this machine.
//!
//! `local-stack provision` creates the resources and prints their names, `local-stack serve`
//! provisions them and serves the functions, and `local-stack outbox` prints the mail in the
//! local SES outbox. The endpoints come from the standard AWS variables that `infra/run-local` sets.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{bail, Context as _};
use local_stack::{outbox, provision, server};

/// Prefix of every local resource name, such as the table `local-ShoppersTable`.
const PREFIX: &str = "local";

/// Settings the local stack passes through from its environment to the functions.
const PASSED_SETTINGS: [&str; 6] = [
    "FREQUENCY_CAP_SECONDS",
    "HASH_PEPPER",
    "TOKEN_KEYS",
    "PUBLIC_BASE_URL",
    "SEQUENCE_DELAYS_SECONDS",
    "SES_MAX_SEND_RATE",
];

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    common::telemetry::init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|arg| arg == "--help" || arg == "-h") {
        println!("{USAGE}");
        return Ok(());
    }
    // Extra arguments are rejected rather than ignored.
    if args.len() > 1 {
        bail!("too many arguments: {}\n{USAGE}", args.join(" "));
    }
    match args.first().map(String::as_str) {
        None | Some("serve") => serve().await,
        Some("provision") => provision_only().await,
        Some("outbox") => print_outbox().await,
        Some(other) => bail!("unknown command {other:?}; use `provision`, `serve` or `outbox`"),
    }
}

const USAGE: &str = "usage: local-stack [serve | provision | outbox]
  serve      create the local resources and serve every function (the default)
  provision  create the local resources and print their names
  outbox     print the mail in the local SES outbox
The AWS endpoint variables come from the environment; infra/run-local sets them.";

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

async fn serve() -> anyhow::Result<()> {
    let port: u16 = env_or("LOCAL_PORT", "3000")
        .parse()
        .context("LOCAL_PORT must be a port number")?;
    let interval: u64 = env_or("LOCAL_SENDER_INTERVAL_SECONDS", "10")
        .parse()
        .context("LOCAL_SENDER_INTERVAL_SECONDS must be whole seconds")?;
    let sender_domain = env_or("LOCAL_SENDER_DOMAIN", "demo-store.example");

    let mut settings = BTreeMap::new();
    for name in PASSED_SETTINGS {
        if let Ok(value) = std::env::var(name) {
            settings.insert(name.to_owned(), value);
        }
    }
    let stack = provision::Stack::create(PREFIX, &sender_domain, settings).await?;

    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("failed to listen on {address}"))?;
    tracing::info!(%address, sender_interval_seconds = interval, "local stack ready");
    println!("Local stack listening on http://{address}");
    println!("  POST /webhooks/shopify   cart webhook function (Shopify)");
    println!("  POST /webhooks/generic/STORE_ID  cart webhook function (generic platforms)");
    println!("  GET|POST /unsubscribe    unsubscribe function");
    println!("  /v1/*                    merchant API (Authorization: Bearer KEY)");
    println!("  POST /ses-events         SES events function (EventBridge or SNS JSON)");
    println!("  GET  /outbox             mail in the local SES outbox");
    println!("Recovery sender runs every {interval} s. Press Ctrl-C to stop.");

    let sender = tokio::spawn(server::run_sender_every(
        stack.context.clone(),
        Duration::from_secs(interval),
    ));
    axum::serve(
        listener,
        server::router(stack.context.clone(), stack.moto_url.clone()),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    sender.abort();
    tracing::info!("local stack stopped");
    Ok(())
}

async fn provision_only() -> anyhow::Result<()> {
    let sdk = provision::local_sdk_config().await?;
    let settings = provision::provision(
        &sdk,
        PREFIX,
        &env_or("LOCAL_SENDER_DOMAIN", "demo-store.example"),
    )
    .await?;
    for (name, value) in settings {
        println!("{name}={value}");
    }
    Ok(())
}

async fn print_outbox() -> anyhow::Result<()> {
    let messages = outbox::sent_messages(&provision::moto_url()?).await?;
    println!("{} message(s) in the local SES outbox", messages.len());
    for message in messages {
        let parsed = mail_parser::MessageParser::default().parse(message.raw.as_bytes());
        let header = |name: &str| {
            parsed
                .as_ref()
                .and_then(|m| m.header_raw(name))
                .map(|v| v.trim().to_owned())
                .unwrap_or_default()
        };
        println!(
            "\n{}  to {}",
            message.message_id,
            message.destinations.join(", ")
        );
        println!(
            "  Subject: {}",
            parsed.as_ref().and_then(|m| m.subject()).unwrap_or("")
        );
        println!("  List-Unsubscribe: {}", header("List-Unsubscribe"));
        println!(
            "  List-Unsubscribe-Post: {}",
            header("List-Unsubscribe-Post")
        );
    }
    Ok(())
}
