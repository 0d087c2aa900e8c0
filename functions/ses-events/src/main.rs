//! Lambda entry point of the SES events function.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    common::telemetry::init();
    let context = common::Context::from_env().await?;
    run(service_fn(|event: LambdaEvent<Value>| {
        let context = &context;
        async move {
            let summary = ses_events::handle(context, event.payload).await?;
            Ok::<_, Error>(serde_json::to_value(summary)?)
        }
    }))
    .await
}
