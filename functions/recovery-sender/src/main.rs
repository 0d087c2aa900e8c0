//! Lambda entry point of the recovery sender, invoked by an EventBridge schedule.

use std::time::{Duration, Instant, SystemTime};

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    common::telemetry::init();
    let context = common::Context::from_env().await?;
    run(service_fn(|event: LambdaEvent<Value>| {
        let context = &context;
        async move {
            // The Lambda context gives the deadline as wall-clock time; turn it into an Instant.
            let remaining = SystemTime::UNIX_EPOCH
                .checked_add(Duration::from_millis(event.context.deadline))
                .and_then(|deadline| deadline.duration_since(SystemTime::now()).ok())
                .unwrap_or_default();
            let summary = recovery_sender::run(context, Instant::now() + remaining).await?;
            Ok::<_, Error>(serde_json::to_value(summary)?)
        }
    }))
    .await
}
