//! SES events: bounces and complaints in EventBridge and SNS form.

use serde_json::{json, Value};

use crate::support::{checkout, fixture, ses_event, TestApp};

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
async fn sns_bounce_handled_like_eventbridge() {
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

/// Builds an SES event object of `event_type` about `mail`, in the shape SES publishes.
fn ses_detail(event_type: &str, mail: &Value, section: Value) -> Value {
    let mut detail = json!({ "eventType": event_type, "mail": mail });
    let key = match event_type {
        "DeliveryDelay" => "deliveryDelay".to_owned(),
        "RenderingFailure" => "failure".to_owned(),
        other => other.to_lowercase(),
    };
    if !section.is_null() {
        detail[key] = section;
    }
    detail
}

fn eventbridge(detail_type: &str, detail: Value) -> Value {
    let mut event = fixture("ses-delivery-eventbridge.json");
    event["id"] = json!(uuid::Uuid::new_v4().to_string());
    event["detail-type"] = json!(detail_type);
    event["detail"] = detail;
    event
}

fn sns(details: &[Value]) -> Value {
    let records: Vec<Value> = details
        .iter()
        .map(|detail| {
            json!({
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:ses-feedback:5b1c",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": uuid::Uuid::new_v4().to_string(),
                    "TopicArn": "arn:aws:sns:us-east-1:123456789012:ses-feedback",
                    "Message": detail.to_string(),
                    "Timestamp": "2026-12-04T16:20:11.000Z"
                }
            })
        })
        .collect();
    json!({ "Records": records })
}

/// Sends a real recovery email and returns the `mail` object SES would report for it.
async fn sent_mail(app: &TestApp, email: &str) -> (Value, common::storage::MessageRef) {
    let token = format!("cart-{}", uuid::Uuid::new_v4().simple());
    let body = serde_json::to_vec(&checkout(email, &token, 7_200)).unwrap();
    assert_eq!(app.shopify_webhook("checkouts/create", &body).await.0, 200);
    assert_eq!(app.run_sender().await.sent, 1);

    let customer = app
        .secrets
        .pepper
        .customer_key(&common::domain::EmailAddress::parse(email).unwrap());
    let message = common::storage::MessageRef {
        store: app.store.id.clone(),
        customer: customer.clone(),
        cart_id: token.clone(),
        step: 0,
    };
    let item = app
        .context
        .storage
        .message(&message)
        .await
        .unwrap()
        .unwrap();
    let mut mail = fixture("ses-delivery-eventbridge.json")["detail"]["mail"].clone();
    mail["messageId"] = json!(item["message_id"].as_s().unwrap());
    mail["destination"] = json!([email.to_lowercase()]);
    mail["tags"]["store"] = json!([app.store.id.as_str()]);
    mail["tags"]["customer"] = json!([customer.as_str()]);
    mail["tags"]["cart"] = json!([token]);
    mail["tags"]["step"] = json!(["0"]);
    (mail, message)
}

fn at(seconds_from_now: i64) -> String {
    common::clock::to_rfc3339(common::clock::now() + seconds_from_now)
}

fn counter(
    stats: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
    name: &str,
) -> i64 {
    stats
        .get(name)
        .map(|v| v.as_n().unwrap().parse().unwrap())
        .unwrap_or(0)
}

