//! Lambda entry point of the merchant API function.

use lambda_http::{run, service_fn, Error, Request};

#[tokio::main]
async fn main() -> Result<(), Error> {
    common::telemetry::init();
    let context = common::Context::from_env().await?;
    run(service_fn(|request: Request| {
        let context = &context;
        async move { Ok::<_, Error>(merchant_api::handle(context, request).await) }
    }))
    .await
}
