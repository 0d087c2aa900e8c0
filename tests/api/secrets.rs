//! Secrets as a deployment reads them: one Secrets Manager secret (moto) named by `SECRET_ID`,
//! read on first use, read again after `SECRETS_REFRESH_SECONDS`, and kept when a refresh fails.

use aws_sdk_secretsmanager::Client;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::json;

use crate::support::{
    api_gateway_request, body_text, checkout, json_response, list_unsubscribe_url, parse_mime,
    TestApp, TOKEN_KEY_SPEC,
};

const PEPPER: &str = "test-pepper-0123456789abcdef";

fn secret_json(token_keys: &str) -> String {
    json!({ "hash_pepper": PEPPER, "token_keys": token_keys }).to_string()
}

async fn secrets_client(app: &TestApp) -> Client {
    Client::new(&app.stack.sdk)
}

/// A context configured as template.yaml configures a deployed function: the app's settings
/// with `SECRET_ID` in place of the pepper and token key variables.
fn deployed_context(app: &TestApp, secret_id: &str, refresh_seconds: &str) -> common::Context {
    let mut settings = app.stack.settings.clone();
    settings.remove("HASH_PEPPER");
    settings.remove("TOKEN_KEYS");
    settings.insert("SECRET_ID".into(), secret_id.into());
    settings.insert("SECRETS_REFRESH_SECONDS".into(), refresh_seconds.into());
    let config = common::Config::from_lookup(|name| settings.get(name).cloned()).unwrap();
    common::Context::new(config, &app.stack.sdk)
}

async fn webhook(
    app: &TestApp,
    context: &common::Context,
    email: &str,
    cart: &str,
) -> (u16, serde_json::Value) {
    let body = serde_json::to_vec(&checkout(email, cart, 7_200)).unwrap();
    let headers = json!({
        "content-type": "application/json",
        "x-shopify-topic": "checkouts/create",
        "x-shopify-shop-domain": app.store.shop_domain,
        "x-shopify-hmac-sha256": app.shopify_signature(&body),
        "x-shopify-event-id": uuid::Uuid::new_v4().to_string(),
    });
    let request = api_gateway_request("POST", "/webhooks/shopify", "", headers, &body, false);
    json_response(cart_webhook::handle(context, request).await)
}

async fn one_click(
    context: &common::Context,
    unsubscribe_url: &str,
) -> lambda_http::Response<lambda_http::Body> {
    let query = unsubscribe_url.split_once('?').unwrap().1;
    let request = api_gateway_request(
        "POST",
        "/unsubscribe",
        query,
        json!({ "content-type": "application/x-www-form-urlencoded" }),
        b"List-Unsubscribe=One-Click",
        false,
    );
    unsubscribe::handle(context, request).await
}

/// Returns the key id inside an unsubscribe link's token.
fn token_key_id(unsubscribe_url: &str) -> String {
    let token = unsubscribe_url
        .split(['?', '&'])
        .find_map(|pair| pair.strip_prefix("token="))
        .unwrap();
    let bytes = URL_SAFE_NO_PAD.decode(token).unwrap();
    let length = bytes[1] as usize;
    String::from_utf8(bytes[2..2 + length].to_vec()).unwrap()
}

async fn send_one(app: &TestApp, context: &common::Context, name: &str) -> String {
    let email = app.email(name);
    let (status, response) =
        webhook(app, context, &email, &format!("cart-{name}-{}", app.id)).await;
    assert_eq!(status, 200, "{response}");
    let summary = recovery_sender::run(
        context,
        std::time::Instant::now() + std::time::Duration::from_secs(60),
    )
    .await
    .unwrap();
    assert_eq!(summary.sent, 1, "{summary:?}");
    let messages = app.sent_to(&email).await;
    assert_eq!(messages.len(), 1);
    list_unsubscribe_url(&parse_mime(&messages[0]))
}

