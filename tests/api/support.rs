//! Test harness: each test gets its own tables, bus, configuration set, SES identity and store
//! on the DynamoDB Local and moto servers that `infra/test` starts, and calls the real handlers
//! with API Gateway and EventBridge event JSON.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::domain::{Platform, Sequence, Store, StoreId};
use common::Context;
use hmac::{Hmac, Mac};
use lambda_http::{Body, Response};
use local_stack::provision::Stack;
use serde_json::{json, Value};
use sha2::Sha256;

/// Token key used by every test context.
pub const TOKEN_KEY_SPEC: &str =
    "test1=dGVzdC10b2tlbi1rZXktdGhhdC1pcy1sb25nLWVub3VnaC0wMTIzNDU2Nw==";
/// Base URL the tests' unsubscribe links use.
pub const PUBLIC_BASE_URL: &str = "https://carts.test";

/// A provisioned, isolated copy of the product with one Shopify store.
pub struct TestApp {
    pub context: Context,
    pub stack: Stack,
    pub store: Store,
    pub secret: String,
    /// Short unique id of this test's resources, also used in addresses and cart ids.
    pub id: String,
    /// The pepper and token keys of the context, for computing keys and tokens in tests.
    pub secrets: std::sync::Arc<common::secrets::Secrets>,
}

impl TestApp {
    /// Provisions a copy with default settings.
    pub async fn new() -> Self {
        Self::with_settings(&[]).await
    }

    /// Provisions a copy with extra settings, such as `("FREQUENCY_CAP_SECONDS", "0")`.
    pub async fn with_settings(extra: &[(&str, &str)]) -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
        let sender_domain = format!("shop-{id}.test");

        let mut settings = BTreeMap::from([
            (
                "HASH_PEPPER".to_owned(),
                "test-pepper-0123456789abcdef".to_owned(),
            ),
            ("TOKEN_KEYS".to_owned(), TOKEN_KEY_SPEC.to_owned()),
            ("PUBLIC_BASE_URL".to_owned(), PUBLIC_BASE_URL.to_owned()),
            ("SES_MAX_SEND_RATE".to_owned(), "1000".to_owned()),
        ]);
        for (name, value) in extra {
            settings.insert((*name).to_owned(), (*value).to_owned());
        }
        let stack = Stack::create(&format!("t{id}"), &sender_domain, settings)
            .await
            .expect("local servers are running; use infra/test to run the tests");

        let secret = format!("secret-{id}");
        let store = Store {
            id: StoreId::parse(&format!("store-{id}")).unwrap(),
            platform: Platform::Shopify,
            shop_domain: format!("shop-{id}.myshopify.com"),
            name: "Northwind Knits".into(),
            sender: format!("carts@{sender_domain}"),
            reply_to: Some(format!("help@{sender_domain}")),
            webhook_secret: secret.clone().into(),
            sequence: None,
            default_locale: "en".into(),
            paused: false,
            api_key_hash: None,
        };
        stack.context.storage.put_store(&store).await.unwrap();

