//! SES events: bounces and complaints in EventBridge and SNS form.

use serde_json::{json, Value};

use crate::support::{checkout, fixture, TestApp};

fn ses_event(app: &TestApp, name: &str, recipient: &str) -> Value {
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

#[tokio::test]
async fn hard_bounce_blocks_later_carts_of_that_address() {
    let app = TestApp::new().await;
    let email = app.email("Bouncer");
    let event = ses_event(&app, "ses-bounce-eventbridge.json", &email);

    let summary = ses_events::handle(&app.context, event.clone())
        .await
        .unwrap();
    assert_eq!(summary.suppressed, 1, "{summary:?}");
    let again = ses_events::handle(&app.context, event).await.unwrap();
    assert_eq!(again.suppressed, 0, "a repeated event must not count twice");

    let body = serde_json::to_vec(&checkout(&email, &format!("cart-{}", app.id), 7_200)).unwrap();
    let (status, response) = app.shopify_webhook("checkouts/create", &body).await;
    assert_eq!(
        (status, response["result"].clone()),
        (200, json!("suppressed"))
    );
    assert!(
        app.scan("SHOPPERS_TABLE").await.is_empty(),
        "a suppressed shopper's cart was stored"
    );

    let entries = app.scan("SUPPRESSION_TABLE").await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["scope"].as_s().unwrap(), "global");
    assert!(
        !format!("{entries:?}").to_lowercase().contains("bouncer"),
        "list must hold hashes only"
    );
}

#[tokio::test]
async fn complaint_stops_pending_email_at_that_store() {
    let app = TestApp::new().await;
    let email = app.email("Complainer");
    let body = serde_json::to_vec(&checkout(&email, &format!("cart-{}", app.id), 7_200)).unwrap();
    assert_eq!(app.shopify_webhook("checkouts/create", &body).await.0, 200);

    let summary = ses_events::handle(
        &app.context,
        ses_event(&app, "ses-complaint-eventbridge.json", &email),
    )
    .await
    .unwrap();
    assert_eq!(summary.suppressed, 1);

    assert_eq!(app.run_sender().await.sent, 0);
    let entries = app.scan("SUPPRESSION_TABLE").await;
    assert_eq!(
        entries[0]["scope"].as_s().unwrap(),
        &format!("store#{}", app.store.id)
    );
    assert_eq!(entries[0]["reason"].as_s().unwrap(), "complaint");
}

#[tokio::test]
async fn sns_form_of_a_bounce_is_handled_like_eventbridge() {
    let app = TestApp::new().await;
    let email = app.email("SnsBouncer");
    let detail = ses_event(&app, "ses-bounce-eventbridge.json", &email)["detail"].clone();
    let sns = json!({
        "Records": [{
            "EventSource": "aws:sns",
            "EventVersion": "1.0",
            "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:ses-feedback:5b1c",
            "Sns": {
                "Type": "Notification",
                "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
                "TopicArn": "arn:aws:sns:us-east-1:123456789012:ses-feedback",
                "Subject": null,
                "Message": detail.to_string(),
                "Timestamp": "2026-12-04T16:20:11.000Z",
                "SignatureVersion": "1",
                "MessageAttributes": {}
            }
        }]
    });
    let summary = ses_events::handle(&app.context, sns).await.unwrap();
    assert_eq!((summary.events, summary.suppressed), (1, 1), "{summary:?}");
}

#[tokio::test]
async fn malformed_events_are_dropped_not_retried() {
    let app = TestApp::new().await;
    let summary = ses_events::handle(
        &app.context,
        json!({ "source": "aws.ses", "detail": { "eventType": "Bounce" } }),
    )
    .await
    .unwrap();
    assert_eq!(summary.malformed, 1);
    let summary = ses_events::handle(
        &app.context,
        json!({ "Records": [{ "Sns": { "Message": "not json" } }] }),
    )
    .await
    .unwrap();
    assert_eq!(summary.malformed, 1);
}
