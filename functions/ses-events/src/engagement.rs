//! Deliveries, opens and clicks: recorded on the message item, counted once per message, with
//! machine opens and clicks separated from people's and left out of the rates.
//!
//! Heuristics, which err toward counting a person:
//! - an open by a known security scanner, or by a mail privacy proxy within 60 seconds of
//!   delivery (the proxy fetched the pixel ahead of the person), is automated;
//! - a click by a known scanner, or three or more different links followed within 10 seconds,
//!   is automated.

use common::storage::{Counter, MessageRef, StorageError};
use common::Context;

use crate::{SesEvent, SesEventKind};

/// An open by a privacy proxy this soon after delivery counts as a prefetch, in seconds.
const PROXY_PREFETCH_SECONDS: i64 = 60;
/// Different links followed within this many seconds make a scanner's burst.
const CLICK_BURST_SECONDS: i64 = 10;
/// Number of different links in a burst that marks it automated.
const CLICK_BURST_LINKS: usize = 3;

/// User-agent fragments of services that fetch email images on the reader's behalf.
const PRIVACY_PROXIES: [&str; 3] = [
    "GoogleImageProxy",
    "YahooMailProxy",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X) AppleWebKit",
];
/// User-agent fragments of link and attachment scanners.
const SCANNERS: [&str; 8] = [
    "Barracuda",
    "Mimecast",
    "Proofpoint",
    "python-requests",
    "curl/",
    "Go-http-client",
    "bot",
    "Symantec",
];

/// Returns true when an open at `opened_at` looks like a proxy prefetch or a scanner.
pub fn is_automated_open(user_agent: &str, opened_at: i64, delivered_at: Option<i64>) -> bool {
    if SCANNERS.iter().any(|s| user_agent.contains(s)) {
        return true;
    }
    let proxy = user_agent.is_empty() || PRIVACY_PROXIES.iter().any(|p| user_agent.contains(p));
    let soon =
        delivered_at.is_some_and(|delivered| opened_at - delivered <= PROXY_PREFETCH_SECONDS);
    proxy && soon
}

/// Returns true when the clicks around `at` look like a scanner following every link.
pub fn is_automated_click_burst(user_agent: &str, clicks: &[(i64, String)], at: i64) -> bool {
    if SCANNERS.iter().any(|s| user_agent.contains(s)) {
        return true;
    }
    let mut links: Vec<&str> = clicks
        .iter()
        .filter(|(time, _)| (time - at).abs() <= CLICK_BURST_SECONDS)
        .map(|(_, link)| link.as_str())
        .collect();
    links.sort_unstable();
    links.dedup();
    links.len() >= CLICK_BURST_LINKS
}

/// Records one delivery, open or click. Returns false when the message is unknown (erased, or
/// not sent by this product).
pub async fn record(
    context: &Context,
    message: &MessageRef,
    event: &SesEvent,
) -> Result<bool, StorageError> {
    let storage = &context.storage;
    let Some(item) = storage.message(message).await? else {
        tracing::info!(cart_id = %message.cart_id, step = message.step, "engagement for an unknown message ignored");
        return Ok(false);
    };
    let at = event.occurred_at;
    let number = |name: &str| {
        item.get(name)
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse::<i64>().ok())
    };
    let mut counters = Vec::new();

    match &event.kind {
        SesEventKind::Delivery => {
            if storage.mark_first(message, "delivered_at", at).await? {
                counters.push((Counter::Delivered, 1));
            }
        }
        SesEventKind::Open { user_agent } => {
            if is_automated_open(user_agent, at, number("delivered_at")) {
                if storage.mark_first(message, "automated_open_at", at).await? {
                    counters.push((Counter::AutomatedOpens, 1));
                }
            } else if storage.mark_first(message, "opened_at", at).await? {
                counters.push((Counter::Opened, 1));
            }
        }
        SesEventKind::Click { user_agent, link } => {
            let clicks = storage.record_click(message, link, at).await?;
            let already_automated = item.contains_key("automated_click_at");
            if is_automated_click_burst(user_agent, &clicks, at) {
                if storage
                    .mark_first(message, "automated_click_at", at)
                    .await?
                {
                    counters.push((Counter::AutomatedClicks, 1));
                    // The burst's first click was counted as a person's; take it back.
                    if let Some(clicked_at) = number("clicked_at") {
                        if (clicked_at - at).abs() <= CLICK_BURST_SECONDS {
                            storage.clear_attribute(message, "clicked_at").await?;
                            counters.push((Counter::Clicked, -1));
                        }
                    }
                }
            } else if !already_automated && storage.mark_first(message, "clicked_at", at).await? {
                counters.push((Counter::Clicked, 1));
            }
        }
        _ => return Ok(false),
    }

    storage.add_counters(&message.store, at, &counters).await?;
    tracing::info!(cart_id = %message.cart_id, step = message.step, ?counters, "engagement recorded");
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_open_right_after_delivery_is_automated() {
        let proxy = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)";
        assert!(is_automated_open(proxy, 1_030, Some(1_000)));
        assert!(
            !is_automated_open(proxy, 5_000, Some(1_000)),
            "a proxy fetch much later is the person opening"
        );
        assert!(!is_automated_open(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X)",
            1_010,
            Some(1_000)
        ));
        assert!(is_automated_open(
            "Mimecast-Scanner/1.0",
            9_000,
            Some(1_000)
        ));
    }

    #[test]
    fn click_on_every_link_at_once_is_automated() {
        let clicks = vec![
            (100, "https://a".to_owned()),
            (101, "https://b".to_owned()),
            (101, "https://c".to_owned()),
        ];
        assert!(is_automated_click_burst("Mozilla/5.0", &clicks, 101));
        assert!(!is_automated_click_burst("Mozilla/5.0", &clicks[..2], 101));
        let spread = vec![
            (100, "https://a".to_owned()),
            (200, "https://b".to_owned()),
            (300, "https://c".to_owned()),
        ];
        assert!(!is_automated_click_burst("Mozilla/5.0", &spread, 300));
        assert!(is_automated_click_burst(
            "python-requests/2.31",
            &clicks[..1],
            100
        ));
    }
}
