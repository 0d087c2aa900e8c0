//! Cart webhook: signatures, bad input, duplicates and data minimization.

use serde_json::{json, Value};

use crate::support::{api_gateway_request, checkout, json_response, TestApp};

#[tokio::test]
async fn wrong_or_missing_signature_gets_401_and_stores_nothing() {
    let app = TestApp::new().await;
    let body = serde_json::to_vec(&checkout(&app.email("Mallory"), "cart-1", 7_200)).unwrap();
    let forged = app.shopify_signature(b"some other body");

    let (status, response) = app
        .shopify_webhook_signed("checkouts/create", &body, &forged, "e1")
        .await;
    assert_eq!(status, 401);
    assert_eq!(response["error"], json!("invalid webhook signature"));
    let (status, _) = app
        .shopify_webhook_signed("checkouts/create", &body, "", "e2")
        .await;
    assert_eq!(status, 401);

    assert!(
        app.scan("SHOPPERS_TABLE").await.is_empty(),
        "a rejected webhook stored data"
    );
}

#[tokio::test]
async fn unknown_shop_gets_the_same_401_as_a_bad_signature() {
    let app = TestApp::new().await;
    let body = br#"{"token":"x"}"#;
    let headers = json!({
        "x-shopify-topic": "checkouts/create",
        "x-shopify-shop-domain": "no-such-shop.myshopify.com",
        "x-shopify-hmac-sha256": app.shopify_signature(body),
    });
    let request = api_gateway_request("POST", "/webhooks/shopify", "", headers, body, false);
    let (status, response) = json_response(cart_webhook::handle(&app.context, request).await);
    assert_eq!(status, 401);
    assert_eq!(response["error"], json!("invalid webhook signature"));
}

#[tokio::test]
async fn signature_covers_base64_decoded_body() {
    let app = TestApp::new().await;
    let body = serde_json::to_vec(&checkout(
        &app.email("Encoded"),
        &format!("cart-{}", app.id),
        7_200,
    ))
    .unwrap();
    let headers = json!({
        "content-type": "application/json",
        "x-shopify-topic": "checkouts/create",
        "x-shopify-shop-domain": app.store.shop_domain,
        "x-shopify-hmac-sha256": app.shopify_signature(&body),
        "x-shopify-event-id": "base64-event",
    });
    let request = api_gateway_request("POST", "/webhooks/shopify", "", headers, &body, true);
    let (status, response) = json_response(cart_webhook::handle(&app.context, request).await);
    assert_eq!(status, 200, "{response}");
    assert_eq!(response["result"], json!("scheduled"));
}

#[tokio::test]
async fn malformed_json_gets_400_and_oversized_body_413() {
    let app = TestApp::new().await;
    let (status, response) = app.shopify_webhook("checkouts/create", b"{not json").await;
    assert_eq!(status, 400);
    assert!(
        response["error"].as_str().unwrap().contains("invalid JSON"),
        "{response}"
    );

    let huge = vec![b' '; cart_webhook::MAX_BODY_BYTES + 1];
    let (status, _) = app.shopify_webhook("checkouts/create", &huge).await;
    assert_eq!(status, 413);
}

#[tokio::test]
async fn checkout_without_email_and_unknown_topic_get_200() {
    let app = TestApp::new().await;
    let mut body = checkout("x@example.com", "cart-no-email", 60);
    body["email"] = Value::Null;
    let (status, response) = app
        .shopify_webhook("checkouts/create", &serde_json::to_vec(&body).unwrap())
        .await;
    assert_eq!(
        (status, response["result"].clone()),
        (200, json!("ignored: no email"))
    );

    let (status, response) = app.shopify_webhook("products/update", b"{}").await;
    assert_eq!(
        (status, response["result"].clone()),
        (200, json!("ignored"))
    );
    assert!(app.scan("SHOPPERS_TABLE").await.is_empty());
}

#[tokio::test]
async fn same_event_id_twice_has_one_effect() {
    let app = TestApp::new().await;
    let body = serde_json::to_vec(&checkout(
        &app.email("Twice"),
        &format!("cart-{}", app.id),
        7_200,
    ))
    .unwrap();
    let signature = app.shopify_signature(&body);

    let (_, first) = app
        .shopify_webhook_signed("checkouts/create", &body, &signature, "evt-1")
        .await;
    let (status, second) = app
        .shopify_webhook_signed("checkouts/create", &body, &signature, "evt-1")
        .await;
    assert_eq!(first["result"], json!("scheduled"));
    assert_eq!(
        (status, second["result"].clone()),
        (200, json!("duplicate"))
    );
}

