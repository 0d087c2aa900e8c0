//! The arm64 `bootstrap` files that `infra/sam-build` leaves in `.aws-sam/build`. Every function of
//! template.yaml must have an aarch64 ELF. The five binaries then run under qemu-user against a
//! loopback stand-in for the Lambda Runtime API and carry one cart from webhook to unsubscribe,
//! configured as template.yaml configures them (secrets in Secrets Manager, here moto's).
//!
//! `infra/test` builds them and sets `ARM64_BUILD_DIR` and `ARM64_SYSROOT` (Debian's arm64 glibc).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::support::{
    api_gateway_event, checkout, list_unsubscribe_url, parse_mime, ses_event, TestApp,
};

/// How long one emulated invocation, start-up included, may take.
const INVOCATION_LIMIT: Duration = Duration::from_secs(90);

fn required_path(variable: &str) -> PathBuf {
    let value = std::env::var_os(variable).unwrap_or_else(|| {
        panic!("{variable} is not set; run the tests with infra/test, which builds the arm64 functions")
    });
    PathBuf::from(value)
}

/// `(logical id, binary name)` of every AWS::Serverless::Function in template.yaml.
fn template_functions() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(local_stack::provision::template_path()).unwrap();
    let template: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let resources = template["Resources"]
        .as_mapping()
        .expect("Resources mapping");
    let functions: Vec<(String, String)> = resources
        .iter()
        .filter(|(_, resource)| resource["Type"].as_str() == Some("AWS::Serverless::Function"))
        .map(|(id, resource)| {
            let binary = resource["Metadata"]["BuildProperties"]["Binary"]
                .as_str()
                .unwrap_or_default();
            (id.as_str().unwrap().to_owned(), binary.to_owned())
        })
        .collect();
    assert!(!functions.is_empty(), "template.yaml has no functions");
    functions
}

/// Checks the ELF header of `file`: 64-bit, little-endian, machine 183 (aarch64).
fn aarch64_elf_problem(file: &Path) -> Option<String> {
    let bytes = match std::fs::read(file) {
        Ok(bytes) => bytes,
        Err(error) => return Some(format!("cannot be read: {error}")),
    };
    if bytes.len() < 20 || &bytes[..4] != b"\x7fELF" {
        return Some("is not an ELF file".into());
    }
    if bytes[4] != 2 || bytes[5] != 1 {
        return Some("is not a 64-bit little-endian ELF".into());
    }
    let machine = u16::from_le_bytes([bytes[18], bytes[19]]);
    (machine != 183).then(|| format!("has ELF machine {machine}, not 183 (aarch64)"))
}