#[tokio::test]
async fn secret_read_on_first_use() {
    let app = TestApp::new().await;
    let secret_id = format!("cart-recovery/{}", app.id);
    secrets_client(&app)
        .await
        .create_secret()
        .name(&secret_id)
        .secret_string(secret_json(TOKEN_KEY_SPEC))
        .send()
        .await
        .unwrap();
    let context = deployed_context(&app, &secret_id, "300");

    let unsubscribe_url = send_one(&app, &context, "Deployed").await;
    let response = one_click(&context, &unsubscribe_url).await;
    assert_eq!(response.status(), 200, "{}", body_text(&response));

    // Same pepper as the tests' inline copy: the cart is stored under the key the test computes.
    let shopper = app.shopper_pk(&app.email("Deployed"));
    let items = app.scan("SHOPPERS_TABLE").await;
    assert!(
        items
            .iter()
            .any(|item| item["pk"].as_s().unwrap() == &shopper),
        "no item under the expected customer key"
    );
}

#[tokio::test]
async fn missing_secret_fails_requests() {
    let app = TestApp::new().await;
    let context = deployed_context(&app, &format!("cart-recovery/missing-{}", app.id), "300");

    let (status, response) = webhook(&app, &context, &app.email("Nobody"), "cart-missing").await;
    assert_eq!(status, 500, "Shopify must retry: {response}");
    assert!(
        app.scan("SHOPPERS_TABLE").await.is_empty(),
        "a cart was stored"
    );

    // A link from an earlier email gets the try-again page, not the invalid-link page.
    let customer = app
        .secrets
        .pepper
        .customer_key(&common::domain::EmailAddress::parse(&app.email("Nobody")).unwrap());
    let token = app
        .secrets
        .token_keys
        .sign(&common::tokens::UnsubscribeToken {
            store_id: app.store.id.clone(),
            customer,
        });
    let response = one_click(
        &context,
        &format!("https://carts.test/unsubscribe?token={token}"),
    )
    .await;
    assert_eq!(response.status(), 500, "{}", body_text(&response));
    assert!(app.scan("SUPPRESSION_TABLE").await.is_empty());

    let run = recovery_sender::run(
        &context,
        std::time::Instant::now() + std::time::Duration::from_secs(60),
    )
    .await;
    assert!(
        run.is_err(),
        "the sender run must fail so the alarm sees it"
    );
}

#[tokio::test]
async fn new_token_key_needs_no_deploy() {
    let app = TestApp::new().await;
    let client = secrets_client(&app).await;
    let secret_id = format!("cart-recovery/{}", app.id);
    client
        .create_secret()
        .name(&secret_id)
        .secret_string(secret_json(TOKEN_KEY_SPEC))
        .send()
        .await
        .unwrap();
    // Read the secret on every use, so the change shows at once.
    let context = deployed_context(&app, &secret_id, "0");
    let old_link = send_one(&app, &context, "Before").await;
    assert_eq!(token_key_id(&old_link), "test1");

    let new_key = STANDARD.encode([7u8; 32]);
    client
        .put_secret_value()
        .secret_id(&secret_id)
        .secret_string(secret_json(&format!("test2={new_key},{TOKEN_KEY_SPEC}")))
        .send()
        .await
        .unwrap();
    let new_link = send_one(&app, &context, "After").await;
    assert_eq!(
        token_key_id(&new_link),
        "test2",
        "new emails are signed with the new key"
    );

    // The old key stays accepted while it is in the list.
    let response = one_click(&context, &old_link).await;
    assert_eq!(response.status(), 200, "{}", body_text(&response));

    // A failed refresh keeps the copy read before: the secret is gone, requests still work.
    client
        .delete_secret()
        .secret_id(&secret_id)
        .force_delete_without_recovery(true)
        .send()
        .await
        .unwrap();
    let response = one_click(&context, &new_link).await;
    assert_eq!(response.status(), 200, "{}", body_text(&response));
}
