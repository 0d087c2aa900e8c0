//! Store health: counters over a date range, the rates merchants watch, and the warnings and
//! automatic pause that protect the sending reputation.
//!
//! Rates are per email sent. Above 2% unsubscribes the content needs review. Above 0.1%
//! complaints the store's sending is at risk, because Amazon SES reviews an account at that
//! complaint rate. Above 0.3% complaints, sending for the store pauses by itself.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::clock::{self, utc_day};
use crate::domain::StoreId;
use crate::events::DomainEvent;
use crate::storage::{Counter, StorageError};
use crate::Context;

/// Unsubscribe rate above which the content should be reviewed.
pub const UNSUBSCRIBE_WARNING_RATE: f64 = 0.02;
/// Complaint rate above which the store's sending is at risk.
pub const COMPLAINT_WARNING_RATE: f64 = 0.001;
/// Complaint rate above which sending for the store pauses by itself.
pub const COMPLAINT_PAUSE_RATE: f64 = 0.003;
/// Minimum emails sent in the window before a store is paused automatically, so one complaint
/// about a store's first few emails does not pause it.
// NOTE: this minimum volume is a judgment call, not an SES rule.
pub const PAUSE_MIN_SENT: i64 = 1_000;
/// Window of the automatic pause check, in days.
pub const PAUSE_WINDOW_DAYS: i64 = 30;

/// Counters, rates and warnings of one store over a date range.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct StoreStats {
    /// Store id.
    pub store_id: String,
    /// First day, `YYYY-MM-DD` (UTC).
    pub from: String,
    /// Last day, inclusive.
    pub to: String,
    /// Counters by name; opens and clicks by machines are reported apart and left out of rates.
    pub counts: BTreeMap<String, i64>,
    /// Recovered revenue by currency, in minor units.
    pub recovered_revenue_minor: BTreeMap<String, i64>,
    /// Rates per email sent (unsubscribe, complaint, bounce) or delivered (open, click).
    pub rates: BTreeMap<String, f64>,
    /// Warnings for the merchant.
    pub warnings: Vec<String>,
}

/// Reads a store's counters from `from` to `to` (inclusive) and computes rates and warnings.
pub async fn store_stats(
    context: &Context,
    store: &StoreId,
    from: &str,
    to: &str,
) -> Result<StoreStats, StorageError> {
    let totals = context.storage.counters_between(store, from, to).await?;
    Ok(compute(store, from, to, &totals))
}

/// Computes rates and warnings from summed counters.
pub fn compute(
    store: &StoreId,
    from: &str,
    to: &str,
    totals: &BTreeMap<String, i64>,
) -> StoreStats {
    let get = |counter: Counter| totals.get(counter.attribute()).copied().unwrap_or(0);
    let counts: BTreeMap<String, i64> = Counter::ALL
        .iter()
        .map(|counter| (counter.attribute().to_owned(), get(*counter)))
        .collect();
    let recovered_revenue_minor = totals
        .iter()
        .filter_map(|(name, value)| Some((name.strip_prefix("revenue_")?.to_owned(), *value)))
        .collect();

    let ratio = |part: i64, whole: i64| {
        if whole > 0 {
            part as f64 / whole as f64
        } else {
            0.0
        }
    };
    let sent = get(Counter::Sent);
    let delivered = get(Counter::Delivered);
    let rates = BTreeMap::from([
        (
            "unsubscribe".to_owned(),
            ratio(get(Counter::Unsubscribed), sent),
        ),
        (
            "complaint".to_owned(),
            ratio(get(Counter::Complained), sent),
        ),
        ("bounce".to_owned(), ratio(get(Counter::Bounced), sent)),
        ("open".to_owned(), ratio(get(Counter::Opened), delivered)),
        ("click".to_owned(), ratio(get(Counter::Clicked), delivered)),
        (
            "recovery".to_owned(),
            ratio(get(Counter::Recovered), get(Counter::Carts)),
        ),
    ]);

    let mut warnings = Vec::new();
    if rates["unsubscribe"] > UNSUBSCRIBE_WARNING_RATE {
        warnings.push(format!(
            "unsubscribe rate {:.2}% is above 2%: review the email content and timing",
            rates["unsubscribe"] * 100.0
        ));
    }
    if rates["complaint"] > COMPLAINT_PAUSE_RATE {
        warnings.push(format!(
            "complaint rate {:.2}% is above 0.3%: sending for this store is paused until the operator resumes it",
            rates["complaint"] * 100.0
        ));
    } else if rates["complaint"] > COMPLAINT_WARNING_RATE {
        warnings.push(format!(
            "complaint rate {:.2}% is above 0.1%: the store's sending is at risk",
            rates["complaint"] * 100.0
        ));
    }

    StoreStats {
        store_id: store.to_string(),
        from: from.to_owned(),
        to: to.to_owned(),
        counts,
        recovered_revenue_minor,
        rates,
        warnings,
    }
}

