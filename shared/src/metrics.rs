//! CloudWatch metrics in the embedded metric format: one JSON line on standard output per
//! record, which CloudWatch Logs turns into metrics with no API call from the function.
//!
//! Metrics go to the namespace `CartRecovery` without dimensions, so their cost does not grow
//! with the number of stores. Per-store numbers live in the stats table.

use serde_json::{json, Map, Value};

/// Namespace of every metric.
pub const NAMESPACE: &str = "CartRecovery";

/// A product metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// Recovery emails sent.
    Sent,
    /// Shoppers who unsubscribed.
    Unsubscribed,
    /// Addresses suppressed after a hard bounce or too many soft bounces.
    Bounced,
    /// Spam complaints.
    Complained,
    /// Orders that recovered a cart.
    Recovered,
}

impl Metric {
    fn name(self) -> &'static str {
        match self {
            Self::Sent => "Sent",
            Self::Unsubscribed => "Unsubscribed",
            Self::Bounced => "Bounced",
            Self::Complained => "Complained",
            Self::Recovered => "Recovered",
        }
    }
}

/// Formats one embedded-metric-format record of counts.
pub fn record(counts: &[(Metric, i64)], timestamp_millis: i64) -> Value {
    let definitions: Vec<Value> = counts
        .iter()
        .map(|(metric, _)| json!({ "Name": metric.name(), "Unit": "Count" }))
        .collect();
    let mut root = Map::new();
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_millis,
            "CloudWatchMetrics": [{ "Namespace": NAMESPACE, "Dimensions": [[]], "Metrics": definitions }],
        }),
    );
    for (metric, value) in counts {
        root.insert(metric.name().into(), json!(value));
    }
    Value::Object(root)
}

/// Writes counts as one embedded-metric-format line on standard output. Zero counts are skipped.
pub fn emit(counts: &[(Metric, i64)]) {
    let counts: Vec<(Metric, i64)> = counts
        .iter()
        .copied()
        .filter(|(_, value)| *value != 0)
        .collect();
    if counts.is_empty() {
        return;
    }
    let millis = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
    println!("{}", record(&counts, millis));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_declares_every_value_it_carries() {
        let line = record(
            &[(Metric::Sent, 3), (Metric::Recovered, 1)],
            1_700_000_000_000,
        );
        assert_eq!(line["Sent"], 3);
        assert_eq!(line["Recovered"], 1);
        let declared = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(declared["Namespace"], NAMESPACE);
        assert_eq!(declared["Metrics"][0]["Name"], "Sent");
        assert_eq!(declared["Metrics"][1]["Name"], "Recovered");
        assert_eq!(declared["Dimensions"], json!([[]]));
        assert_eq!(line["_aws"]["Timestamp"], 1_700_000_000_000_i64);
    }
}
