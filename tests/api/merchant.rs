//! Merchant API and Shopify compliance topics: data report, erasure, import, stats and audit.

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{json, Value};

use crate::support::{api_gateway_request, checkout, json_response, TestApp};

async fn api_key(app: &TestApp) -> String {
    let (key, digest) = common::hashing::generate_api_key(&app.store.id);
    let mut store = app.store.clone();
    store.api_key_hash = Some(digest);
    app.context.storage.put_store(&store).await.unwrap();
    key
}

async fn call(
    app: &TestApp,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Value,
) -> (u16, Value) {
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let mut headers = json!({ "content-type": "application/json" });
    if let Some(key) = key {
        headers["authorization"] = json!(format!("Bearer {key}"));
    }
    let bytes = if body.is_null() {
        Vec::new()
    } else {
        serde_json::to_vec(&body).unwrap()
    };
    let request = api_gateway_request(method, path, query, headers, &bytes, false);
    // A fresh context per call, so no cached store hides a key change.
    let context = common::Context::new(
        common::Config::from_lookup(|name| app.stack.settings.get(name).cloned()).unwrap(),
        &app.stack.sdk,
    );
    json_response(merchant_api::handle(&context, request).await)
}

async fn shopper_with_history(app: &TestApp, email: &str, token: &str) {
    let body = serde_json::to_vec(&checkout(email, token, 7_200)).unwrap();
    assert_eq!(app.shopify_webhook("checkouts/create", &body).await.0, 200);
    assert_eq!(app.run_sender().await.sent, 1);
}

fn everything(tables: &[Vec<std::collections::HashMap<String, AttributeValue>>]) -> String {
    format!("{tables:?}")
}

