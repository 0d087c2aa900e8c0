//! The README walkthrough end to end: a Shopify checkout webhook becomes a recovery email with
//! working unsubscribe headers, and the one-click unsubscribe stops the next step.

use serde_json::json;

use crate::support::{
    api_gateway_request, body_text, checkout, list_unsubscribe_url, parse_mime, TestApp,
    PUBLIC_BASE_URL,
};

#[tokio::test]
async fn checkout_to_email_to_one_click_unsubscribe() {
    // Two steps a minute apart, both already due, and no frequency cap, so a second email
    // would go out on the next run unless the unsubscribe stops it.
    let mut app = TestApp::with_settings(&[("FREQUENCY_CAP_SECONDS", "0")]).await;
    app.set_sequence(vec![60, 120]).await;
    let leaving = app.email("Leaving.Shopper");
    let staying = app.email("Staying.Shopper");

    for (email, token) in [
        (&leaving, format!("cart-a-{}", app.id)),
        (&staying, format!("cart-b-{}", app.id)),
    ] {
        let body = serde_json::to_vec(&checkout(email, &token, 3_600)).unwrap();
        let (status, response) = app.shopify_webhook("checkouts/create", &body).await;
        assert_eq!(status, 200, "{response}");
        assert_eq!(response["result"], json!("scheduled"));
    }

    let first = app.run_sender().await;
    assert_eq!(first.sent, 2, "{first:?}");

    let messages = app.sent_to(&leaving).await;
    assert_eq!(messages.len(), 1);
    let message = parse_mime(&messages[0]);
    // The sample checkout's customer_locale is de-DE.
    assert_eq!(
        message.subject(),
        Some("Sie haben etwas in Ihrem Warenkorb bei Northwind Knits gelassen")
    );
    assert_eq!(
        message.header_raw("List-Unsubscribe-Post").map(str::trim),
        Some("List-Unsubscribe=One-Click")
    );
    let unsubscribe_url = list_unsubscribe_url(&message);
    assert!(
        unsubscribe_url.starts_with(&format!("{PUBLIC_BASE_URL}/unsubscribe?token=")),
        "{unsubscribe_url}"
    );
    assert!(
        !unsubscribe_url.to_lowercase().contains("leaving.shopper"),
        "token must not carry the address"
    );
    assert!(message.body_text(0).unwrap().contains("Merino Wool Beanie"));
    assert!(message.body_html(0).unwrap().contains("Merino Wool Beanie"));
    assert!(
        message.body_text(0).unwrap().contains(&unsubscribe_url),
        "body carries the unsubscribe link"
    );

    // The mail client's RFC 8058 one-click POST, form-encoded and base64-encoded by API Gateway.
    let query = unsubscribe_url.split_once('?').unwrap().1;
    let request = api_gateway_request(
        "POST",
        "/unsubscribe",
        query,
        json!({ "content-type": "application/x-www-form-urlencoded" }),
        b"List-Unsubscribe=One-Click",
        true,
    );
    let response = unsubscribe::handle(&app.context, request).await;
    assert_eq!(response.status(), 200, "{}", body_text(&response));
    assert!(
        response.headers().get("location").is_none(),
        "one-click must not redirect"
    );

    let second = app.run_sender().await;
    assert_eq!(
        second.sent, 1,
        "only the shopper who stayed gets step 2: {second:?}"
    );
    assert_eq!(
        app.sent_to(&leaving).await.len(),
        1,
        "unsubscribed shopper got another email"
    );
    assert_eq!(
        app.sent_to(&staying).await.len(),
        2,
        "control shopper should get step 2"
    );
}

#[tokio::test]
async fn order_stops_recovery_before_the_first_email() {
    let app = TestApp::new().await;
    let email = app.email("Buyer");
    let body = serde_json::to_vec(&checkout(&email, &format!("cart-{}", app.id), 7_200)).unwrap();
    assert_eq!(app.shopify_webhook("checkouts/create", &body).await.0, 200);

    let mut order = crate::support::fixture("shopify-orders-create.json");
    // A differently-cased address of the same shopper still matches.
    order["email"] = json!(email.to_uppercase());
    let (status, response) = app
        .shopify_webhook("orders/create", &serde_json::to_vec(&order).unwrap())
        .await;
    assert_eq!(status, 200, "{response}");
    assert_eq!(response["result"], json!("stopped"));

    let summary = app.run_sender().await;
    assert_eq!(summary.sent, 0, "{summary:?}");
    assert!(app.sent_to(&email).await.is_empty());
}