#[tokio::test]
async fn every_event_type_is_accepted_in_both_shapes() {
    let app = TestApp::new().await;
    let email = app.email("AllTypes");
    let (mail, _) = sent_mail(&app, &email).await;
    let cases = [
        ("Send", "Email Sent", json!({})),
        (
            "Delivery",
            "Email Delivered",
            json!({ "timestamp": at(1), "processingTimeMillis": 900, "recipients": [email], "smtpResponse": "250 OK" }),
        ),
        (
            "DeliveryDelay",
            "Email Delivery Delayed",
            json!({ "timestamp": at(2), "delayType": "TransientCommunicationFailure", "expirationTime": at(3600), "delayedRecipients": [{ "emailAddress": email, "status": "4.4.1" }] }),
        ),
        (
            "Reject",
            "Email Rejected",
            json!({ "reason": "Bad content" }),
        ),
        (
            "RenderingFailure",
            "Email Rendering Failed",
            json!({ "templateName": "x", "errorMessage": "missing field" }),
        ),
        (
            "Open",
            "Email Opened",
            json!({ "timestamp": at(4000), "userAgent": "Mozilla/5.0 (iPhone)", "ipAddress": "198.51.100.7" }),
        ),
        (
            "Click",
            "Email Clicked",
            json!({ "timestamp": at(4100), "userAgent": "Mozilla/5.0 (iPhone)", "ipAddress": "198.51.100.7", "link": "https://shop.example/cart", "linkTags": {} }),
        ),
        (
            "Subscription",
            "Email Subscription",
            json!({ "contactList": "x", "timestamp": at(5) }),
        ),
        (
            "BrandNewType",
            "Email Brand New",
            json!({ "timestamp": at(6), "someField": 1 }),
        ),
    ];

    let mut details = Vec::new();
    for (event_type, detail_type, section) in &cases {
        let detail = ses_detail(event_type, &mail, section.clone());
        let summary = ses_events::handle(&app.context, eventbridge(detail_type, detail.clone()))
            .await
            .unwrap();
        assert_eq!(
            (summary.events, summary.malformed),
            (1, 0),
            "{event_type}: {summary:?}"
        );
        details.push(detail);
    }
    // The same events through SNS are recognized as the ones already handled.
    let summary = ses_events::handle(&app.context, sns(&details))
        .await
        .unwrap();
    assert_eq!(summary.events, cases.len());
    assert_eq!(summary.duplicates, cases.len(), "{summary:?}");

    let stats = app.stats_total().await;
    assert_eq!(counter(&stats, "delivered"), 1);
    assert_eq!(counter(&stats, "opened"), 1);
    assert_eq!(counter(&stats, "clicked"), 1);
}

#[tokio::test]
async fn engagement_counted_once_without_machines() {
    let app = TestApp::new().await;
    let email = app.email("Engaged");
    let (mail, message) = sent_mail(&app, &email).await;
    let handle = |detail_type: &'static str, detail: Value| {
        let context = app.context.clone();
        async move {
            ses_events::handle(&context, eventbridge(detail_type, detail))
                .await
                .unwrap()
        }
    };

    let delivered = ses_detail(
        "Delivery",
        &mail,
        json!({ "timestamp": at(0), "recipients": [email] }),
    );
    handle("Email Delivered", delivered.clone()).await;
    let repeat = handle("Email Delivered", delivered).await;
    assert_eq!(repeat.duplicates, 1);

    // A privacy proxy fetches the pixel seconds after delivery; the person opens an hour later.
    let proxy =
        "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)";
    handle(
        "Email Opened",
        ses_detail(
            "Open",
            &mail,
            json!({ "timestamp": at(5), "userAgent": proxy }),
        ),
    )
    .await;
    handle(
        "Email Opened",
        ses_detail(
            "Open",
            &mail,
            json!({ "timestamp": at(3_600), "userAgent": proxy }),
        ),
    )
    .await;
    handle(
        "Email Opened",
        ses_detail(
            "Open",
            &mail,
            json!({ "timestamp": at(3_700), "userAgent": proxy }),
        ),
    )
    .await;

    // A scanner follows every link within a second.
    for (index, link) in [
        "https://a.example/1",
        "https://a.example/2",
        "https://a.example/3",
    ]
    .iter()
    .enumerate()
    {
        let click = json!({ "timestamp": at(10 + index as i64 / 2), "userAgent": "Mozilla/5.0", "link": link });
        handle("Email Clicked", ses_detail("Click", &mail, click)).await;
    }

    let item = app
        .context
        .storage
        .message(&message)
        .await
        .unwrap()
        .unwrap();
    for attribute in [
        "delivered_at",
        "opened_at",
        "automated_open_at",
        "automated_click_at",
    ] {
        assert!(item.contains_key(attribute), "message lacks {attribute}");
    }
    assert!(
        !item.contains_key("clicked_at"),
        "the scanner's click was counted as a person's"
    );
    let stats = app.stats_total().await;
    assert_eq!(counter(&stats, "delivered"), 1);
    assert_eq!(
        counter(&stats, "opened"),
        1,
        "one person open, proxy prefetch left out"
    );
    assert_eq!(counter(&stats, "automated_opens"), 1);
    assert_eq!(counter(&stats, "clicked"), 0);
    assert_eq!(counter(&stats, "automated_clicks"), 1);

    // A person clicks later: that counts.
    let click = json!({ "timestamp": at(7_200), "userAgent": "Mozilla/5.0 (iPhone)", "link": "https://a.example/1" });
    let summary = handle("Email Clicked", ses_detail("Click", &mail, click)).await;
    assert_eq!(summary.engagement, 1);
}