#[tokio::test]
async fn stored_cart_has_no_personal_data() {
    let app = TestApp::new().await;
    let email = app.email("Privacy");
    let mut rich = checkout(&email, &format!("cart-{}", app.id), 7_200);
    rich["payment_details"] = json!({
        "credit_card_bin": "424242", "credit_card_number": "•••• •••• •••• 4242",
        "credit_card_company": "Visa", "avs_result_code": "Y", "cvv_result_code": "M"
    });
    rich["browser_ip"] = json!("203.0.113.45");
    rich["client_details"] = json!({
        "browser_ip": "203.0.113.45", "accept_language": "de-DE,de;q=0.9",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0", "session_hash": "9ad0b1c2"
    });
    let body = serde_json::to_vec(&rich).unwrap();
    assert_eq!(app.shopify_webhook("checkouts/create", &body).await.0, 200);

    let items = app.scan("SHOPPERS_TABLE").await;
    assert_eq!(
        items.len(),
        3,
        "the cart, its alias and the shopper profile"
    );
    let stored = format!("{items:?}");
    let personal_data = [
        "Invalidenstrasse",
        "Berlin",
        "30 1234567",
        "Jane",
        "Shopper GmbH",
        "Anna",
        "VIP",
        "gift",
        "203.0.113",
        "7012345678901",
        // The card fields by name and masked number: bare digits can occur in a Unix timestamp.
        "•••• 4242",
        "credit_card",
        "Visa",
        "Mozilla",
        "9ad0b1c2",
        "de-DE,de",
        "J.S.",
    ];
    for personal in personal_data {
        assert!(
            !stored.contains(personal),
            "stored item contains {personal:?}"
        );
    }
    assert!(
        stored.contains(&email.to_lowercase()),
        "the normalized address is stored"
    );
    assert!(stored.contains("Merino Wool Beanie"));

    let cart = items
        .iter()
        .find(|item| item["sk"].as_s().unwrap().starts_with("cart#"))
        .unwrap();
    let mut attributes: Vec<&str> = cart.keys().map(String::as_str).collect();
    attributes.sort_unstable();
    let allowed = [
        "cart_id",
        "cart_updated_at",
        "created_at",
        "currency",
        "customer_key",
        "due_at",
        "due_shard",
        "email",
        "expires_at",
        "kind",
        "line_items",
        "locale",
        "next_step",
        "pk",
        "recovery_url",
        "sk",
        "status",
        "store_id",
        "total_price",
    ];
    assert_eq!(attributes, allowed);
    for line in cart["line_items"].as_l().unwrap() {
        let mut fields: Vec<&str> = line.as_m().unwrap().keys().map(String::as_str).collect();
        fields.sort_unstable();
        assert_eq!(fields, ["price", "quantity", "title", "variant_title"]);
    }
}

#[tokio::test]
async fn storage_failure_gets_500_so_the_store_retries() {
    let app = TestApp::new().await;
    let mut settings = app.stack.settings.clone();
    settings.insert("SHOPPERS_TABLE".into(), format!("missing-{}", app.id));
    let broken = common::Context::new(
        common::Config::from_lookup(|name| settings.get(name).cloned()).unwrap(),
        &app.stack.sdk,
    );

    let body = serde_json::to_vec(&checkout(
        &app.email("Retry"),
        &format!("cart-{}", app.id),
        7_200,
    ))
    .unwrap();
    let headers = json!({
        "content-type": "application/json",
        "x-shopify-topic": "checkouts/create",
        "x-shopify-shop-domain": app.store.shop_domain,
        "x-shopify-hmac-sha256": app.shopify_signature(&body),
    });
    let request = api_gateway_request("POST", "/webhooks/shopify", "", headers, &body, false);
    let (status, response) = json_response(cart_webhook::handle(&broken, request).await);
    assert_eq!(status, 500);
    assert_eq!(response["error"], json!("storage failed"));
}
