//! The recovery email as a shopper's mail client sees it, parsed from the raw MIME in the local
//! SES outbox.

use mail_parser::{Address, MimeHeaders};
use serde_json::json;

use crate::support::{checkout, list_unsubscribe_url, parse_mime, TestApp};

async fn send_one(app: &TestApp, email: &str, cart: serde_json::Value) -> String {
    let (status, response) = app
        .shopify_webhook("checkouts/create", &serde_json::to_vec(&cart).unwrap())
        .await;
    assert_eq!(status, 200, "{response}");
    assert_eq!(app.run_sender().await.sent, 1);
    let messages = app.sent_to(email).await;
    assert_eq!(messages.len(), 1);
    messages[0].clone()
}

fn hrefs(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn email_is_multipart_with_store_identity_and_unsubscribe() {
    let app = TestApp::new().await;
    let email = app.email("Reader");
    let mut cart = checkout(&email, &format!("cart-{}", app.id), 7_200);
    cart["line_items"][0]["image_url"] = json!("https://cdn.example.test/beanie.jpg");
    cart["line_items"][0]["product_url"] = json!("https://shop.example.test/products/beanie");
    let raw = send_one(&app, &email, cart).await;
    let message = parse_mime(&raw);

    let from = match message.from().unwrap() {
        Address::List(list) => list[0].clone(),
        other => panic!("unexpected From: {other:?}"),
    };
    assert_eq!(from.name.as_deref(), Some("Northwind Knits"));
    assert_eq!(from.address.as_deref(), Some(app.store.sender.as_str()));
    let reply_to = message
        .reply_to()
        .unwrap()
        .first()
        .unwrap()
        .address
        .as_deref()
        .unwrap()
        .to_owned();
    assert_eq!(reply_to, app.store.reply_to.clone().unwrap());
    assert_eq!(
        message.content_type().unwrap().subtype(),
        Some("alternative")
    );
    assert_eq!(message.text_body_count(), 1);
    assert_eq!(message.html_body_count(), 1);

    let text = message.body_text(0).unwrap();
    let html = message.body_html(0).unwrap();
    let unsubscribe = list_unsubscribe_url(&message);
    assert_eq!(
        message.header_raw("List-Unsubscribe-Post").unwrap().trim(),
        "List-Unsubscribe=One-Click"
    );
    assert!(text.contains(&unsubscribe));
    assert!(
        hrefs(&html).contains(&unsubscribe.replace('&', "&#38;"))
            || hrefs(&html).contains(&unsubscribe)
    );

    // German locale from the cart: German words and prices in euros with a decimal comma.
    assert!(text.contains("Menge: 2"), "{text}");
    assert!(text.contains("29,90\u{a0}€"), "{text}");
    assert!(text.contains("109,60\u{a0}€"), "{text}");
    assert!(
        html.contains("<img src=\"https://cdn.example.test/beanie.jpg\""),
        "{html}"
    );
    let links = hrefs(&html);
    assert!(links
        .iter()
        .any(|l| l == "https://shop.example.test/products/beanie"));
    assert!(
        links
            .iter()
            .any(|l| l.starts_with("https://demo-store.myshopify.com/59840037121/checkouts/ac/")),
        "{links:?}"
    );
}

#[tokio::test]
async fn hostile_titles_stay_inert_text_in_both_parts() {
    let app = TestApp::new().await;
    let email = app.email("Hostile");
    let mut cart = checkout(&email, &format!("cart-{}", app.id), 7_200);
    cart["line_items"][0]["presentment_title"] = json!("<img src=x onerror=alert(1)>");
    cart["line_items"][1]["presentment_title"] =
        json!("Free gift <a href=\"https://evil.example/claim\">claim here</a>");
    let raw = send_one(&app, &email, cart).await;
    let message = parse_mime(&raw);
    let html = message.body_html(0).unwrap();
    let text = message.body_text(0).unwrap();

    assert!(!html.contains("<img src=x"), "HTML part has a live img tag");
    assert!(
        !html.contains("<a href=\"https://evil.example"),
        "HTML part has a live injected link"
    );
    assert!(!hrefs(&html).iter().any(|l| l.contains("evil.example")));
    assert!(html.contains("onerror=alert(1)&#62;") || html.contains("onerror=alert(1)&gt;"));
    assert!(
        text.contains("<img src=x onerror=alert(1)>"),
        "text part shows the title literally"
    );
    assert!(text.contains("claim here</a>"));
}

#[tokio::test]
async fn language_follows_cart_locale_then_store_default() {
    let mut app = TestApp::new().await;
    app.store.default_locale = "fr".into();
    app.context.storage.put_store(&app.store).await.unwrap();
    app.set_sequence(vec![3_600, 86_400, 259_200]).await;

    let cases = [
        (
            Some("en-GB"),
            "You left something in your cart at Northwind Knits",
        ),
        (
            Some("de-DE"),
            "Sie haben etwas in Ihrem Warenkorb bei Northwind Knits gelassen",
        ),
        (
            Some("es-MX"),
            "Dejaste algo en tu carrito de Northwind Knits",
        ),
        (
            Some("pt-BR"),
            "Vous avez oublié quelque chose dans votre panier chez Northwind Knits",
        ),
        (
            None,
            "Vous avez oublié quelque chose dans votre panier chez Northwind Knits",
        ),
    ];
    for (index, (locale, subject)) in cases.into_iter().enumerate() {
        let email = app.email(&format!("Lang{index}"));
        let mut cart = checkout(&email, &format!("cart-{index}-{}", app.id), 7_200);
        cart["customer_locale"] = json!(locale);
        let raw = send_one(&app, &email, cart).await;
        assert_eq!(
            parse_mime(&raw).subject(),
            Some(subject),
            "locale {locale:?}"
        );
    }
}
