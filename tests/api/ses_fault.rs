//! A loopback HTTP server that responds to SES v2 requests with a chosen error, for the failure
//! cases moto cannot produce (throttling). It records each request body, so tests can also check
//! what the SDK sent (configuration set, message tags).

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::response::IntoResponse;
use serde_json::Value;

pub struct SesFault {
    pub url: String,
    pub requests: Arc<Mutex<Vec<Value>>>,
    server: tokio::task::JoinHandle<()>,
}

#[derive(Clone)]
struct Fault {
    status: u16,
    error_type: &'static str,
    /// Body of a successful response, sent instead of the error when set.
    success_body: Option<Value>,
    requests: Arc<Mutex<Vec<Value>>>,
}

impl SesFault {
    /// Starts a server on 127.0.0.1 that responds to every request with `status` and `error_type`.
    pub async fn start(status: u16, error_type: &'static str) -> Self {
        Self::serve(status, error_type, None).await
    }

    /// Starts a server that responds to every request with 200 and `body`.
    pub async fn answering(body: Value) -> Self {
        Self::serve(200, "", Some(body)).await
    }

    async fn serve(status: u16, error_type: &'static str, success_body: Option<Value>) -> Self {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let fault = Fault {
            status,
            error_type,
            success_body,
            requests: requests.clone(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = axum::Router::new().fallback(answer).with_state(fault);
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            url,
            requests,
            server,
        }
    }

    /// Returns the JSON bodies received so far.
    pub fn bodies(&self) -> Vec<Value> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for SesFault {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn answer(State(fault): State<Fault>, body: Bytes) -> axum::response::Response {
    if let Ok(json) = serde_json::from_slice(&body) {
        fault.requests.lock().unwrap().push(json);
    }
    if let Some(success) = fault.success_body {
        return ([("content-type", "application/json")], success.to_string()).into_response();
    }
    let status = axum::http::StatusCode::from_u16(fault.status).unwrap();
    let payload =
        serde_json::json!({ "__type": fault.error_type, "message": "injected by the test" });
    (
        status,
        [
            ("x-amzn-errortype", fault.error_type),
            ("content-type", "application/json"),
        ],
        payload.to_string(),
    )
        .into_response()
}