#[tokio::test]
async fn requests_without_a_valid_key_get_401() {
    let app = TestApp::new().await;
    let key = api_key(&app).await;
    let body = json!({ "email": app.email("Anyone") });

    assert_eq!(
        call(&app, "POST", "/v1/data-report", None, body.clone())
            .await
            .0,
        401
    );
    let forged = format!("{}x", key);
    assert_eq!(
        call(&app, "POST", "/v1/data-report", Some(&forged), body.clone())
            .await
            .0,
        401
    );
    let other_store = key.replacen(app.store.id.as_str(), "some-other-store", 1);
    assert_eq!(
        call(
            &app,
            "POST",
            "/v1/data-report",
            Some(&other_store),
            body.clone()
        )
        .await
        .0,
        401
    );

    let rotated = api_key(&app).await;
    assert_eq!(
        call(&app, "POST", "/v1/data-report", Some(&key), body.clone())
            .await
            .0,
        401,
        "old key still works"
    );
    assert_eq!(
        call(&app, "POST", "/v1/data-report", Some(&rotated), body)
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn one_stores_key_never_reaches_another_stores_data() {
    let app = TestApp::new().await;
    let email = app.email("TwoStores");
    shopper_with_history(&app, &email, &format!("cart-{}", app.id)).await;

    let other = TestApp::new().await;
    let other_key = api_key(&other).await;
    // The other store's key, asking about a shopper who only has data at the first store.
    let (status, report) = call(
        &other,
        "POST",
        "/v1/data-report",
        Some(&other_key),
        json!({ "email": email }),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(report["carts"], json!([]));
    assert_eq!(report["messages"], json!([]));
}

#[tokio::test]
async fn data_report_matches_every_stored_item() {
    let app = TestApp::new().await;
    let key = api_key(&app).await;
    let email = app.email("Reported");
    let token = format!("cart-{}", app.id);
    shopper_with_history(&app, &email, &token).await;
    let unsubscribe = common::storage::Scope::Store(app.store.id.clone());
    let customer = app
        .secrets
        .pepper
        .customer_key(&common::domain::EmailAddress::parse(&email).unwrap());
    app.context
        .storage
        .suppress(
            &unsubscribe,
            &customer,
            common::storage::SuppressionReason::Unsubscribed,
            common::clock::now(),
        )
        .await
        .unwrap();

    let (status, report) = call(
        &app,
        "POST",
        "/v1/data-report",
        Some(&key),
        json!({ "email": email }),
    )
    .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["email"], json!(email.to_lowercase()));

    let pk = app.shopper_pk(&email);
    let raw: Vec<_> = app
        .scan("SHOPPERS_TABLE")
        .await
        .into_iter()
        .filter(|item| item["pk"].as_s().unwrap() == &pk)
        .collect();
    let raw_carts: Vec<_> = raw
        .iter()
        .filter(|i| i["sk"].as_s().unwrap().starts_with("cart#"))
        .collect();
    let raw_messages: Vec<_> = raw
        .iter()
        .filter(|i| i["sk"].as_s().unwrap().starts_with("msg#"))
        .collect();
    assert_eq!(
        raw.len(),
        raw_carts.len() + raw_messages.len() + 1,
        "carts, messages and the profile"
    );
    assert_eq!(report["carts"].as_array().unwrap().len(), raw_carts.len());
    assert_eq!(
        report["messages"].as_array().unwrap().len(),
        raw_messages.len()
    );

    let cart = &report["carts"][0];
    assert_eq!(cart["cart_id"], json!(token));
    assert_eq!(
        cart["line_items"].as_array().unwrap().len(),
        raw_carts[0]["line_items"].as_l().unwrap().len()
    );
    assert_eq!(
        cart["total_price"],
        json!(raw_carts[0]["total_price"].as_s().unwrap())
    );
    assert!(
        cart["cart_updated_at"].as_str().unwrap().ends_with('Z'),
        "times are RFC 3339"
    );
    let message = &report["messages"][0];
    assert_eq!(
        message["message_id"],
        json!(raw_messages[0]["message_id"].as_s().unwrap())
    );
    assert!(message["sent_at"].is_string());
    assert!(report["profile"]["last_sent_at"].is_string());
    assert_eq!(
        report["do_not_email"],
        json!([{ "scope": "store", "reason": "unsubscribed" }])
    );
}

#[tokio::test]
async fn erasure_leaves_only_the_do_not_email_hash() {
    let app = TestApp::new().await;
    let key = api_key(&app).await;
    let email = app.email("Erased");
    let token = format!("cart-{}", app.id);
    shopper_with_history(&app, &email, &token).await;
    // A second cart with an email still pending.
    let pending =
        serde_json::to_vec(&checkout(&email, &format!("pending-{}", app.id), 60)).unwrap();
    app.shopify_webhook("checkouts/create", &pending).await;
    let customer = app
        .secrets
        .pepper
        .customer_key(&common::domain::EmailAddress::parse(&email).unwrap());
    app.context
        .storage
        .suppress(
            &common::storage::Scope::Global,
            &customer,
            common::storage::SuppressionReason::HardBounce,
            common::clock::now(),
        )
        .await
        .unwrap();

    let (status, response) = call(
        &app,
        "POST",
        "/v1/erasure",
        Some(&key),
        json!({ "email": email }),
    )
    .await;
    assert_eq!(status, 200, "{response}");
    assert_eq!(response["deleted"]["carts"], json!(2));
    assert_eq!(response["deleted"]["messages"], json!(1));
    assert_eq!(response["deleted"]["profiles"], json!(1));
    assert_eq!(response["deleted"]["cart_aliases"], json!(2));

    let tables = [
        app.scan("SHOPPERS_TABLE").await,
        app.scan("IDEMPOTENCY_TABLE").await,
        app.scan("STATS_TABLE").await,
    ];
    let remaining = everything(&tables);
    for trace in [
        email.to_lowercase(),
        customer.to_string(),
        token.clone(),
        format!("pending-{}", app.id),
    ] {
        assert!(!remaining.contains(&trace), "found {trace} after erasure");
    }
    // The audit record keeps the customer hash by design, never the address or the carts.
    let audit_text = everything(&[app.scan("PRIVACY_TABLE").await]);
    for trace in [email.to_lowercase(), token.clone()] {
        assert!(
            !audit_text.contains(&trace),
            "audit record contains {trace}"
        );
    }
    let suppression = app.scan("SUPPRESSION_TABLE").await;
    assert_eq!(suppression.len(), 1, "the hard-bounce hash stays");
    assert!(!format!("{suppression:?}").contains(&email.to_lowercase()));
    assert_eq!(
        app.run_sender_at(common::clock::now() + 86_400).await.sent,
        0,
        "no pending email survives"
    );

    // The erased shopper's audit record has no address but counts what was deleted.
    let audit = app.scan("PRIVACY_TABLE").await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0]["kind"].as_s().unwrap(), "erasure");
    assert!(audit[0]["counts"].as_s().unwrap().contains("\"carts\":2"));
}

