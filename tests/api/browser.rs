//! The unsubscribe page in headless Chromium, driven over WebDriver by ChromeDriver: once with
//! scripts on (opening the link is the one click) and once with scripts off (one button).
//! Screenshots go to `$TEST_OUTPUT_DIR` (`test-output/` under `infra/test`).
//!
//! The browser may reach only 127.0.0.1: every other host resolves to nothing and every
//! non-loopback request goes to a closed proxy port, and Chromium's background services are off.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};

use crate::support::{checkout, list_unsubscribe_url, parse_mime, TestApp};

const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

struct ChromeDriver {
    process: Child,
    url: String,
    http: reqwest::Client,
}

impl ChromeDriver {
    async fn start() -> Self {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let process = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver is installed; infra/test installs Debian's chromium-driver");
        let driver = Self {
            process,
            url: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
        };
        let started = Instant::now();
        while driver
            .http
            .get(format!("{}/status", driver.url))
            .send()
            .await
            .is_err()
        {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "chromedriver did not start"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        driver
    }

    /// Opens a browser session, with a viewport `width` CSS pixels wide when given (phone
    /// emulation, since a headless window cannot be narrower than 500 pixels).
    async fn session(&self, scripts: bool, width: Option<u32>) -> Session<'_> {
        let mut prefs = json!({});
        if !scripts {
            prefs["profile.managed_default_content_settings.javascript"] = json!(2);
        }
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=500,800",
                    "--no-first-run", "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--disable-default-apps", "--disable-domain-reliability",
                    "--disable-client-side-phishing-detection", "--no-pings", "--metrics-recording-only",
                    "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication",
                    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                    "--proxy-server=http://127.0.0.1:9",
                ],
                "prefs": prefs,
            }
        }}});
        let mut capabilities = capabilities;
        if let Some(width) = width {
            capabilities["capabilities"]["alwaysMatch"]["goog:chromeOptions"]["mobileEmulation"] =
                json!({ "deviceMetrics": { "width": width, "height": 640, "pixelRatio": 1.0 } });
        }
        let response: Value = self
            .http
            .post(format!("{}/session", self.url))
            .json(&capabilities)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = response["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {response}"))
            .to_owned();
        Session { driver: self, id }
    }
}

impl Drop for ChromeDriver {
    /// Stops the browsers this driver started, then the driver: Chromium outlives a killed
    /// ChromeDriver, so a failed test would otherwise leave it running.
    fn drop(&mut self) {
        for pid in child_processes(self.process.id()) {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// Returns the ids of the processes whose parent is `parent`, from /proc.
fn child_processes(parent: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // The parent id is the second field after the parenthesized command name.
            let after_name = stat.rsplit_once(") ").map(|(_, rest)| rest).unwrap_or("");
            after_name.split_whitespace().nth(1) == Some(parent.to_string().as_str())
        })
        .collect()
}

struct Session<'a> {
    driver: &'a ChromeDriver,
    id: String,
}

impl Session<'_> {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.driver.url, self.id);
        let mut request = self.driver.http.request(method, url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response: Value = request.send().await.unwrap().json().await.unwrap();
        if response["value"].get("error").is_some() {
            panic!("WebDriver {path} failed: {response}");
        }
        response["value"].clone()
    }

    async fn open(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    async fn source(&self) -> String {
        self.call(reqwest::Method::GET, "/source", None)
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn wait_for_text(&self, text: &str) -> String {
        let started = Instant::now();
        loop {
            let source = self.source().await;
            if source.contains(text) {
                return source;
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "page never showed {text:?}: {source}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn click(&self, css: &str) {
        let element = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await;
        let id = element[ELEMENT_KEY].as_str().unwrap().to_owned();
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            Some(json!({})),
        )
        .await;
    }

    async fn script(&self, script: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({ "script": script, "args": [] })),
        )
        .await
    }

    async fn screenshot(&self, name: &str) -> PathBuf {
        let data = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let png = STANDARD.decode(data.as_str().unwrap()).unwrap();
        let directory = std::env::var("TEST_OUTPUT_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|_| {
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-output")
            });
        std::fs::create_dir_all(&directory).unwrap();
        let path = directory.join(name);
        std::fs::write(&path, png).unwrap();
        println!("screenshot: {}", path.display());
        path
    }

    async fn close(self) {
        self.call(reqwest::Method::DELETE, "", None).await;
    }
}

/// Serves the product's HTTP functions on a free loopback port, as the local stack does.
async fn serve(app: &TestApp) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let router = local_stack::server::router(app.context.clone(), app.stack.moto_url.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    url
}

/// Sends a recovery email to `email` and returns its unsubscribe link on the local server.
async fn unsubscribe_link(app: &TestApp, base: &str, email: &str, token: &str) -> String {
    let body = serde_json::to_vec(&checkout(email, token, 7_200)).unwrap();
    assert_eq!(app.shopify_webhook("checkouts/create", &body).await.0, 200);
    app.run_sender().await;
    let raw = app.sent_to(email).await.pop().expect("recovery email");
    let link = list_unsubscribe_url(&parse_mime(&raw));
    link.replace(crate::support::PUBLIC_BASE_URL, base)
}

async fn suppressed(app: &TestApp) -> usize {
    app.scan("SUPPRESSION_TABLE").await.len()
}

#[tokio::test]
async fn browser_unsubscribes_with_and_without_scripts() {
    let app = TestApp::new().await;
    let base = serve(&app).await;
    let driver = ChromeDriver::start().await;

    // Scripts on, on a 320 px wide screen: opening the link is the one click.
    let link = unsubscribe_link(
        &app,
        &base,
        &app.email("Scripted"),
        &format!("a-{}", app.id),
    )
    .await;
    let session = driver.session(true, Some(320)).await;
    session.open(&link).await;
    let page = session.wait_for_text("Sie sind abgemeldet").await;
    assert!(
        page.contains("Erinnerungen wieder erhalten"),
        "confirmation offers opt-back-in"
    );
    let viewport = session.script("return window.innerWidth").await;
    assert_eq!(viewport.as_u64(), Some(320), "phone emulation is in effect");
    let width = session
        .script("return document.documentElement.scrollWidth")
        .await;
    assert!(
        width.as_u64().unwrap() <= 320,
        "page is wider than the screen: {width}"
    );
    session.screenshot("unsubscribe-scripts-on.png").await;
    session.close().await;
    assert_eq!(suppressed(&app).await, 1);

    // Scripts off: the page only shows the question, and the button unsubscribes.
    let link = unsubscribe_link(&app, &base, &app.email("Plain"), &format!("b-{}", app.id)).await;
    let session = driver.session(false, None).await;
    session.open(&link).await;
    session.wait_for_text("Abbestellen</button>").await;
    assert_eq!(
        suppressed(&app).await,
        1,
        "loading the page without scripts unsubscribed"
    );
    session
        .screenshot("unsubscribe-scripts-off-before.png")
        .await;
    session.click("button[type=submit]").await;
    session.wait_for_text("Sie sind abgemeldet").await;
    session
        .screenshot("unsubscribe-scripts-off-after.png")
        .await;
    session.close().await;
    assert_eq!(suppressed(&app).await, 2);
}