#[test]
fn every_function_has_aarch64_bootstrap() {
    let build_dir = required_path("ARM64_BUILD_DIR");
    let mut report = String::from("function                 binary            bytes       MiB\n");
    let mut problems = Vec::new();
    for (logical_id, binary) in template_functions() {
        let file = build_dir.join(&logical_id).join("bootstrap");
        match aarch64_elf_problem(&file) {
            Some(problem) => problems.push(format!("{} {problem}", file.display())),
            None => {
                let bytes = std::fs::metadata(&file).unwrap().len();
                report.push_str(&format!(
                    "{logical_id:<24} {binary:<16} {bytes:>9} {:>9.2}\n",
                    bytes as f64 / 1_048_576.0
                ));
            }
        }
    }
    println!("{report}");
    if let Some(dir) = std::env::var_os("TEST_OUTPUT_DIR") {
        std::fs::write(Path::new(&dir).join("arm64-artifacts.txt"), &report).unwrap();
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn elf_check_rejects_other_files() {
    let dir = std::env::temp_dir().join(format!("elf-check-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("script");
    std::fs::write(&script, "#!/bin/sh\n").unwrap();
    assert_eq!(aarch64_elf_problem(&script).unwrap(), "is not an ELF file");
    // The test binary itself is an ELF for the build machine, x86_64 here.
    let host = std::env::current_exe().unwrap();
    if cfg!(target_arch = "x86_64") {
        assert!(aarch64_elf_problem(&host).unwrap().contains("machine 62"));
    }
    assert!(aarch64_elf_problem(&dir.join("missing")).is_some());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// What the function sent back to the Runtime API for one invocation.
#[derive(Debug)]
enum Outcome {
    Response(Value),
    Error(String),
    InitError(String),
}

#[derive(Default)]
struct Runtime {
    event: Mutex<Option<Value>>,
    /// Time of the function's first request for an event: the end of its initialization.
    ready_at: Mutex<Option<Instant>>,
}

type Shared = (Arc<Runtime>, mpsc::UnboundedSender<Outcome>);

async fn next_invocation(State((runtime, _)): State<Shared>) -> (HeaderMap, String) {
    runtime
        .ready_at
        .lock()
        .unwrap()
        .get_or_insert_with(Instant::now);

    let Some(event) = runtime.event.lock().unwrap().take() else {
        // One event per process: later polls wait until the test stops the process.
        std::future::pending::<()>().await;
        unreachable!();
    };

    let deadline = std::time::SystemTime::now() + INVOCATION_LIMIT;
    let deadline_ms = deadline
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: String| {
        headers.insert(name, HeaderValue::from_str(&value).unwrap());
    };
    set(
        "lambda-runtime-aws-request-id",
        "8476a536-e9f4-11e8-9739-2dfe598c3fcd".into(),
    );
    set("lambda-runtime-deadline-ms", deadline_ms.to_string());
    set(
        "lambda-runtime-invoked-function-arn",
        "arn:aws:lambda:us-east-1:123456789012:function:smoke".into(),
    );
    set(
        "lambda-runtime-trace-id",
        "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Sampled=0".into(),
    );
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    (headers, event.to_string())
}

async fn invocation_response(
    State((_, outcomes)): State<Shared>,
    UrlPath(_id): UrlPath<String>,
    body: String,
) -> StatusCode {
    let value = serde_json::from_str(&body).unwrap_or(Value::String(body));
    let _ = outcomes.send(Outcome::Response(value));
    StatusCode::ACCEPTED
}

async fn invocation_error(
    State((_, outcomes)): State<Shared>,
    UrlPath(_id): UrlPath<String>,
    body: String,
) -> StatusCode {
    let _ = outcomes.send(Outcome::Error(body));
    StatusCode::ACCEPTED
}

async fn init_error(State((_, outcomes)): State<Shared>, body: String) -> StatusCode {
    let _ = outcomes.send(Outcome::InitError(body));
    StatusCode::ACCEPTED
}

/// Start-up and invocation times of one emulated run, for the benchmarks page.
#[derive(Debug)]
struct Timing {
    function: String,
    init: Duration,
    invocation: Duration,
}

/// A function's arm64 bootstrap running under qemu-user against its own Runtime API stand-in.
struct Launched {
    function: String,
    child: tokio::process::Child,
    runtime: Arc<Runtime>,
    outcomes: mpsc::UnboundedReceiver<Outcome>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    started: Instant,
    log_path: PathBuf,
}

/// Starts `function`'s bootstrap with the app's settings and the test's AWS endpoint variables.
/// Its first request for an event gets `event`; without one, the request waits.
async fn launch(app: &TestApp, function: &str, event: Option<Value>) -> Launched {
    let bootstrap = required_path("ARM64_BUILD_DIR")
        .join(function)
        .join("bootstrap");
    let sysroot = required_path("ARM64_SYSROOT");

    let runtime = Arc::new(Runtime::default());
    *runtime.event.lock().unwrap() = event;
    let (sender, outcomes) = mpsc::unbounded_channel();
    let router = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next_invocation))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(invocation_response),
        )
        .route(
            "/2018-06-01/runtime/invocation/{id}/error",
            post(invocation_error),
        )
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .with_state((runtime.clone(), sender));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, router).await });

    // Only the AWS variables of the test run (static credentials, region, loopback endpoints),
    // the app's settings and what the Lambda service sets.
    let mut environment: BTreeMap<String, String> = std::env::vars()
        .filter(|(name, _)| name.starts_with("AWS_"))
        .collect();
    environment.extend(app.stack.settings.clone());
    // As deployed: the pepper and token keys come from the Secrets Manager secret (moto).
    environment.remove("HASH_PEPPER");
    environment.remove("TOKEN_KEYS");
    environment.insert("SECRET_ID".to_owned(), secret_id(app));
    for (name, value) in [
        ("AWS_LAMBDA_RUNTIME_API", address.to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME", function.to_owned()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256".to_owned()),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{function}"),
        ),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "2026/12/04/[$LATEST]smoke".to_owned(),
        ),
        ("RUST_LOG", "info".to_owned()),
    ] {
        environment.insert(name.to_owned(), value);
    }

    let log_path = test_output_dir().join(format!("arm64-{function}.log"));
    let log = std::fs::File::create(&log_path).unwrap();
    let started = Instant::now();
    let child = tokio::process::Command::new("qemu-aarch64")
        .arg("-L")
        .arg(&sysroot)
        .arg(&bootstrap)
        .env_clear()
        .envs(&environment)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .expect("qemu-aarch64 runs; infra/test installs qemu-user");
    Launched {
        function: function.to_owned(),
        child,
        runtime,
        outcomes,
        server,
        started,
        log_path,
    }
}

