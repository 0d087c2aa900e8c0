//! Tracing set-up shared by every function.
//!
//! Under Lambda the log lines are JSON (one object per line, which CloudWatch Logs Insights parses);
//! elsewhere they are human-readable. The level comes from `RUST_LOG`, then from Lambda's
//! `AWS_LAMBDA_LOG_LEVEL`, and defaults to `info`. Spans and events carry store ids, customer keys,
//! cart ids and message ids, never an email address, cart content, token or secret.

use tracing_subscriber::EnvFilter;

/// Installs the global tracing subscriber. Calling it twice keeps the first subscriber.
pub fn init() {
    let filter = std::env::var("RUST_LOG")
        .or_else(|_| std::env::var("AWS_LAMBDA_LOG_LEVEL").map(|level| level.to_lowercase()))
        .unwrap_or_else(|_| "info".to_string());
    let filter = EnvFilter::try_new(&filter).unwrap_or_else(|_| EnvFilter::new("info"));

    let in_lambda = std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let result = if in_lambda {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .without_time()
            .try_init()
    } else {
        builder.try_init()
    };
    // A second call (for example from tests) finds a subscriber already set, which is fine.
    drop(result);
}

/// Formats an error and its causes on one line, for the `error.cause_chain` log field.
pub fn cause_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
