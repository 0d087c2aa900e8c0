//! Unsubscribe links: scanner-safe GET, page POST, multipart one-click, bad tokens, opt-back-in.

use common::tokens::UnsubscribeToken;
use serde_json::json;

use crate::support::{api_gateway_request, body_text, TestApp};

fn token(app: &TestApp, email: &str) -> String {
    let customer = app
        .secrets
        .pepper
        .customer_key(&common::domain::EmailAddress::parse(email).unwrap());
    app.secrets.token_keys.sign(&UnsubscribeToken {
        store_id: app.store.id.clone(),
        customer,
    })
}

async fn request(
    app: &TestApp,
    method: &str,
    token: &str,
    content_type: &str,
    body: &[u8],
) -> lambda_http::Response<lambda_http::Body> {
    let request = api_gateway_request(
        method,
        "/unsubscribe",
        &format!("token={token}"),
        json!({ "content-type": content_type }),
        body,
        false,
    );
    unsubscribe::handle(&app.context, request).await
}

#[tokio::test]
async fn get_shows_a_page_and_changes_nothing() {
    let app = TestApp::new().await;
    let token = token(&app, &app.email("Scanner"));

    let response = request(&app, "GET", &token, "", b"").await;
    assert_eq!(response.status(), 200);
    let page = body_text(&response);
    assert!(
        page.contains("<form"),
        "page has a form for browsers without scripts"
    );
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.headers()["referrer-policy"], "no-referrer");
    assert!(response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("default-src 'none'"));
    assert!(
        app.scan("SUPPRESSION_TABLE").await.is_empty(),
        "GET unsubscribed the shopper"
    );
}

#[tokio::test]
async fn tampered_token_gets_400_and_changes_nothing() {
    let app = TestApp::new().await;
    let mut token = token(&app, &app.email("Tamper"));
    let last = token.pop().unwrap();
    token.push(if last == 'A' { 'B' } else { 'A' });

    let response = request(
        &app,
        "POST",
        &token,
        "application/x-www-form-urlencoded",
        b"List-Unsubscribe=One-Click",
    )
    .await;
    assert_eq!(response.status(), 400);
    let truncated = request(
        &app,
        "POST",
        &token[..20],
        "application/x-www-form-urlencoded",
        b"List-Unsubscribe=One-Click",
    )
    .await;
    assert_eq!(truncated.status(), 400);
    assert!(app.scan("SUPPRESSION_TABLE").await.is_empty());
}

#[tokio::test]
async fn multipart_one_click_unsubscribes_and_repeats_harmlessly() {
    let app = TestApp::new().await;
    let token = token(&app, &app.email("Multipart"));
    let body = b"--b0undary\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--b0undary--\r\n";

    for _ in 0..2 {
        let response = request(
            &app,
            "POST",
            &token,
            "multipart/form-data; boundary=b0undary",
            body,
        )
        .await;
        assert_eq!(response.status(), 200, "{}", body_text(&response));
    }
    let entries = app.scan("SUPPRESSION_TABLE").await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["reason"].as_s().unwrap(), "unsubscribed");
    let counters = app
        .context
        .storage
        .counters(&app.store.id, &common::clock::utc_day(common::clock::now()))
        .await
        .unwrap();
    let unsubscribed = counters
        .iter()
        .find(|(c, _)| *c == common::storage::Counter::Unsubscribed)
        .unwrap()
        .1;
    assert_eq!(unsubscribed, 1, "repeating the POST must not count twice");
}

#[tokio::test]
async fn opt_back_in_lifts_only_unsubscribe() {
    let app = TestApp::new().await;
    let token = token(&app, &app.email("Returner"));

    let response = request(
        &app,
        "POST",
        &token,
        "application/x-www-form-urlencoded",
        b"action=unsubscribe",
    )
    .await;
    assert_eq!(response.status(), 200);
    assert!(
        body_text(&response).contains("resubscribe"),
        "confirmation offers opt-back-in"
    );
    assert_eq!(app.scan("SUPPRESSION_TABLE").await.len(), 1);

    let response = request(
        &app,
        "POST",
        &token,
        "application/x-www-form-urlencoded",
        b"action=resubscribe",
    )
    .await;
    assert_eq!(response.status(), 200);
    assert!(app.scan("SUPPRESSION_TABLE").await.is_empty());
}

#[tokio::test]
async fn unknown_post_body_gets_400() {
    let app = TestApp::new().await;
    let token = token(&app, &app.email("Garbage"));
    let response = request(
        &app,
        "POST",
        &token,
        "application/json",
        b"{\"unsubscribe\":true}",
    )
    .await;
    assert_eq!(response.status(), 400);
    assert!(app.scan("SUPPRESSION_TABLE").await.is_empty());
}

#[tokio::test]
async fn token_of_unknown_store_gets_400() {
    let app = TestApp::new().await;
    let customer = app
        .secrets
        .pepper
        .customer_key(&common::domain::EmailAddress::parse(&app.email("Foreign")).unwrap());
    let foreign = app.secrets.token_keys.sign(&UnsubscribeToken {
        store_id: common::domain::StoreId::parse("some-other-store").unwrap(),
        customer,
    });
    let response = request(
        &app,
        "POST",
        &foreign,
        "application/x-www-form-urlencoded",
        b"List-Unsubscribe=One-Click",
    )
    .await;
    assert_eq!(response.status(), 400);
    assert!(app.scan("SUPPRESSION_TABLE").await.is_empty());
}