#[tokio::test]
async fn unsubscribe_outlives_erasure() {
    let app = TestApp::new().await;
    let key = api_key(&app).await;
    let email = app.email("Persistent");
    let customer = app
        .secrets
        .pepper
        .customer_key(&common::domain::EmailAddress::parse(&email).unwrap());
    let scope = common::storage::Scope::Store(app.store.id.clone());
    let reason = common::storage::SuppressionReason::Unsubscribed;
    app.context
        .storage
        .suppress(&scope, &customer, reason, common::clock::now())
        .await
        .unwrap();

    assert_eq!(
        call(
            &app,
            "POST",
            "/v1/erasure",
            Some(&key),
            json!({ "email": email })
        )
        .await
        .0,
        200
    );
    let body = serde_json::to_vec(&checkout(&email, &format!("after-{}", app.id), 7_200)).unwrap();
    let (_, result) = app.shopify_webhook("checkouts/create", &body).await;
    assert_eq!(result["result"], json!("suppressed"));
}

#[tokio::test]
async fn import_adds_hashes_and_blocks_future_carts() {
    let app = TestApp::new().await;
    let key = api_key(&app).await;
    let listed = app.email("Imported");
    let body = json!({ "emails": [listed, "not an address", listed.to_uppercase()] });
    let (status, response) = call(&app, "POST", "/v1/suppressions", Some(&key), body).await;
    assert_eq!(status, 200, "{response}");
    assert_eq!(response["added"], json!(1));
    assert_eq!(response["already_listed"], json!(1));
    assert_eq!(response["invalid_indexes"], json!([1]));
    assert!(!format!("{:?}", app.scan("SUPPRESSION_TABLE").await)
        .to_lowercase()
        .contains("imported."));

    let cart = serde_json::to_vec(&checkout(&listed, &format!("cart-{}", app.id), 7_200)).unwrap();
    assert_eq!(
        app.shopify_webhook("checkouts/create", &cart).await.1["result"],
        json!("suppressed")
    );
    let (status, _) = call(
        &app,
        "POST",
        "/v1/suppressions",
        Some(&key),
        json!({ "emails": [] }),
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn bad_requests_get_400_and_emails_stay_out_of_urls() {
    let app = TestApp::new().await;
    let key = api_key(&app).await;
    let (status, response) = call(
        &app,
        "POST",
        "/v1/data-report",
        Some(&key),
        json!({ "mail": "x" }),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        response["error"],
        json!("body is missing a required field or has a wrong type")
    );
    let (status, _) = call(
        &app,
        "POST",
        "/v1/erasure",
        Some(&key),
        json!({ "email": "nope" }),
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = call(&app, "GET", "/v1/data-report", Some(&key), Value::Null).await;
    assert_eq!(
        status, 405,
        "reports are POST only, so no address goes into a URL"
    );
    let (status, _) = call(
        &app,
        "GET",
        "/v1/stats?from=2026-12-10&to=2026-12-01",
        Some(&key),
        Value::Null,
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = call(&app, "GET", "/v1/nothing", Some(&key), Value::Null).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn stats_report_rates_and_warnings() {
    let app = TestApp::new().await;
    let key = api_key(&app).await;
    let now = common::clock::now();
    use common::storage::Counter;
    let counters = [
        (Counter::Carts, 200),
        (Counter::Sent, 1_000),
        (Counter::Delivered, 990),
        (Counter::Opened, 400),
        (Counter::AutomatedOpens, 300),
        (Counter::Clicked, 99),
        (Counter::Unsubscribed, 25),
        (Counter::Complained, 2),
        (Counter::Recovered, 20),
    ];
    app.context
        .storage
        .add_counters(&app.store.id, now, &counters)
        .await
        .unwrap();
    app.context
        .storage
        .add_revenue(&app.store.id, now, "EUR", 123_456)
        .await
        .unwrap();
    let today = common::clock::utc_day(now);

    let (status, stats) = call(
        &app,
        "GET",
        &format!("/v1/stats?from={today}&to={today}"),
        Some(&key),
        Value::Null,
    )
    .await;
    assert_eq!(status, 200, "{stats}");
    assert_eq!(stats["counts"]["sent"], json!(1_000));
    assert_eq!(stats["counts"]["opened"], json!(400));
    assert_eq!(stats["counts"]["automated_opens"], json!(300));
    assert_eq!(stats["recovered_revenue_minor"]["EUR"], json!(123_456));
    assert!((stats["rates"]["unsubscribe"].as_f64().unwrap() - 0.025).abs() < 1e-9);
    assert!(
        (stats["rates"]["open"].as_f64().unwrap() - 400.0 / 990.0).abs() < 1e-9,
        "machine opens are left out"
    );
    let warnings = stats["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[0].as_str().unwrap().contains("above 2%"));
    assert!(warnings[1].as_str().unwrap().contains("above 0.1%"));
}

#[tokio::test]
async fn complaint_rate_above_limit_pauses_the_store() {
    let app = TestApp::new().await;
    let queue = app.capture_events().await;
    let now = common::clock::now();
    app.context
        .storage
        .add_counters(
            &app.store.id,
            now,
            &[
                (common::storage::Counter::Sent, 1_000),
                (common::storage::Counter::Complained, 3),
            ],
        )
        .await
        .unwrap();

    let mut complaint = crate::support::fixture("ses-complaint-eventbridge.json");
    complaint["detail"]["complaint"]["complainedRecipients"][0]["emailAddress"] =
        json!(app.email("Angry"));
    complaint["detail"]["mail"]["tags"]["store"] = json!([app.store.id.as_str()]);
    let summary = ses_events::handle(&app.context, complaint).await.unwrap();
    assert_eq!(summary.suppressed, 1, "{summary:?}");

    let stats = app.stats_total().await;
    assert_eq!(stats["complained"].as_n().unwrap(), "4", "{stats:?}");
    let fresh = common::Context::new(
        common::Config::from_lookup(|name| app.stack.settings.get(name).cloned()).unwrap(),
        &app.stack.sdk,
    );
    let store = fresh.storage.store(&app.store.id).await.unwrap().unwrap();
    assert!(store.paused, "4 complaints in 1,000 emails is 0.4%");
    let events = app.captured_events(&queue).await;
    assert!(
        events
            .iter()
            .any(|e| e["detail-type"] == json!("Store Health Warning")),
        "{events:?}"
    );
}

#[tokio::test]
async fn shopify_compliance_topics_report_and_erase() {
    let app = TestApp::new().await;
    let key = api_key(&app).await;
    let email = app.email("Compliance");
    shopper_with_history(&app, &email, &format!("cart-{}", app.id)).await;

    let request = json!({
        "shop_id": 954889, "shop_domain": app.store.shop_domain, "orders_requested": [299938],
        "customer": { "id": 191167, "email": email, "phone": "555-625-1199" },
        "data_request": { "id": 9999 }
    });
    let (status, result) = app
        .shopify_webhook(
            "customers/data_request",
            &serde_json::to_vec(&request).unwrap(),
        )
        .await;
    assert_eq!(
        (status, result["result"].clone()),
        (200, json!("report stored"))
    );
    let (status, report) = call(
        &app,
        "GET",
        "/v1/privacy-requests/9999",
        Some(&key),
        Value::Null,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(report["carts"].as_array().unwrap().len(), 1);

    let redact = json!({
        "shop_id": 954889, "shop_domain": app.store.shop_domain,
        "customer": { "id": 191167, "email": email, "phone": "555-625-1199" }, "orders_to_redact": [299938]
    });
    let (_, result) = app
        .shopify_webhook("customers/redact", &serde_json::to_vec(&redact).unwrap())
        .await;
    assert_eq!(result["result"], json!("shopper erased"));
    let pk = app.shopper_pk(&email);
    assert!(app
        .scan("SHOPPERS_TABLE")
        .await
        .iter()
        .all(|item| item["pk"].as_s().unwrap() != &pk));

    let audit = app.scan("PRIVACY_TABLE").await;
    let kinds: Vec<_> = audit
        .iter()
        .filter(|item| item["sk"].as_s().unwrap().starts_with("audit#"))
        .map(|item| item["kind"].as_s().unwrap().clone())
        .collect();
    assert!(
        kinds.contains(&"data_report".to_owned()) && kinds.contains(&"erasure".to_owned()),
        "{kinds:?}"
    );
    for item in audit
        .iter()
        .filter(|item| item["sk"].as_s().unwrap().starts_with("audit#"))
    {
        assert!(
            !format!("{item:?}").contains(&email.to_lowercase()),
            "audit record carries the address"
        );
    }
}

#[tokio::test]
async fn shop_redact_erases_every_shopper_and_the_store() {
    let app = TestApp::new().await;
    for name in ["First", "Second"] {
        shopper_with_history(&app, &app.email(name), &format!("cart-{name}-{}", app.id)).await;
    }
    let unsubscribed = common::storage::Scope::Store(app.store.id.clone());
    let customer = app
        .secrets
        .pepper
        .customer_key(&common::domain::EmailAddress::parse(&app.email("First")).unwrap());
    let reason = common::storage::SuppressionReason::Unsubscribed;
    app.context
        .storage
        .suppress(&unsubscribed, &customer, reason, common::clock::now())
        .await
        .unwrap();

    let body = json!({ "shop_id": 954889, "shop_domain": app.store.shop_domain });
    let (status, result) = app
        .shopify_webhook("shop/redact", &serde_json::to_vec(&body).unwrap())
        .await;
    assert_eq!(
        (status, result["result"].clone()),
        (200, json!("store erased"))
    );

    assert!(app.scan("SHOPPERS_TABLE").await.is_empty());
    assert!(app.scan("STATS_TABLE").await.is_empty());
    assert!(app.scan("STORES_TABLE").await.is_empty());
    assert_eq!(
        app.scan("SUPPRESSION_TABLE").await.len(),
        1,
        "the unsubscribe hash stays"
    );
    assert_eq!(app.scan("PRIVACY_TABLE").await.len(), 1, "one audit record");
}

#[test]
fn openapi_document_describes_every_route() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/merchant-api.yaml");
    let document: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    for (route, method) in [
        ("/v1/data-report", "post"),
        ("/v1/erasure", "post"),
        ("/v1/suppressions", "post"),
        ("/v1/stats", "get"),
        ("/v1/privacy-requests/{id}", "get"),
    ] {
        assert!(
            document["paths"][route][method].is_mapping(),
            "{method} {route} is not documented"
        );
    }
}
