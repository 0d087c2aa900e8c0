//! Cart life through the Shopify webhook: duplicates, ordering, updates, emptying, address
//! changes, orders and the domain events they put on the bus.

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{json, Value};
use tokio::task::JoinSet;

use crate::support::{checkout, fixture, TestApp};

fn n(item: &std::collections::HashMap<String, AttributeValue>, name: &str) -> i64 {
    item[name].as_n().unwrap().parse().unwrap()
}

fn titles(item: &std::collections::HashMap<String, AttributeValue>) -> Vec<String> {
    item["line_items"]
        .as_l()
        .unwrap()
        .iter()
        .map(|line| line.as_m().unwrap()["title"].as_s().unwrap().clone())
        .collect()
}

#[tokio::test]
async fn twenty_concurrent_deliveries_have_one_effect() {
    let app = TestApp::new().await;
    let queue = app.capture_events().await;
    let body = serde_json::to_vec(&checkout(
        &app.email("Burst"),
        &format!("cart-{}", app.id),
        7_200,
    ))
    .unwrap();
    let signature = app.shopify_signature(&body);

    let mut tasks = JoinSet::new();
    for _ in 0..20 {
        let headers = json!({
            "content-type": "application/json",
            "x-shopify-topic": "checkouts/create",
            "x-shopify-shop-domain": app.store.shop_domain,
            "x-shopify-hmac-sha256": signature,
            "x-shopify-event-id": "same-event",
        });
        let request = crate::support::api_gateway_request(
            "POST",
            "/webhooks/shopify",
            "",
            headers,
            &body,
            false,
        );
        let context = app.context.clone();
        tasks.spawn(async move {
            crate::support::json_response(cart_webhook::handle(&context, request).await)
        });
    }
    let mut results = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        results.push(joined.unwrap());
    }

    assert!(
        results.iter().all(|(status, _)| *status == 200),
        "{results:?}"
    );
    let scheduled = results
        .iter()
        .filter(|(_, body)| body["result"] == json!("scheduled"))
        .count();
    let duplicates = results
        .iter()
        .filter(|(_, body)| body["result"] == json!("duplicate"))
        .count();
    assert_eq!(scheduled, 1, "{results:?}");
    assert_eq!(duplicates, 19, "{results:?}");

    let stats = app.stats_total().await;
    assert_eq!(n(&stats, "carts"), 1);
    let abandoned: Vec<Value> = app
        .captured_events(&queue)
        .await
        .into_iter()
        .filter(|event| event["detail-type"] == json!("Cart Abandoned"))
        .collect();
    assert_eq!(abandoned.len(), 1);
}

#[tokio::test]
async fn older_update_never_overwrites_newer_state() {
    let app = TestApp::new().await;
    let email = app.email("Reorder");
    let token = format!("cart-{}", app.id);

    let mut newer = checkout(&email, &token, 600);
    newer["line_items"][0]["presentment_title"] = json!("Newer Hat");
    let older = checkout(&email, &token, 1_200);

    assert_eq!(
        app.shopify_webhook("checkouts/create", &serde_json::to_vec(&newer).unwrap())
            .await
            .1["result"],
        json!("scheduled")
    );
    let (status, response) = app
        .shopify_webhook("checkouts/update", &serde_json::to_vec(&older).unwrap())
        .await;
    assert_eq!((status, response["result"].clone()), (200, json!("stale")));

    let item = app
        .shopper_item(&app.shopper_pk(&email), &format!("cart#{token}"))
        .await
        .unwrap();
    assert_eq!(titles(&item)[0], "Newer Hat");
}

#[tokio::test]
async fn update_moves_unsent_first_email_later() {
    let app = TestApp::new().await;
    let email = app.email("Mover");
    let token = format!("cart-{}", app.id);
    let key = (app.shopper_pk(&email), format!("cart#{token}"));

    let first = checkout(&email, &token, 1_800);
    app.shopify_webhook("checkouts/create", &serde_json::to_vec(&first).unwrap())
        .await;
    let due_before = n(&app.shopper_item(&key.0, &key.1).await.unwrap(), "due_at");

    let mut update = checkout(&email, &token, 60);
    update["line_items"] = json!([update["line_items"][1].clone()]);
    let (_, response) = app
        .shopify_webhook("checkouts/update", &serde_json::to_vec(&update).unwrap())
        .await;
    assert_eq!(response["result"], json!("rescheduled"));

    let item = app.shopper_item(&key.0, &key.1).await.unwrap();
    let updated_at = n(&item, "cart_updated_at");
    assert_eq!(
        n(&item, "due_at"),
        updated_at + 3_600,
        "first email is due an hour after the update"
    );
    assert!(n(&item, "due_at") > due_before);
    assert_eq!(titles(&item), ["Cashmere Scarf"]);
}

#[tokio::test]
async fn update_after_first_email_keeps_the_schedule() {
    let mut app = TestApp::new().await;
    app.set_sequence(vec![60, 86_400]).await;
    let email = app.email("Later");
    let token = format!("cart-{}", app.id);
    let key = (app.shopper_pk(&email), format!("cart#{token}"));

    app.shopify_webhook(
        "checkouts/create",
        &serde_json::to_vec(&checkout(&email, &token, 600)).unwrap(),
    )
    .await;
    assert_eq!(app.run_sender().await.sent, 1);
    let due_after_send = n(&app.shopper_item(&key.0, &key.1).await.unwrap(), "due_at");

    let mut update = checkout(&email, &token, 30);
    update["line_items"][0]["presentment_title"] = json!("Changed Hat");
    let (_, response) = app
        .shopify_webhook("checkouts/update", &serde_json::to_vec(&update).unwrap())
        .await;
    assert_eq!(response["result"], json!("updated"));

    let item = app.shopper_item(&key.0, &key.1).await.unwrap();
    assert_eq!(
        n(&item, "due_at"),
        due_after_send,
        "second email keeps its time"
    );
    assert_eq!(n(&item, "next_step"), 1);
    assert_eq!(titles(&item)[0], "Changed Hat");
}

