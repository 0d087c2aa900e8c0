//! Recovery sending: timing, the frequency cap, stops, exactly-once claims, failures, backlogs.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use common::domain::{Cart, CartId, EmailAddress, LineItem};
use common::storage::{ClaimOutcome, Scope, SuppressionReason, CLAIM_LEASE_SECONDS};
use serde_json::json;
use tokio::task::JoinSet;

use crate::ses_fault::SesFault;
use crate::support::{checkout, TestApp};

fn n(item: &HashMap<String, AttributeValue>, name: &str) -> i64 {
    item[name].as_n().unwrap().parse().unwrap()
}

/// Stores `count` due carts of different shoppers directly through the storage layer.
async fn seed_due_carts(app: &TestApp, count: usize, prefix: &str) -> Vec<String> {
    let now = common::clock::now();
    let sequence = common::domain::Sequence::new(vec![60, 86_400]).unwrap();
    let mut tasks = JoinSet::new();
    let mut emails = Vec::new();
    for index in 0..count {
        let email = format!("{prefix}{index}.{}@bulk.example", app.id);
        emails.push(email.clone());
        let context = app.context.clone();
        let store = app.store.id.clone();
        let sequence = sequence.clone();
        tasks.spawn(async move {
            let email = EmailAddress::parse(&email).unwrap();
            let customer = context.secrets().await.unwrap().pepper.customer_key(&email);
            let cart = Cart {
                id: CartId::parse(&format!("bulk-{index}")).unwrap(),
                email,
                line_items: vec![LineItem {
                    title: format!("Item {index}"),
                    variant_title: None,
                    quantity: 1,
                    price: "10.00".into(),
                    image_url: None,
                    product_url: None,
                }],
                currency: "USD".into(),
                total_price: "10.00".into(),
                recovery_url: None,
                locale: Some("en".into()),
                updated_at: now - 3_600,
            };
            context
                .storage
                .upsert_cart(&store, &customer, &cart, &sequence, None, now)
                .await
                .unwrap()
        });
        if tasks.len() >= 16 {
            tasks.join_next().await.unwrap().unwrap();
        }
    }
    while let Some(joined) = tasks.join_next().await {
        joined.unwrap();
    }
    emails
}

async fn post_checkout(app: &TestApp, email: &str, token: &str, age_seconds: i64) {
    let body = serde_json::to_vec(&checkout(email, token, age_seconds)).unwrap();
    let (status, response) = app.shopify_webhook("checkouts/create", &body).await;
    assert_eq!(status, 200, "{response}");
}

#[tokio::test]
async fn daylight_saving_change_does_not_shift_sends() {
    let app = TestApp::new().await;
    let email = app.email("Dst");
    let token = format!("cart-{}", app.id);
    // 01:30 in Berlin on the night clocks go forward (2027-03-28, 01:00 UTC).
    let mut cart = checkout(&email, &token, 0);
    cart["updated_at"] = json!("2027-03-28T01:30:00+01:00");
    app.shopify_webhook("checkouts/create", &serde_json::to_vec(&cart).unwrap())
        .await;

    let item = app
        .shopper_item(&app.shopper_pk(&email), &format!("cart#{token}"))
        .await
        .unwrap();
    let activity = common::clock::parse_rfc3339("2027-03-28T00:30:00Z").unwrap();
    assert_eq!(n(&item, "cart_updated_at"), activity);
    assert_eq!(
        n(&item, "due_at"),
        activity + 3_600,
        "exactly one hour later, although Berlin clocks read 03:30"
    );
    let sequence = common::domain::Sequence::default();
    assert_eq!(sequence.due_at(1, activity), Some(activity + 86_400));
    assert_eq!(sequence.due_at(2, activity), Some(activity + 259_200));
}