impl Launched {
    /// Stops the process and the stand-in.
    async fn stop(mut self) {
        self.child.kill().await.unwrap();
        self.server.abort();
    }

    /// Returns the time from start to the first request for an event, its initialization.
    fn ready_after(&self) -> Option<Duration> {
        let ready = *self.runtime.ready_at.lock().unwrap();
        ready.map(|ready| ready - self.started)
    }

    /// Waits for the response to the one invocation and returns it with the timing.
    async fn wait_for_response(&mut self) -> (Outcome, Timing) {
        let log = self.log_path.display().to_string();
        let function = self.function.clone();
        let outcome = tokio::select! {
            outcome = self.outcomes.recv() => outcome.expect("runtime stand-in stopped"),
            status = self.child.wait() => panic!(
                "{function} exited with {status:?} before responding; see {log}"
            ),
            () = tokio::time::sleep(INVOCATION_LIMIT) => panic!(
                "{function} gave no response within {INVOCATION_LIMIT:?}; see {log}"
            ),
        };
        let responded = Instant::now();
        let init = self
            .ready_after()
            .expect("the function responded without requesting an event");
        let timing = Timing {
            function,
            init,
            invocation: responded - self.started - init,
        };
        (outcome, timing)
    }
}

/// Runs `function` for one invocation with `event` and returns its response.
async fn invoke(app: &TestApp, function: &str, event: Value, timings: &mut Vec<Timing>) -> Value {
    let mut launched = launch(app, function, Some(event)).await;
    let (outcome, timing) = launched.wait_for_response().await;
    let log = launched.log_path.display().to_string();
    launched.stop().await;
    timings.push(timing);
    match outcome {
        Outcome::Response(value) => value,
        other => panic!("{function} failed: {other:?}; see {log}"),
    }
}

fn secret_id(app: &TestApp) -> String {
    format!("cart-recovery/arm64-{}", app.id)
}

/// Stores the app's pepper and token keys in Secrets Manager (moto), as a deployment keeps them.
async fn create_secret(app: &TestApp) {
    let value = json!({
        "hash_pepper": app.stack.settings["HASH_PEPPER"],
        "token_keys": app.stack.settings["TOKEN_KEYS"],
    });
    aws_sdk_secretsmanager::Client::new(&app.stack.sdk)
        .create_secret()
        .name(secret_id(app))
        .secret_string(value.to_string())
        .send()
        .await
        .unwrap();
}

