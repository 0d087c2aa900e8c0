//! `cart-admin` as an operator runs it: the real binary against a stores table on DynamoDB Local.

use std::process::{Command, Output};

use serde_json::Value;

struct Tool {
    table: String,
}

impl Tool {
    async fn new() -> Self {
        let tables = local_tables().await;
        Self {
            table: tables["STORES_TABLE"].clone(),
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_cart-admin"))
            .args(args)
            .env("STORES_TABLE", &self.table)
            .output()
            .unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).unwrap()
    }
}

/// Creates a fresh set of the template's tables on DynamoDB Local and returns their names by
/// environment variable (`STORES_TABLE`, `STATS_TABLE`, …).
async fn local_tables() -> std::collections::BTreeMap<String, String> {
    let sdk = local_stack::provision::local_sdk_config()
        .await
        .expect("local servers are running; use infra/test to run the tests");
    let prefix = format!("cli{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    local_stack::provision::create_tables(&aws_sdk_dynamodb::Client::new(&sdk), &prefix)
        .await
        .unwrap()
}

/// Runs cart-admin with no table variables, so it must find the tables through a stack.
fn run_without_tables(args: &[&str], stack_name: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cart-admin"));
    command
        .args(args)
        .env_remove("STORES_TABLE")
        .env_remove("STATS_TABLE");
    if let Some(stack) = stack_name {
        command.env("STACK_NAME", stack);
    }
    command.output().unwrap()
}

fn add_args<'a>(id: &'a str, domain: &'a str) -> Vec<&'a str> {
    vec![
        "store",
        "add",
        "--id",
        id,
        "--platform",
        "shopify",
        "--shop-domain",
        domain,
        "--name",
        "Northwind Knits",
        "--sender",
        "carts@northwind.test",
        "--reply-to",
        "help@northwind.test",
        "--sequence",
        "1800,86400",
        "--locale",
        "de",
    ]
}

#[tokio::test]
async fn add_prints_secret_once_and_list_hides_it() {
    let tool = Tool::new().await;
    let added = tool.json(&add_args("northwind", "northwind.myshopify.com"));
    let secret = added["webhook_secret"].as_str().unwrap().to_owned();
    assert!(
        secret.len() >= 40,
        "generated secret has 256 bits: {secret}"
    );
    assert_eq!(
        added["sequence_delays_seconds"],
        serde_json::json!([1800, 86400])
    );

    let listed = tool.json(&["store", "list"]);
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert!(listed[0].get("webhook_secret").is_none());
    assert!(!listed.to_string().contains(&secret));

    let shown = tool.json(&["store", "show", "northwind"]);
    assert!(shown.get("webhook_secret").is_none());
    let revealed = tool.json(&["store", "show", "northwind", "--show-secret"]);
    assert_eq!(revealed["webhook_secret"].as_str(), Some(secret.as_str()));
}

#[tokio::test]
async fn add_rejects_taken_id_domain_and_bad_values() {
    let tool = Tool::new().await;
    tool.json(&add_args("first", "first.myshopify.com"));

    let cases: Vec<(Vec<&str>, &str)> = vec![
        (add_args("first", "other.myshopify.com"), "already exists"),
        (
            add_args("second", "FIRST.myshopify.com"),
            "already belongs to store first",
        ),
        (
            add_args("bad#id", "third.myshopify.com"),
            "store id must be",
        ),
        (add_args("third", "not a domain"), "is not a host name"),
    ];
    for (args, expected) in cases {
        let output = tool.run(&args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} succeeded");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }

    let mut bad_sender = add_args("fourth", "fourth.myshopify.com");
    bad_sender[11] = "not-an-address";
    let output = tool.run(&bad_sender);
    assert!(String::from_utf8_lossy(&output.stderr).contains("sender address is invalid"));
    let mut short_secret = add_args("fifth", "fifth.myshopify.com");
    short_secret.extend(["--webhook-secret", "short"]);
    let output = tool.run(&short_secret);
    assert!(String::from_utf8_lossy(&output.stderr).contains("at least 16 characters"));
    assert_eq!(
        tool.json(&["store", "list"]).as_array().unwrap().len(),
        1,
        "a rejected add stored a store"
    );
}

#[tokio::test]
async fn update_pause_resume_and_rotate() {
    let tool = Tool::new().await;
    let added = tool.json(&add_args("shop", "shop.myshopify.com"));

    let updated = tool.json(&[
        "store",
        "update",
        "shop",
        "--name",
        "Northwind",
        "--reply-to",
        "",
        "--sequence",
        "",
    ]);
    assert_eq!(updated["name"], "Northwind");
    assert!(updated["reply_to"].is_null());
    assert!(updated["sequence_delays_seconds"].is_null());
    assert!(
        updated.get("webhook_secret").is_none(),
        "unchanged secret must not be printed"
    );

    assert_eq!(tool.json(&["store", "pause", "shop"])["paused"], true);
    assert_eq!(tool.json(&["store", "resume", "shop"])["paused"], false);

    let rotated = tool.json(&["store", "update", "shop", "--rotate-secret"]);
    assert_ne!(rotated["webhook_secret"], added["webhook_secret"]);

    let missing = tool.run(&["store", "pause", "nope"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("store nope not found"));
}

#[tokio::test]
async fn missing_table_setting_is_explained() {
    let output = Command::new(env!("CARGO_BIN_EXE_cart-admin"))
        .args(["store", "list"])
        .env_remove("STORES_TABLE")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("set --stack"));
}

/// Creates a stack in moto's CloudFormation whose StoresTable and StatsTable name the given
/// tables (no StatsTable when `stats` is empty) and whose SecretName parameter is `secret`.
async fn stack_naming(stores: &str, stats: &str, secret: &str) -> String {
    let table = |name: &str, keys: &[&str]| {
        let attributes: Vec<Value> = keys
            .iter()
            .map(|key| serde_json::json!({ "AttributeName": key, "AttributeType": "S" }))
            .collect();
        let schema: Vec<Value> = keys
            .iter()
            .zip(["HASH", "RANGE"])
            .map(|(key, kind)| serde_json::json!({ "AttributeName": key, "KeyType": kind }))
            .collect();
        serde_json::json!({
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "TableName": name,
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": attributes,
                "KeySchema": schema,
            }
        })
    };
    let mut template = serde_json::json!({
        "Parameters": { "SecretName": { "Type": "String" } },
        "Resources": { "StoresTable": table(stores, &["store_id"]) }
    });
    if !stats.is_empty() {
        template["Resources"]["StatsTable"] = table(stats, &["store_id", "day"]);
    }
    let stack = format!("cli-{}", uuid::Uuid::new_v4().simple());
    let sdk = local_stack::provision::local_sdk_config().await.unwrap();
    aws_sdk_cloudformation::Client::new(&sdk)
        .create_stack()
        .stack_name(&stack)
        .template_body(template.to_string())
        .parameters(
            aws_sdk_cloudformation::types::Parameter::builder()
                .parameter_key("SecretName")
                .parameter_value(secret)
                .build(),
        )
        .send()
        .await
        .unwrap();
    stack
}

#[tokio::test]
async fn stack_option_finds_the_tables() {
    let tables = local_tables().await;
    let secret = format!("cart-recovery/stack-{}", tables["STORES_TABLE"]);
    let stack = stack_naming(&tables["STORES_TABLE"], &tables["STATS_TABLE"], &secret).await;
    let run = |args: &[&str]| run_without_tables(args, None);

    let mut add = vec!["--stack", stack.as_str()];
    add.extend(add_args("stacked", "stacked.myshopify.com"));
    let output = run(&add);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let output = run(&["--stack", &stack, "store", "list"]);
    let listed: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(listed[0]["id"], serde_json::json!("stacked"));
    let output = run(&[
        "--stack",
        &stack,
        "stats",
        "stacked",
        "--from",
        "2026-12-01",
        "--to",
        "2026-12-02",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let output = run(&["--stack", "no-such-stack", "store", "list"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("failed to look up StoresTable in stack no-such-stack"),
        "{stderr}"
    );
    assert!(stderr.contains("check --stack and the region"), "{stderr}");

    // The secret commands take the secret's name from the stack's SecretName parameter.
    let created = run(&["--stack", &stack, "secret", "create"]);
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let created: Value = serde_json::from_slice(&created.stdout).unwrap();
    assert_eq!(created["secret"].as_str(), Some(secret.as_str()));
}

#[tokio::test]
async fn store_commands_need_no_stats_table() {
    let tables = local_tables().await;
    let stack = stack_naming(&tables["STORES_TABLE"], "", "unused").await;
    let run = |args: &[&str]| run_without_tables(args, Some(&stack));

    let output = run(&["store", "list"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let output = run(&["stats", "any", "--from", "2026-12-01", "--to", "2026-12-02"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("StatsTable"), "{stderr}");

    // An empty STACK_NAME counts as unset.
    let output = Command::new(env!("CARGO_BIN_EXE_cart-admin"))
        .args(["store", "list"])
        .env("STACK_NAME", "")
        .env("STORES_TABLE", &tables["STORES_TABLE"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn api_key_shown_once_and_stats_match() {
    let tool = Tool::new().await;
    tool.json(&add_args("keyed", "keyed.myshopify.com"));
    let created = tool.json(&["store", "api-key", "keyed"]);
    let key = created["api_key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("ck.keyed."), "{key}");

    let shown = tool.json(&["store", "show", "keyed", "--show-secret"]);
    assert_eq!(shown["has_api_key"], true);
    assert!(
        !shown.to_string().contains(&key),
        "the key itself is never stored or shown again"
    );

    let sdk = local_stack::provision::local_sdk_config().await.unwrap();
    let prefix = tool.table.trim_end_matches("-StoresTable");
    let stats_table = format!("{prefix}-StatsTable");
    let mut tables = common::config::Tables::stores_only(tool.table.clone());
    tables.stats = stats_table.clone();
    let storage = common::storage::Storage::new(aws_sdk_dynamodb::Client::new(&sdk), tables);
    let store = common::domain::StoreId::parse("keyed").unwrap();
    let day = "2026-11-30";
    let at = common::clock::parse_rfc3339(&format!("{day}T12:00:00Z")).unwrap();
    use common::storage::Counter;
    storage
        .add_counters(
            &store,
            at,
            &[(Counter::Sent, 100), (Counter::Unsubscribed, 3)],
        )
        .await
        .unwrap();

    let output = Command::new(env!("CARGO_BIN_EXE_cart-admin"))
        .args(["stats", "keyed", "--from", day, "--to", day])
        .env("STORES_TABLE", &tool.table)
        .env("STATS_TABLE", &stats_table)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stats: Value = serde_json::from_slice(&output.stdout).unwrap();
    let totals = storage.counters_between(&store, day, day).await.unwrap();
    let expected =
        serde_json::to_value(common::health::compute(&store, day, day, &totals)).unwrap();
    assert_eq!(stats, expected);
    assert!(stats["warnings"][0].as_str().unwrap().contains("above 2%"));
}

/// Returns the secret's current JSON text, read as the functions read it.
async fn secret_text(name: &str) -> String {
    let sdk = local_stack::provision::local_sdk_config().await.unwrap();
    aws_sdk_secretsmanager::Client::new(&sdk)
        .get_secret_value()
        .secret_id(name)
        .send()
        .await
        .unwrap()
        .secret_string()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn secret_commands_print_no_values() {
    let tool = Tool::new().await;
    let name = format!("cart-recovery/cli-{}", uuid::Uuid::new_v4().simple());

    let created = tool.json(&["secret", "create", "--name", &name]);
    assert_eq!(created["token_key_ids"], serde_json::json!(["k1"]));
    let text = secret_text(&name).await;
    assert!(
        common::secrets::Secrets::from_json(&text).is_ok(),
        "the functions cannot read it"
    );
    let first: Value = serde_json::from_str(&text).unwrap();
    let pepper = first["hash_pepper"].as_str().unwrap().to_owned();
    let first_key = first["token_keys"]
        .as_str()
        .unwrap()
        .trim_start_matches("k1=")
        .to_owned();
    assert!(
        !created.to_string().contains(&pepper),
        "the pepper was printed"
    );
    assert!(
        !created.to_string().contains(&first_key),
        "the token key was printed"
    );

    // A second create leaves the pepper alone: changing it would orphan every stored key.
    let again = tool.run(&["secret", "create", "--name", &name]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    assert_eq!(secret_text(&name).await, text);

    let rotated = tool.json(&["secret", "add-token-key", "--name", &name]);
    assert_eq!(rotated["token_key_ids"], serde_json::json!(["k2", "k1"]));
    assert_eq!(rotated["signing_key_id"], serde_json::json!("k2"));
    let text = secret_text(&name).await;
    let second: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        second["hash_pepper"].as_str(),
        Some(pepper.as_str()),
        "the pepper changed"
    );
    assert!(second["token_keys"]
        .as_str()
        .unwrap()
        .ends_with(&format!("k1={first_key}")));
    assert!(!rotated.to_string().contains(&pepper));

    for (key_id, expected) in [("k2", "is the signing key"), ("k9", "has no token key k9")] {
        let output = tool.run(&["secret", "remove-token-key", "--name", &name, key_id]);
        assert!(!output.status.success(), "removing {key_id} succeeded");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{key_id}: {stderr}");
    }
    assert_eq!(
        secret_text(&name).await,
        text,
        "a refused removal changed the secret"
    );

    let removed = tool.json(&["secret", "remove-token-key", "--name", &name, "k1"]);
    assert_eq!(removed["token_key_ids"], serde_json::json!(["k2"]));
}

#[tokio::test]
async fn secret_commands_fail_on_a_missing_secret() {
    let tool = Tool::new().await;
    let name = format!("cart-recovery/absent-{}", uuid::Uuid::new_v4().simple());
    let output = tool.run(&["secret", "add-token-key", "--name", &name]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("failed to read secret {name}")),
        "{stderr}"
    );
    assert!(
        stderr.contains("create it with `cart-admin secret create`"),
        "{stderr}"
    );
}