/// Pauses a store whose complaint rate over the last 30 days is above 0.3% (with at least
/// [`PAUSE_MIN_SENT`] emails sent), and puts a store-health event on the bus. Returns true when
/// this call paused it.
pub async fn pause_if_complaints_too_high(
    context: &Context,
    store_id: &StoreId,
) -> Result<bool, StorageError> {
    let now = clock::now();
    let from = utc_day(now - (PAUSE_WINDOW_DAYS - 1) * 86_400);
    let stats = store_stats(context, store_id, &from, &utc_day(now)).await?;
    let sent = stats.counts.get("sent").copied().unwrap_or(0);
    if sent < PAUSE_MIN_SENT || stats.rates["complaint"] <= COMPLAINT_PAUSE_RATE {
        return Ok(false);
    }
    let Some(mut store) = context.storage.store(store_id).await? else {
        return Ok(false);
    };
    if store.paused {
        return Ok(false);
    }

    store.paused = true;
    context.storage.update_store(&store).await?;
    tracing::warn!(store_id = %store_id, complaint_rate = stats.rates["complaint"], sent, "store paused for complaints");
    let event = DomainEvent::store_health(
        store_id,
        "paused_for_complaints",
        stats.rates["complaint"],
        now,
    );
    context.events.publish(vec![event]).await;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(pairs: &[(&str, i64)]) -> StoreStats {
        let totals = pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect();
        compute(
            &StoreId::parse("s").unwrap(),
            "2026-01-01",
            "2026-01-31",
            &totals,
        )
    }

    #[test]
    fn warns_above_two_percent_unsubscribes() {
        assert!(stats(&[("sent", 1000), ("unsubscribed", 20)])
            .warnings
            .is_empty());
        let warned = stats(&[("sent", 1000), ("unsubscribed", 21)]);
        assert_eq!(warned.warnings.len(), 1);
        assert!(warned.warnings[0].contains("review the email content"));
    }

    #[test]
    fn complaint_warnings_escalate() {
        assert!(stats(&[("sent", 10_000), ("complained", 10)])
            .warnings
            .is_empty());
        assert!(stats(&[("sent", 10_000), ("complained", 11)]).warnings[0].contains("at risk"));
        assert!(stats(&[("sent", 10_000), ("complained", 31)]).warnings[0].contains("paused"));
    }

    #[test]
    fn revenue_is_grouped_by_currency() {
        let report = stats(&[
            ("revenue_EUR", 10_960),
            ("revenue_USD", 500),
            ("recovered", 2),
            ("carts", 10),
        ]);
        assert_eq!(report.recovered_revenue_minor["EUR"], 10_960);
        assert_eq!(report.recovered_revenue_minor["USD"], 500);
        assert!((report.rates["recovery"] - 0.2).abs() < 1e-9);
        assert_eq!(report.counts["opened"], 0);
    }
}