fn test_output_dir() -> PathBuf {
    let dir = std::env::var_os("TEST_OUTPUT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Body JSON of an API Gateway HTTP API response.
fn http_body(response: &Value) -> Value {
    let body = response["body"].as_str().unwrap_or_default();
    serde_json::from_str(body).unwrap_or(Value::String(body.to_owned()))
}

#[tokio::test]
async fn arm64_binaries_handle_cart_life() {
    let app = TestApp::new().await;
    create_secret(&app).await;
    let mut timings = Vec::new();
    let email = app.email("Arm.Shopper");

    // Cart webhook: a signed Shopify checkout, two hours old, so the first email is due.
    let body = serde_json::to_vec(&checkout(&email, &format!("cart-{}", app.id), 7_200)).unwrap();
    let headers = json!({
        "content-type": "application/json",
        "x-shopify-topic": "checkouts/create",
        "x-shopify-shop-domain": app.store.shop_domain,
        "x-shopify-hmac-sha256": app.shopify_signature(&body),
        "x-shopify-event-id": uuid::Uuid::new_v4().to_string(),
        "x-shopify-triggered-at": "2026-12-04T14:15:04.123Z",
        "x-shopify-api-version": "2025-10",
    });
    let event = api_gateway_event("POST", "/webhooks/shopify", "", headers, &body, false);
    let response = invoke(&app, "CartWebhookFunction", event, &mut timings).await;
    assert_eq!(response["statusCode"], json!(200), "{response}");
    assert_eq!(
        http_body(&response)["result"],
        json!("scheduled"),
        "{response}"
    );

    // Recovery sender: the scheduled run sends the email through SES (moto).
    let summary = invoke(&app, "RecoverySenderFunction", json!({}), &mut timings).await;
    assert_eq!(summary["sent"], json!(1), "{summary}");
    let messages = app.sent_to(&email).await;
    assert_eq!(messages.len(), 1, "one email in the outbox");
    let unsubscribe_url = list_unsubscribe_url(&parse_mime(&messages[0]));

    // Unsubscribe: the mail client's RFC 8058 one-click POST.
    let query = unsubscribe_url.split_once('?').unwrap().1;
    let event = api_gateway_event(
        "POST",
        "/unsubscribe",
        query,
        json!({ "content-type": "application/x-www-form-urlencoded" }),
        b"List-Unsubscribe=One-Click",
        true,
    );
    let response = invoke(&app, "UnsubscribeFunction", event, &mut timings).await;
    assert_eq!(response["statusCode"], json!(200), "{response}");
    let entries = app.scan("SUPPRESSION_TABLE").await;
    assert_eq!(
        entries.len(),
        1,
        "the one-click POST stored one do-not-email entry"
    );

    // SES events: a hard bounce of another address of the same store.
    let bounced = app.email("Arm.Bounce");
    let event = ses_event(&app, "ses-bounce-eventbridge.json", &bounced);
    let summary = invoke(&app, "SesEventsFunction", event, &mut timings).await;
    assert_eq!(summary["suppressed"], json!(1), "{summary}");

    // Merchant API: today's counts with the store's key.
    let (key, digest) = common::hashing::generate_api_key(&app.store.id);
    let mut store = app.store.clone();
    store.api_key_hash = Some(digest);
    app.context.storage.put_store(&store).await.unwrap();
    // From yesterday to tomorrow, so a run across midnight UTC still includes both counts.
    let today = time::OffsetDateTime::now_utc().date();
    let (from, to) = (today.previous_day().unwrap(), today.next_day().unwrap());
    let event = api_gateway_event(
        "GET",
        "/v1/stats",
        &format!("from={from}&to={to}"),
        json!({ "authorization": format!("Bearer {key}") }),
        b"",
        false,
    );
    let response = invoke(&app, "MerchantApiFunction", event, &mut timings).await;
    assert_eq!(response["statusCode"], json!(200), "{response}");
    let stats = http_body(&response);
    assert_eq!(stats["counts"]["sent"], json!(1), "{stats}");
    assert_eq!(stats["counts"]["unsubscribed"], json!(1), "{stats}");

    // The functions' own logs name ids and keyed hashes, never a shopper's address.
    for timing in &timings {
        let log = std::fs::read_to_string(
            test_output_dir().join(format!("arm64-{}.log", timing.function)),
        )
        .unwrap()
        .to_lowercase();
        for address in [&email, &bounced] {
            assert!(
                !log.contains(&address.to_lowercase()),
                "{} logged a shopper address",
                timing.function
            );
        }
    }

    let mut report =
        String::from("function                 init ms  invocation ms  (qemu-user on x86_64)\n");
    for timing in &timings {
        report.push_str(&format!(
            "{:<24} {:>7} {:>14}\n",
            timing.function,
            timing.init.as_millis(),
            timing.invocation.as_millis()
        ));
    }
    println!("{report}");
    std::fs::write(test_output_dir().join("arm64-timings.txt"), report).unwrap();
}

/// Start-up benchmark: each function started ten times, time to its first request for an event.
/// Run it with `infra/test arm64_start_up -- --ignored --nocapture`.
#[tokio::test]
#[ignore = "benchmark; numbers go to docs/benchmarks.md"]
async fn arm64_start_up_times() {
    const RUNS: usize = 10;
    let app = TestApp::new().await;
    create_secret(&app).await;

    let mut report =
        String::from("function                 min ms  median ms  max ms  (qemu-user on x86_64)\n");
    for (function, _) in template_functions() {
        let mut times = Vec::with_capacity(RUNS);
        for _ in 0..RUNS {
            let launched = launch(&app, &function, None).await;
            let limit = Instant::now() + INVOCATION_LIMIT;
            let time = loop {
                if let Some(time) = launched.ready_after() {
                    break time;
                }
                assert!(
                    Instant::now() < limit,
                    "{function} did not start; see {}",
                    launched.log_path.display()
                );
                tokio::time::sleep(Duration::from_millis(1)).await;
            };
            launched.stop().await;
            times.push(time);
        }
        times.sort();
        report.push_str(&format!(
            "{function:<24} {:>6} {:>10} {:>7}\n",
            times[0].as_millis(),
            times[RUNS / 2].as_millis(),
            times[RUNS - 1].as_millis()
        ));
    }
    println!("{report}");
    std::fs::write(test_output_dir().join("arm64-start-up.txt"), report).unwrap();
}