#[tokio::test]
async fn three_soft_bounces_in_thirty_days_suppress() {
    let app = TestApp::new().await;
    let email = app.email("Soft");
    let (mail, _) = sent_mail(&app, &email).await;
    let soft = |kind: &str, seconds: i64| {
        ses_detail(
            "Bounce",
            &mail,
            json!({
                "bounceType": kind, "bounceSubType": "MailboxFull", "timestamp": at(seconds),
                "bouncedRecipients": [{ "emailAddress": email, "status": "4.2.2" }]
            }),
        )
    };

    for (index, kind) in ["Transient", "Undetermined"].iter().enumerate() {
        let summary = ses_events::handle(
            &app.context,
            eventbridge("Email Bounced", soft(kind, index as i64)),
        )
        .await
        .unwrap();
        assert_eq!(summary.suppressed, 0, "{summary:?}");
    }
    let third = ses_events::handle(
        &app.context,
        eventbridge("Email Bounced", soft("Transient", 2)),
    )
    .await
    .unwrap();
    assert_eq!(third.suppressed, 1);
    let global: Vec<_> = app
        .scan("SUPPRESSION_TABLE")
        .await
        .into_iter()
        .filter(|entry| entry["scope"].as_s().unwrap() == "global")
        .collect();
    assert_eq!(global.len(), 1);
    assert_eq!(global[0]["reason"].as_s().unwrap(), "soft_bounce_limit");
    // The three bounces are seconds apart, so they share a UTC day unless the test runs at midnight.
    let mut soft_bounced = 0;
    for day in [at(0), at(2)]
        .iter()
        .map(|t| common::clock::utc_day(common::clock::parse_rfc3339(t).unwrap()))
        .collect::<std::collections::BTreeSet<_>>()
    {
        let counters = app
            .context
            .storage
            .counters(&app.store.id, &day)
            .await
            .unwrap();
        soft_bounced += counters
            .iter()
            .find(|(c, _)| *c == common::storage::Counter::SoftBounced)
            .unwrap()
            .1;
    }
    assert_eq!(soft_bounced, 3);
}

#[tokio::test]
async fn old_soft_bounces_do_not_count() {
    let app = TestApp::new().await;
    let email = app.email("OldSoft");
    let (mail, _) = sent_mail(&app, &email).await;
    for days_ago in [90, 60, 0] {
        let detail = ses_detail(
            "Bounce",
            &mail,
            json!({
                "bounceType": "Transient", "timestamp": at(-days_ago * 86_400),
                "bouncedRecipients": [{ "emailAddress": email }]
            }),
        );
        let summary = ses_events::handle(&app.context, eventbridge("Email Bounced", detail))
            .await
            .unwrap();
        assert_eq!(summary.suppressed, 0, "bounces {days_ago} days ago");
    }
}

#[tokio::test]
async fn each_recipient_of_a_bounce_is_suppressed() {
    let app = TestApp::new().await;
    let recipients = [app.email("One"), app.email("Two"), app.email("Three")];
    let mut event = ses_event(&app, "ses-bounce-eventbridge.json", &recipients[0]);
    event["detail"]["bounce"]["bouncedRecipients"] = json!(recipients
        .iter()
        .map(|r| json!({ "emailAddress": r, "action": "failed", "status": "5.1.1" }))
        .collect::<Vec<_>>());
    let summary = ses_events::handle(&app.context, event).await.unwrap();
    assert_eq!(summary.suppressed, 3);
}

#[tokio::test]
async fn not_spam_feedback_does_not_suppress() {
    let app = TestApp::new().await;
    let email = app.email("NotSpam");
    let mut event = ses_event(&app, "ses-complaint-eventbridge.json", &email);
    event["detail"]["complaint"]["complaintFeedbackType"] = json!("not-spam");
    let summary = ses_events::handle(&app.context, event).await.unwrap();
    assert_eq!(summary.suppressed, 0);
    assert!(app.scan("SUPPRESSION_TABLE").await.is_empty());
}

#[tokio::test]
async fn storage_failure_fails_then_retry_works() {
    let app = TestApp::new().await;
    let email = app.email("Retried");
    let event = ses_event(&app, "ses-complaint-eventbridge.json", &email);

    let mut settings = app.stack.settings.clone();
    settings.insert("SUPPRESSION_TABLE".into(), format!("missing-{}", app.id));
    let broken = common::Context::new(
        common::Config::from_lookup(|name| settings.get(name).cloned()).unwrap(),
        &app.stack.sdk,
    );
    assert!(ses_events::handle(&broken, event.clone()).await.is_err());

    let retry = ses_events::handle(&app.context, event).await.unwrap();
    assert_eq!((retry.duplicates, retry.suppressed), (0, 1), "{retry:?}");
}