#[tokio::test]
async fn storage_failure_gets_500_so_the_client_retries() {
    let app = TestApp::new().await;
    let token = token(&app, &app.email("Outage"));
    let mut settings = app.stack.settings.clone();
    settings.insert("SUPPRESSION_TABLE".into(), format!("missing-{}", app.id));
    let broken = common::Context::new(
        common::Config::from_lookup(|name| settings.get(name).cloned()).unwrap(),
        &app.stack.sdk,
    );

    let request = api_gateway_request(
        "POST",
        "/unsubscribe",
        &format!("token={token}"),
        json!({ "content-type": "application/x-www-form-urlencoded" }),
        b"List-Unsubscribe=One-Click",
        false,
    );
    let response = unsubscribe::handle(&broken, request).await;
    assert_eq!(response.status(), 500);
}

#[tokio::test]
async fn unsubscribed_shopper_is_never_re_added_by_webhooks() {
    let app = TestApp::new().await;
    let queue = app.capture_events().await;
    let email = app.email("Gone");
    let token = token(&app, &email);
    let response = request(
        &app,
        "POST",
        &token,
        "application/x-www-form-urlencoded",
        b"List-Unsubscribe=One-Click",
    )
    .await;
    assert_eq!(response.status(), 200);

    let cart = crate::support::checkout(&email, &format!("cart-{}", app.id), 7_200);
    let (_, result) = app
        .shopify_webhook("checkouts/create", &serde_json::to_vec(&cart).unwrap())
        .await;
    assert_eq!(result["result"], json!("suppressed"));
    assert_eq!(app.run_sender().await.sent, 0);

    let events = app.captured_events(&queue).await;
    let unsubscribed: Vec<_> = events
        .iter()
        .filter(|e| e["detail-type"] == json!("Shopper Unsubscribed"))
        .collect();
    assert_eq!(unsubscribed.len(), 1);
    assert_eq!(
        unsubscribed[0]["detail"]["store_id"],
        json!(app.store.id.as_str())
    );
    assert!(!unsubscribed[0].to_string().contains('@'));
}

#[tokio::test]
async fn opt_back_in_never_lifts_a_complaint() {
    let app = TestApp::new().await;
    let email = app.email("Complained");
    let customer = app
        .secrets
        .pepper
        .customer_key(&common::domain::EmailAddress::parse(&email).unwrap());
    app.context
        .storage
        .suppress(
            &common::storage::Scope::Store(app.store.id.clone()),
            &customer,
            common::storage::SuppressionReason::Complaint,
            common::clock::now(),
        )
        .await
        .unwrap();

    let response = request(
        &app,
        "POST",
        &token(&app, &email),
        "application/x-www-form-urlencoded",
        b"action=resubscribe",
    )
    .await;
    assert_eq!(response.status(), 200);
    assert!(body_text(&response).contains("reported as spam"));
    let entries = app.scan("SUPPRESSION_TABLE").await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["reason"].as_s().unwrap(), "complaint");
}

#[tokio::test]
async fn page_language_follows_link_then_browser() {
    let app = TestApp::new().await;
    let token = token(&app, &app.email("Polyglot"));
    let cases = [
        (
            format!("token={token}&lang=fr"),
            "",
            "Se désabonner des rappels de panier de Northwind Knits",
        ),
        (
            format!("token={token}"),
            "es-ES,es;q=0.9",
            "Darse de baja de los recordatorios de carrito de Northwind Knits",
        ),
        (
            format!("token={token}"),
            "ja",
            "Unsubscribe from Northwind Knits cart reminders",
        ),
    ];
    for (query, accept_language, title) in cases {
        let request = api_gateway_request(
            "GET",
            "/unsubscribe",
            &query,
            json!({ "accept-language": accept_language }),
            b"",
            false,
        );
        let response = unsubscribe::handle(&app.context, request).await;
        assert_eq!(response.status(), 200);
        assert!(
            body_text(&response).contains(&format!("<h1>{title}</h1>")),
            "{query} {accept_language}"
        );
    }
}

#[tokio::test]
async fn get_after_unsubscribe_offers_the_way_back() {
    let app = TestApp::new().await;
    let token = token(&app, &app.email("Again"));
    let before = request(&app, "GET", &token, "", b"").await;
    assert!(body_text(&before).contains("value=\"unsubscribe\""));

    let response = request(
        &app,
        "POST",
        &token,
        "application/x-www-form-urlencoded",
        b"List-Unsubscribe=One-Click",
    )
    .await;
    assert_eq!(response.status(), 200);
    let after = body_text(&request(&app, "GET", &token, "", b"").await);
    assert!(after.contains("You are unsubscribed"), "{after}");
    assert!(after.contains("value=\"resubscribe\""));
    assert!(
        !after.contains("<script"),
        "the page must not submit anything by itself now"
    );
}