#[tokio::test]
async fn store_sequence_sets_delays_and_step_count() {
    let mut app = TestApp::with_settings(&[("FREQUENCY_CAP_SECONDS", "0")]).await;
    app.set_sequence(vec![600, 1_200]).await;
    let email = app.email("TwoSteps");
    let token = format!("cart-{}", app.id);
    post_checkout(&app, &email, &token, 0).await;
    // Times count from the stored activity, not from the clock after the webhook returned,
    // which a loaded machine can put a second or two later.
    let item = app
        .shopper_item(&app.shopper_pk(&email), &format!("cart#{token}"))
        .await
        .unwrap();
    let start = n(&item, "cart_updated_at");
    assert_eq!(n(&item, "due_at"), start + 600);

    assert_eq!(
        app.run_sender_at(start + 599).await.sent,
        0,
        "not due before 10 minutes"
    );
    assert_eq!(app.run_sender_at(start + 601).await.sent, 1);
    assert_eq!(app.run_sender_at(start + 1_201).await.sent, 1);
    assert_eq!(
        app.run_sender_at(start + 100_000).await.sent,
        0,
        "a two-step sequence sends two emails"
    );

    let subjects: Vec<String> = app
        .sent_to(&email)
        .await
        .iter()
        .map(|raw| {
            crate::support::parse_mime(raw)
                .subject()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(subjects.len(), 2);
    assert_ne!(
        subjects[0], subjects[1],
        "later steps have their own subject"
    );
}

#[tokio::test]
async fn cap_spans_carts_newer_cart_wins() {
    let app = TestApp::new().await;
    let email = app.email("Capped");
    post_checkout(&app, &email, &format!("first-{}", app.id), 7_200).await;
    let first_run = app.run_sender().await;
    assert_eq!(first_run.sent, 1);
    let sent_at = common::clock::now();

    post_checkout(&app, &email, &format!("second-{}", app.id), 3_700).await;
    let second_run = app.run_sender().await;
    assert_eq!(
        (second_run.sent, second_run.capped),
        (0, 1),
        "{second_run:?}"
    );
    let second = app
        .shopper_item(&app.shopper_pk(&email), &format!("cart#second-{}", app.id))
        .await
        .unwrap();
    let retry_at = n(&second, "due_at");
    assert!(
        (sent_at - 5..=sent_at + 5).contains(&(retry_at - 16 * 3_600)),
        "due 16 hours after the last email"
    );

    // Once the cap has passed, only the newer cart is emailed; the older one is superseded.
    let later = app.run_sender_at(retry_at + 86_400).await;
    assert_eq!((later.sent, later.superseded), (1, 1), "{later:?}");
    let first = app
        .shopper_item(&app.shopper_pk(&email), &format!("cart#first-{}", app.id))
        .await
        .unwrap();
    assert_eq!(first["status"].as_s().unwrap(), "superseded");
    assert_eq!(app.sent_to(&email).await.len(), 2);
}

#[tokio::test]
async fn stop_just_before_the_claim_wins() {
    let app = TestApp::new().await;
    let unsubscribed = app.email("LastSecond");
    let ordered = app.email("Bought");
    post_checkout(&app, &unsubscribed, &format!("a-{}", app.id), 7_200).await;
    post_checkout(&app, &ordered, &format!("b-{}", app.id), 7_200).await;

    let now = common::clock::now();
    let mut due = Vec::new();
    for shard in 0..common::storage::DUE_SHARDS {
        due.extend(
            app.context
                .storage
                .due_carts(shard, now, 100, None)
                .await
                .unwrap()
                .0,
        );
    }
    assert_eq!(due.len(), 2);

    // The sender has read both carts; now the stops land before it claims them.
    let customer = |email: &str| {
        app.secrets
            .pepper
            .customer_key(&EmailAddress::parse(email).unwrap())
    };
    app.context
        .storage
        .suppress(
            &Scope::Store(app.store.id.clone()),
            &customer(&unsubscribed),
            SuppressionReason::Unsubscribed,
            now,
        )
        .await
        .unwrap();
    let order = common::storage::StopReason::Ordered {
        order_id: "o-1".into(),
    };
    app.context
        .storage
        .stop_carts(&app.store.id, &customer(&ordered), order, now)
        .await
        .unwrap();

    for cart in &due {
        let outcome = app
            .context
            .storage
            .claim_send(cart, "late-run", now, 0)
            .await
            .unwrap();
        let expected = if cart.customer == customer(&ordered) {
            ClaimOutcome::Lost
        } else {
            ClaimOutcome::Suppressed
        };
        assert_eq!(outcome, expected);
    }
    assert_eq!(app.run_sender().await.sent, 0);
}

#[tokio::test]
async fn four_concurrent_runs_send_each_cart_once() {
    let app = TestApp::new().await;
    let emails = seed_due_carts(&app, 2_000, "once").await;

    let mut runs = JoinSet::new();
    for _ in 0..4 {
        let context = app.context.clone();
        runs.spawn(async move {
            recovery_sender::run(&context, Instant::now() + Duration::from_secs(300))
                .await
                .unwrap()
        });
    }
    let mut sent = 0;
    while let Some(summary) = runs.join_next().await {
        sent += summary.unwrap().sent;
    }
    assert_eq!(sent, 2_000);

    let outbox = local_stack::outbox::sent_messages(&app.stack.moto_url)
        .await
        .unwrap();
    let mut per_recipient: HashMap<String, usize> = HashMap::new();
    for message in outbox.iter().filter(|m| {
        m.destinations
            .iter()
            .any(|d| d.contains(&format!(".{}@bulk.example", app.id)))
    }) {
        let recipient = message.destinations[0].clone();
        *per_recipient.entry(recipient).or_default() += 1;
    }
    assert_eq!(per_recipient.len(), 2_000, "every cart got its email");
    assert!(
        per_recipient.values().all(|count| *count == 1),
        "a cart was emailed twice"
    );
    assert!(emails.iter().all(|email| per_recipient.contains_key(email)));
}

#[tokio::test]
async fn throttled_send_is_released_and_sent_later() {
    let app = TestApp::new().await;
    let email = app.email("Throttled");
    let token = format!("cart-{}", app.id);
    post_checkout(&app, &email, &token, 7_200).await;

    let fault = SesFault::start(429, "TooManyRequestsException").await;
    let throttled = recovery_sender::run(
        &app.context_with_ses_endpoint(&fault.url),
        Instant::now() + Duration::from_secs(60),
    )
    .await
    .unwrap();
    assert_eq!((throttled.sent, throttled.retried), (0, 1), "{throttled:?}");

    // The request the SDK made carried the configuration set and every message tag.
    let request = &fault.bodies()[0];
    assert_eq!(
        request["ConfigurationSetName"],
        json!(app.stack.settings["SES_CONFIGURATION_SET"])
    );
    let tags: HashMap<String, String> = request["EmailTags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tag| {
            (
                tag["Name"].as_str().unwrap().to_owned(),
                tag["Value"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(tags["store"], app.store.id.as_str());
    assert_eq!(tags["cart"], token);
    assert_eq!(tags["step"], "0");
    assert_eq!(tags["customer"].len(), 32);

    let item = app
        .shopper_item(&app.shopper_pk(&email), &format!("cart#{token}"))
        .await
        .unwrap();
    assert!(!item.contains_key("claim_step"), "the claim was released");
    let profile = app
        .shopper_item(&app.shopper_pk(&email), "profile")
        .await
        .unwrap();
    assert_eq!(
        n(&profile, "last_sent_at"),
        0,
        "the frequency cap was given back"
    );

    let later = app.run_sender_at(n(&item, "due_at")).await;
    assert_eq!(later.sent, 1, "{later:?}");
    assert_eq!(app.sent_to(&email).await.len(), 1);
}

#[tokio::test]
async fn permanent_rejection_fails_one_cart_only() {
    let app = TestApp::new().await;
    let unverified = common::domain::Store {
        id: common::domain::StoreId::parse(&format!("unverified-{}", app.id)).unwrap(),
        shop_domain: format!("unverified-{}.myshopify.com", app.id),
        sender: format!("carts@unverified-{}.test", app.id),
        ..app.store.clone()
    };
    app.context.storage.put_store(&unverified).await.unwrap();
    let rejected_email = app.email("Rejected");
    let rejected_customer = app
        .secrets
        .pepper
        .customer_key(&EmailAddress::parse(&rejected_email).unwrap());
    let cart = Cart {
        id: CartId::parse("rejected-cart").unwrap(),
        email: EmailAddress::parse(&rejected_email).unwrap(),
        line_items: vec![LineItem {
            title: "Hat".into(),
            variant_title: None,
            quantity: 1,
            price: "5".into(),
            image_url: None,
            product_url: None,
        }],
        currency: "USD".into(),
        total_price: "5".into(),
        recovery_url: None,
        locale: None,
        updated_at: common::clock::now() - 7_200,
    };
    let sequence = common::domain::Sequence::default();
    let now = common::clock::now();
    app.context
        .storage
        .upsert_cart(
            &unverified.id,
            &rejected_customer,
            &cart,
            &sequence,
            None,
            now,
        )
        .await
        .unwrap();
    let fine = app.email("Fine");
    post_checkout(&app, &fine, &format!("cart-{}", app.id), 7_200).await;

    let summary = app.run_sender().await;
    assert_eq!((summary.sent, summary.rejected), (1, 1), "{summary:?}");
    assert_eq!(app.sent_to(&fine).await.len(), 1);

    let pk = common::storage::shopper_pk(&unverified.id, &rejected_customer);
    let item = app.shopper_item(&pk, "cart#rejected-cart").await.unwrap();
    assert_eq!(item["status"].as_s().unwrap(), "failed");
    assert!(
        item["failure_reason"].as_s().unwrap().contains("authority"),
        "{item:?}"
    );
    assert!(!item.contains_key("due_at"));
    assert_eq!(
        app.run_sender().await.rejected,
        0,
        "a failed cart is not tried again"
    );
}

#[tokio::test]
async fn crash_between_claim_and_send_never_sends_twice() {
    let mut app = TestApp::with_settings(&[("FREQUENCY_CAP_SECONDS", "0")]).await;
    app.set_sequence(vec![60, 7_200]).await;
    let email = app.email("Crash");
    let token = format!("cart-{}", app.id);
    post_checkout(&app, &email, &token, 3_600).await;

    // A run claimed step 0 long ago and died before sending or recording anything.
    let now = common::clock::now();
    let mut due = Vec::new();
    for shard in 0..common::storage::DUE_SHARDS {
        due.extend(
            app.context
                .storage
                .due_carts(shard, now, 10, None)
                .await
                .unwrap()
                .0,
        );
    }
    let claimed_at = now - CLAIM_LEASE_SECONDS - 60;
    assert_eq!(
        app.context
            .storage
            .claim_send(&due[0], "dead-run", claimed_at, 0)
            .await
            .unwrap(),
        ClaimOutcome::Claimed
    );

    let summary = app.run_sender().await;
    assert_eq!(
        (summary.sent, summary.abandoned_claims),
        (0, 1),
        "{summary:?}"
    );
    let item = app
        .shopper_item(&app.shopper_pk(&email), &format!("cart#{token}"))
        .await
        .unwrap();
    assert_eq!(
        n(&item, "next_step"),
        1,
        "the claimed step is skipped, not resent"
    );

    let later = app.run_sender_at(n(&item, "due_at")).await;
    assert_eq!(later.sent, 1);
    let messages = app.sent_to(&email).await;
    assert_eq!(messages.len(), 1);
    let subject = crate::support::parse_mime(&messages[0])
        .subject()
        .unwrap()
        .to_owned();
    assert!(
        subject.contains("wartet noch"),
        "only step 1 went out: {subject}"
    );
}

#[tokio::test]
async fn backlog_drains_over_several_short_runs() {
    let app = TestApp::with_settings(&[("SES_MAX_SEND_RATE", "200")]).await;
    let emails = seed_due_carts(&app, 600, "backlog").await;

    // Each run may spend two seconds sending before the ten-second safety margin, so at most
    // about 400 emails, plus those already in flight. A loaded machine sends fewer per run, so
    // the number of runs is bounded loosely; what matters is that every cart goes out once.
    let mut runs = 0;
    let mut total = 0;
    while total < emails.len() {
        runs += 1;
        assert!(
            runs <= 100,
            "backlog did not drain in 100 runs; sent {total}"
        );
        let summary = recovery_sender::run(&app.context, Instant::now() + Duration::from_secs(12))
            .await
            .unwrap();
        assert!(
            summary.sent <= 400 + 8,
            "run exceeded the send rate: {summary:?}"
        );
        total += summary.sent;
    }
    assert!(
        runs >= 2,
        "600 emails at 200 per second need more than one two-second run, took {runs}"
    );
    assert_eq!(total, emails.len());
    for (index, email) in emails.iter().enumerate() {
        assert_eq!(
            app.sent_to(email).await.len(),
            1,
            "cart {index} of the backlog"
        );
    }
}

#[tokio::test]
async fn each_send_records_message_counter_and_event() {
    let app = TestApp::new().await;
    let queue = app.capture_events().await;
    let email = app.email("Recorded");
    let token = format!("cart-{}", app.id);
    post_checkout(&app, &email, &token, 7_200).await;
    assert_eq!(app.run_sender().await.sent, 1);

    let message = app
        .shopper_item(&app.shopper_pk(&email), &format!("msg#{token}#0"))
        .await
        .unwrap();
    assert!(!message["message_id"].as_s().unwrap().is_empty());
    assert_eq!(n(&message, "step"), 0);
    assert!(n(&message, "sent_at") > 0);
    assert_eq!(n(&app.stats_total().await, "sent"), 1);

    let sent: Vec<_> = app
        .captured_events(&queue)
        .await
        .into_iter()
        .filter(|event| event["detail-type"] == json!("Recovery Email Sent"))
        .collect();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0]["detail"]["message_id"],
        message["message_id"].as_s().unwrap().as_str()
    );
    assert_eq!(sent[0]["detail"]["step"], json!(0));
    assert!(!sent[0].to_string().contains('@'));
}

#[tokio::test]
async fn send_rate_comes_from_the_ses_account() {
    let app = TestApp::new().await;
    let mut settings = app.stack.settings.clone();
    settings.remove("SES_MAX_SEND_RATE");
    let config = common::Config::from_lookup(|name| settings.get(name).cloned()).unwrap();
    let account = SesFault::answering(json!({
        "SendQuota": { "Max24HourSend": 50000.0, "MaxSendRate": 14.0, "SentLast24Hours": 12.0 },
        "SendingEnabled": true,
        "ProductionAccessEnabled": true
    }))
    .await;
    let ses = aws_sdk_sesv2::config::Builder::from(&app.stack.sdk)
        .endpoint_url(&account.url)
        .build();
    let mailer = common::email::Mailer::new(
        aws_sdk_sesv2::Client::from_conf(ses),
        std::sync::Arc::new(config),
    );
    assert_eq!(mailer.max_send_rate().await, Some(14.0));

    // moto has no GetAccount, so there the rate is unknown and the sender falls back.
    let unknown = common::email::Mailer::new(
        aws_sdk_sesv2::Client::new(&app.stack.sdk),
        std::sync::Arc::new(
            common::Config::from_lookup(|name| settings.get(name).cloned()).unwrap(),
        ),
    );
    assert_eq!(unknown.max_send_rate().await, None);
}

/// Drains a backlog of 20,000 due carts. It takes minutes on DynamoDB Local and moto, so it runs
/// on request: `infra/test backlog_of_twenty_thousand -- --ignored`.
#[tokio::test]
#[ignore = "takes minutes; run with --ignored"]
async fn backlog_of_twenty_thousand_drains_without_loss() {
    const CARTS: usize = 20_000;
    let app = TestApp::with_settings(&[("SES_MAX_SEND_RATE", "400")]).await;
    let emails = seed_due_carts(&app, CARTS, "scale").await;

    // Each run has 30 seconds, 20 of them for sending at 400 emails per second: at most 8,000.
    let mut runs = Vec::new();
    let mut total = 0;
    while total < CARTS {
        assert!(
            runs.len() < 20,
            "backlog did not drain in 20 runs: {runs:?}"
        );
        let summary = recovery_sender::run(&app.context, Instant::now() + Duration::from_secs(30))
            .await
            .unwrap();
        assert!(
            summary.sent <= 8_000 + 8,
            "run exceeded the send rate: {summary:?}"
        );
        total += summary.sent;
        runs.push(summary.sent);
    }
    assert!(runs.len() >= 3, "runs: {runs:?}");
    assert_eq!(total, CARTS);

    let outbox = local_stack::outbox::sent_messages(&app.stack.moto_url)
        .await
        .unwrap();
    let mut recipients = std::collections::HashSet::new();
    for message in &outbox {
        if let Some(recipient) = message
            .destinations
            .iter()
            .find(|d| d.contains(&format!(".{}@bulk.example", app.id)))
        {
            assert!(
                recipients.insert(recipient.clone()),
                "a recipient got two emails"
            );
        }
    }
    assert_eq!(recipients.len(), CARTS);
    assert!(
        emails.iter().all(|email| recipients.contains(email)),
        "a cart was skipped"
    );
    println!("20,000 carts drained in {} runs: {runs:?}", runs.len());
}