        Self {
            secrets: stack.context.secrets().await.unwrap(),
            context: stack.context.clone(),
            stack,
            store,
            secret,
            id,
        }
    }

    /// Changes the store's sequence.
    pub async fn set_sequence(&mut self, delays: Vec<i64>) {
        self.store.sequence = Some(Sequence::new(delays).unwrap());
        self.context.storage.put_store(&self.store).await.unwrap();
        // A fresh context, so no cached copy of the old store is used.
        self.context = Context::new(
            common::Config::from_lookup(|name| self.stack.settings.get(name).cloned()).unwrap(),
            &self.stack.sdk,
        );
    }

    /// Returns a unique address for this test, in mixed case as shoppers type them.
    pub fn email(&self, name: &str) -> String {
        format!("{name}.{}@Example.com", self.id)
    }

    /// Signs `body` with the store's webhook secret as Shopify does.
    pub fn shopify_signature(&self, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.secret.as_bytes()).unwrap();
        mac.update(body);
        STANDARD.encode(mac.finalize().into_bytes())
    }

    /// Sends a signed Shopify webhook through the cart webhook handler.
    pub async fn shopify_webhook(&self, topic: &str, body: &[u8]) -> (u16, Value) {
        let signature = self.shopify_signature(body);
        self.shopify_webhook_signed(topic, body, &signature, &uuid::Uuid::new_v4().to_string())
            .await
    }

    /// Sends a Shopify webhook with a given signature and event id.
    pub async fn shopify_webhook_signed(
        &self,
        topic: &str,
        body: &[u8],
        signature: &str,
        event_id: &str,
    ) -> (u16, Value) {
        let headers = json!({
            "content-type": "application/json",
            "x-shopify-topic": topic,
            "x-shopify-shop-domain": self.store.shop_domain,
            "x-shopify-hmac-sha256": signature,
            "x-shopify-event-id": event_id,
            "x-shopify-triggered-at": "2026-12-04T14:15:04.123Z",
            "x-shopify-api-version": "2025-10",
            "user-agent": "Shopify-Captain-Hook",
        });
        let request = api_gateway_request("POST", "/webhooks/shopify", "", headers, body, false);
        let response = cart_webhook::handle(&self.context, request).await;
        json_response(response)
    }

    /// Runs one sender pass with a minute's budget.
    pub async fn run_sender(&self) -> recovery_sender::RunSummary {
        recovery_sender::run(&self.context, Instant::now() + Duration::from_secs(60))
            .await
            .expect("sender run failed")
    }

    /// Runs one sender pass as if the time were `now`.
    pub async fn run_sender_at(&self, now: i64) -> recovery_sender::RunSummary {
        recovery_sender::run_at(&self.context, now, Instant::now() + Duration::from_secs(60))
            .await
            .expect("sender run failed")
    }

    /// Returns a context whose SES v2 client talks to `endpoint` instead of moto.
    pub fn context_with_ses_endpoint(&self, endpoint: &str) -> Context {
        let ses = aws_sdk_sesv2::config::Builder::from(&self.stack.sdk)
            .endpoint_url(endpoint)
            .build();
        let mut context = self.context.clone();
        context.mailer = common::email::Mailer::new(
            aws_sdk_sesv2::Client::from_conf(ses),
            context.config.clone(),
        );
        context
    }

    /// Returns the parsed raw messages moto accepted for `recipient` (normalized address).
    pub async fn sent_to(&self, recipient: &str) -> Vec<String> {
        local_stack::outbox::messages_to(&self.stack.moto_url, &recipient.to_lowercase())
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.raw)
            .collect()
    }

    /// Routes every domain event of this copy's bus to a new SQS queue, so tests can read them
    /// back; returns the queue URL.
    pub async fn capture_events(&self) -> String {
        let sqs = aws_sdk_sqs::Client::new(&self.stack.sdk);
        let queue_url = sqs
            .create_queue()
            .queue_name(format!("events-{}", self.id))
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        let queue_arn = sqs
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
            .clone();

        let events = aws_sdk_eventbridge::Client::new(&self.stack.sdk);
        let bus = &self.stack.settings["EVENT_BUS_NAME"];
        events
            .put_rule()
            .name(format!("capture-{}", self.id))
            .event_bus_name(bus)
            .event_pattern(json!({ "source": [common::events::SOURCE] }).to_string())
            .send()
            .await
            .unwrap();
        events
            .put_targets()
            .rule(format!("capture-{}", self.id))
            .event_bus_name(bus)
            .targets(
                aws_sdk_eventbridge::types::Target::builder()
                    .id("queue")
                    .arn(queue_arn)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        queue_url
    }

    /// Reads every event the capture queue holds.
    pub async fn captured_events(&self, queue_url: &str) -> Vec<Value> {
        let sqs = aws_sdk_sqs::Client::new(&self.stack.sdk);
        let mut events = Vec::new();
        loop {
            let output = sqs
                .receive_message()
                .queue_url(queue_url)
                .max_number_of_messages(10)
                .send()
                .await
                .unwrap();
            let messages = output.messages.unwrap_or_default();
            if messages.is_empty() {
                return events;
            }
            for message in messages {
                events.push(serde_json::from_str(message.body().unwrap()).unwrap());
                sqs.delete_message()
                    .queue_url(queue_url)
                    .receipt_handle(message.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
        }
    }

    /// Reads one item of the shoppers table.
    pub async fn shopper_item(
        &self,
        pk: &str,
        sk: &str,
    ) -> Option<HashMap<String, AttributeValue>> {
        self.context
            .storage
            .client()
            .get_item()
            .table_name(&self.stack.settings["SHOPPERS_TABLE"])
            .key("pk", AttributeValue::S(pk.to_owned()))
            .key("sk", AttributeValue::S(sk.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
    }

    /// Returns the partition key of a shopper of this store.
    pub fn shopper_pk(&self, email: &str) -> String {
        let customer = self
            .secrets
            .pepper
            .customer_key(&common::domain::EmailAddress::parse(email).unwrap());
        common::storage::shopper_pk(&self.store.id, &customer)
    }

    /// Sums the store's counters over every day. Events dated hours ahead (opens, clicks) land on
    /// the next day's item when a test runs late in the UTC day.
    pub async fn stats_total(&self) -> HashMap<String, AttributeValue> {
        let mut totals: HashMap<String, i64> = HashMap::new();
        for item in self.scan("STATS_TABLE").await {
            for (name, value) in item {
                if let Ok(number) = value.as_n() {
                    *totals.entry(name).or_default() += number.parse::<i64>().unwrap_or_default();
                }
            }
        }
        totals
            .into_iter()
            .map(|(name, total)| (name, AttributeValue::N(total.to_string())))
            .collect()
    }

    /// Reads every item of a table, by its environment variable name (test inspection only).
    pub async fn scan(&self, env_var: &str) -> Vec<HashMap<String, AttributeValue>> {
        let table = &self.stack.settings[env_var];
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .context
                .storage
                .client()
                .scan()
                .table_name(table)
                .set_exclusive_start_key(start)
                .send()
                .await
                .unwrap();
            items.extend(output.items.unwrap_or_default());
            start = output.last_evaluated_key;
            if start.is_none() {
                return items;
            }
        }
    }
}

/// Builds a lambda_http request from API Gateway HTTP API (payload 2.0) event JSON.
pub fn api_gateway_request(
    method: &str,
    path: &str,
    query: &str,
    headers: Value,
    body: &[u8],
    base64_body: bool,
) -> lambda_http::Request {
    let event = api_gateway_event(method, path, query, headers, body, base64_body);
    lambda_http::request::from_str(&event.to_string()).expect("valid API Gateway event")
}

/// Builds the SES event of sample file `name` (EventBridge form) for `recipient` at the app's store.
pub fn ses_event(app: &TestApp, name: &str, recipient: &str) -> Value {
    let mut event = fixture(name);
    let detail = &mut event["detail"];
    for pointer in [
        "/bounce/bouncedRecipients",
        "/complaint/complainedRecipients",
    ] {
        if let Some(list) = detail.pointer_mut(pointer).and_then(Value::as_array_mut) {
            list[0]["emailAddress"] = json!(recipient);
        }
    }
    detail["mail"]["destination"] = json!([recipient]);
    detail["mail"]["tags"]["store"] = json!([app.store.id.as_str()]);
    event
}

/// API Gateway HTTP API (payload 2.0) event JSON, as Lambda receives it.
pub fn api_gateway_event(
    method: &str,
    path: &str,
    query: &str,
    headers: Value,
    body: &[u8],
    base64_body: bool,
) -> Value {
    let query_parameters: serde_json::Map<String, Value> = url_pairs(query)
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    let body_text = if base64_body {
        STANDARD.encode(body)
    } else {
        String::from_utf8(body.to_vec()).expect("text body")
    };
    json!({
        "version": "2.0",
        "routeKey": format!("{method} {path}"),
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "queryStringParameters": if query.is_empty() { Value::Null } else { Value::Object(query_parameters) },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "a1b2c3d4e5",
            "domainName": "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "a1b2c3d4e5",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "192.0.2.10",
                "userAgent": "test"
            },
            "requestId": "Jx1a2b3c4d5e6f=",
            "routeKey": format!("{method} {path}"),
            "stage": "$default",
            "time": "04/Dec/2026:14:15:04 +0000",
            "timeEpoch": 1_796_393_704_000_u64
        },
        "body": body_text,
        "isBase64Encoded": base64_body
    })
}

fn url_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

/// Splits a response into status and JSON body.
pub fn json_response(response: Response<Body>) -> (u16, Value) {
    let status = response.status().as_u16();
    let body: &[u8] = response.body().as_ref();
    (status, serde_json::from_slice(body).unwrap_or(Value::Null))
}

/// Returns the response body as text.
pub fn body_text(response: &Response<Body>) -> String {
    String::from_utf8_lossy(response.body().as_ref()).into_owned()
}

/// Loads a sample event from `events/`.
pub fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("events")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// Returns the Shopify checkout sample with the given address and cart token, last updated
/// `age_seconds` ago.
pub fn checkout(email: &str, token: &str, age_seconds: i64) -> Value {
    let mut checkout = fixture("shopify-checkouts-create.json");
    let updated = common::clock::to_rfc3339(common::clock::now() - age_seconds);
    checkout["email"] = json!(email);
    checkout["customer"]["email"] = json!(email);
    checkout["token"] = json!(token);
    checkout["updated_at"] = json!(updated);
    checkout
}

/// Parses a raw message with a MIME parser.
pub fn parse_mime(raw: &str) -> mail_parser::Message<'_> {
    mail_parser::MessageParser::default()
        .parse(raw.as_bytes())
        .expect("valid MIME")
}

/// Returns the URL inside the List-Unsubscribe header.
pub fn list_unsubscribe_url(message: &mail_parser::Message<'_>) -> String {
    let header = message
        .header_raw("List-Unsubscribe")
        .expect("List-Unsubscribe header");
    header
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_owned()
}
