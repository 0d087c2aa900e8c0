//! Generic platform webhooks: schema, timestamped signatures and replay protection.

use common::domain::{Platform, Store, StoreId};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::support::{api_gateway_request, json_response, TestApp};

async fn generic_store(app: &TestApp) -> Store {
    let store = Store {
        id: StoreId::parse(&format!("generic-{}", app.id)).unwrap(),
        platform: Platform::Generic,
        shop_domain: format!("www.generic-{}.test", app.id),
        webhook_secret: format!("generic-secret-{}", app.id).into(),
        ..app.store.clone()
    };
    app.context.storage.put_store(&store).await.unwrap();
    store
}

fn cart_event(app: &TestApp, email: &str) -> Value {
    json!({
        "type": "cart.updated",
        "event_id": format!("evt-{}", uuid::Uuid::new_v4()),
        "cart": {
            "id": format!("gc-{}", app.id),
            "email": email,
            "currency": "usd",
            "total_price": "42.00",
            "recovery_url": "https://www.example.test/cart/restore?token=abc",
            "locale": "en-US",
            "updated_at": common::clock::to_rfc3339(common::clock::now() - 7_200),
            "line_items": [
                { "title": "Trail Shoes", "variant_title": "EU 42", "quantity": 1, "price": "42.00",
                  "image_url": "https://cdn.example.test/shoes.jpg", "product_url": "https://www.example.test/p/shoes" }
            ],
            "shipping_address": { "street": "1 Private Lane" },
            "phone": "+1 555 0100"
        }
    })
}

fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

async fn post(app: &TestApp, store_id: &str, signature: &str, body: &[u8]) -> (u16, Value) {
    let headers = json!({ "content-type": "application/json", "x-cart-signature": signature });
    let request = api_gateway_request(
        "POST",
        &format!("/webhooks/generic/{store_id}"),
        "",
        headers,
        body,
        false,
    );
    json_response(cart_webhook::handle(&app.context, request).await)
}

fn secret(store: &Store) -> String {
    secrecy::ExposeSecret::expose_secret(&store.webhook_secret).to_owned()
}

#[tokio::test]
async fn signed_generic_cart_is_scheduled_and_sent() {
    let app = TestApp::new().await;
    let store = generic_store(&app).await;
    let email = app.email("Generic");
    let body = serde_json::to_vec(&cart_event(&app, &email)).unwrap();

    let (status, response) = post(
        &app,
        store.id.as_str(),
        &sign(&secret(&store), common::clock::now(), &body),
        &body,
    )
    .await;
    assert_eq!(
        (status, response["result"].clone()),
        (200, json!("scheduled")),
        "{response}"
    );

    assert_eq!(app.run_sender().await.sent, 1);
    let stored = format!("{:?}", app.scan("SHOPPERS_TABLE").await);
    assert!(!stored.contains("Private Lane"));
    assert!(!stored.contains("555 0100"));
    assert!(
        stored.contains("USD"),
        "currency is normalized to upper case"
    );
}

#[tokio::test]
async fn replayed_generic_webhook_after_five_minutes_gets_401() {
    let app = TestApp::new().await;
    let store = generic_store(&app).await;
    let body = serde_json::to_vec(&cart_event(&app, &app.email("Replay"))).unwrap();

    let old = sign(&secret(&store), common::clock::now() - 301, &body);
    let (status, response) = post(&app, store.id.as_str(), &old, &body).await;
    assert_eq!(status, 401);
    assert_eq!(response["error"], json!("invalid webhook signature"));
    assert!(app.scan("SHOPPERS_TABLE").await.is_empty());
}

#[tokio::test]
async fn generic_route_rejects_foreign_signatures() {
    let app = TestApp::new().await;
    let store = generic_store(&app).await;
    let body = serde_json::to_vec(&cart_event(&app, &app.email("Forger"))).unwrap();
    let now = common::clock::now();

    let (status, _) = post(
        &app,
        store.id.as_str(),
        &sign("not-the-secret", now, &body),
        &body,
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = post(
        &app,
        "no-such-store",
        &sign(&secret(&store), now, &body),
        &body,
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = post(
        &app,
        app.store.id.as_str(),
        &sign(&app.secret, now, &body),
        &body,
    )
    .await;
    assert_eq!(
        status, 401,
        "a Shopify store must not accept generic webhooks"
    );
    let (status, _) = post(&app, store.id.as_str(), "", &body).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn generic_schema_errors_get_400_with_reason() {
    let app = TestApp::new().await;
    let store = generic_store(&app).await;
    let now = common::clock::now();

    let mut missing_currency = cart_event(&app, &app.email("Schema"));
    missing_currency["cart"]["currency"] = json!("euro");
    for (body, reason) in [
        (b"[]".to_vec(), "body does not match the cart schema"),
        (
            serde_json::to_vec(&json!({ "type": "cart.updated" })).unwrap(),
            "cart.updated needs a cart object",
        ),
        (
            serde_json::to_vec(&missing_currency).unwrap(),
            "currency must be a three-letter ISO 4217 code",
        ),
    ] {
        let (status, response) = post(
            &app,
            store.id.as_str(),
            &sign(&secret(&store), now, &body),
            &body,
        )
        .await;
        assert_eq!(status, 400, "{response}");
        assert!(
            response["error"].as_str().unwrap().starts_with(reason),
            "{response}"
        );
    }
}

#[tokio::test]
async fn generic_order_stops_recovery() {
    let app = TestApp::new().await;
    let store = generic_store(&app).await;
    let email = app.email("GenericBuyer");
    let body = serde_json::to_vec(&cart_event(&app, &email)).unwrap();
    post(
        &app,
        store.id.as_str(),
        &sign(&secret(&store), common::clock::now(), &body),
        &body,
    )
    .await;

    let order = serde_json::to_vec(&json!({
        "type": "order.created",
        "event_id": "order-evt-1",
        "order": { "id": "o-1", "email": email, "cart_id": format!("gc-{}", app.id), "currency": "USD", "total_price": "42.00" }
    }))
    .unwrap();
    let (status, response) = post(
        &app,
        store.id.as_str(),
        &sign(&secret(&store), common::clock::now(), &order),
        &order,
    )
    .await;
    assert_eq!(
        (status, response["result"].clone()),
        (200, json!("stopped"))
    );
    assert_eq!(app.run_sender().await.sent, 0);
}