#[tokio::test]
async fn emptied_cart_cancels_pending_emails() {
    let app = TestApp::new().await;
    let email = app.email("Emptier");
    let token = format!("cart-{}", app.id);
    app.shopify_webhook(
        "checkouts/create",
        &serde_json::to_vec(&checkout(&email, &token, 7_200)).unwrap(),
    )
    .await;

    let mut empty = checkout(&email, &token, 3_600);
    empty["line_items"] = json!([]);
    let (_, response) = app
        .shopify_webhook("checkouts/update", &serde_json::to_vec(&empty).unwrap())
        .await;
    assert_eq!(response["result"], json!("emptied"));

    let item = app
        .shopper_item(&app.shopper_pk(&email), &format!("cart#{token}"))
        .await
        .unwrap();
    assert_eq!(item["status"].as_s().unwrap(), "emptied");
    assert!(
        !item.contains_key("due_at"),
        "an emptied cart must leave the due index"
    );
    assert_eq!(app.run_sender().await.sent, 0);
}

#[tokio::test]
async fn new_address_on_same_checkout_moves_the_cart() {
    let app = TestApp::new().await;
    let typo = app.email("Typo");
    let fixed = app.email("Fixed");
    let token = format!("cart-{}", app.id);

    app.shopify_webhook(
        "checkouts/create",
        &serde_json::to_vec(&checkout(&typo, &token, 7_200)).unwrap(),
    )
    .await;
    let (_, response) = app
        .shopify_webhook(
            "checkouts/update",
            &serde_json::to_vec(&checkout(&fixed, &token, 7_100)).unwrap(),
        )
        .await;
    assert_eq!(response["result"], json!("scheduled"));

    let old = app
        .shopper_item(&app.shopper_pk(&typo), &format!("cart#{token}"))
        .await
        .unwrap();
    assert_eq!(old["status"].as_s().unwrap(), "superseded");
    assert_eq!(app.run_sender().await.sent, 1);
    assert!(
        app.sent_to(&typo).await.is_empty(),
        "the replaced address got an email"
    );
    assert_eq!(app.sent_to(&fixed).await.len(), 1);
}

#[tokio::test]
async fn order_matches_by_checkout_token_when_address_differs() {
    let app = TestApp::new().await;
    let email = app.email("TokenMatch");
    let token = format!("cart-{}", app.id);
    app.shopify_webhook(
        "checkouts/create",
        &serde_json::to_vec(&checkout(&email, &token, 7_200)).unwrap(),
    )
    .await;

    let mut order = fixture("shopify-orders-create.json");
    order["email"] = json!(format!("someone.else.{}@example.org", app.id));
    order["contact_email"] = json!(null);
    order["checkout_token"] = json!(token);
    let (status, response) = app
        .shopify_webhook("orders/create", &serde_json::to_vec(&order).unwrap())
        .await;
    assert_eq!(
        (status, response["result"].clone()),
        (200, json!("stopped"))
    );
    assert_eq!(app.run_sender().await.sent, 0);
}

#[tokio::test]
async fn order_after_recovery_email_records_revenue_once() {
    let app = TestApp::new().await;
    let queue = app.capture_events().await;
    let email = app.email("Recovered");
    let token = format!("cart-{}", app.id);
    app.shopify_webhook(
        "checkouts/create",
        &serde_json::to_vec(&checkout(&email, &token, 7_200)).unwrap(),
    )
    .await;
    assert_eq!(app.run_sender().await.sent, 1);

    let mut order = fixture("shopify-orders-create.json");
    order["email"] = json!(email.to_uppercase());
    order["checkout_token"] = json!(token);
    let body = serde_json::to_vec(&order).unwrap();
    assert_eq!(
        app.shopify_webhook("orders/create", &body).await.1["result"],
        json!("stopped")
    );
    let (_, repeat) = app.shopify_webhook("orders/create", &body).await;
    assert_eq!(repeat["result"], json!("no pending carts"));

    let stats = app.stats_total().await;
    assert_eq!(n(&stats, "recovered"), 1);
    assert_eq!(n(&stats, "revenue_EUR"), 10_960, "109.60 EUR in cents");

    let item = app
        .shopper_item(&app.shopper_pk(&email), &format!("cart#{token}"))
        .await
        .unwrap();
    assert_eq!(item["status"].as_s().unwrap(), "ordered");
    assert_eq!(item["order_id"].as_s().unwrap(), "6123456789555");
    assert_eq!(item["recovered"].as_bool().unwrap(), &true);

    let events = app.captured_events(&queue).await;
    let recovered: Vec<&Value> = events
        .iter()
        .filter(|e| e["detail-type"] == json!("Cart Recovered"))
        .collect();
    assert_eq!(recovered.len(), 1);
    let detail = &recovered[0]["detail"];
    assert_eq!(detail["cart_id"], json!(token));
    assert_eq!(detail["store_id"], json!(app.store.id.as_str()));
    for event in &events {
        assert!(
            !event.to_string().contains('@'),
            "event carries an address: {event}"
        );
    }
}
