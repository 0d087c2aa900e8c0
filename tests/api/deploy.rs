//! The deploy guide's SAM commands against moto: `sam deploy` packages the arm64 build, uploads
//! it and creates the change set (without executing it, because moto does not expand the SAM
//! transform), and `sam delete` removes the stack and its uploads.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::support::TestApp;

fn sam() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/sam")
}

/// Runs the SAM CLI in an empty directory (so no samconfig.toml applies) against moto, and
/// returns its exit status and output.
async fn run_sam(args: &[&str]) -> (bool, String) {
    let moto = local_stack::provision::moto_url().unwrap();
    // moto finds the bucket in a template URL only when the host is named localhost.
    let moto = moto.replace("127.0.0.1", "localhost");
    let directory = std::env::temp_dir().join(format!("sam-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&directory).unwrap();
    let output = tokio::process::Command::new(sam())
        .args(args)
        .current_dir(&directory)
        .env("AWS_ENDPOINT_URL", &moto)
        .env("SAM_CLI_TELEMETRY", "0")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(Stdio::null())
        .output()
        .await
        .expect("the SAM CLI runs; infra/test installs it into .venv");
    std::fs::remove_dir_all(&directory).unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// Returns the object keys of a moto S3 bucket.
async fn bucket_keys(bucket: &str) -> Vec<String> {
    let moto = local_stack::provision::moto_url().unwrap();
    let listing = reqwest::get(format!("{moto}/{bucket}?list-type=2"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    listing
        .split("<Key>")
        .skip(1)
        .filter_map(|part| part.split_once("</Key>").map(|(key, _)| key.to_owned()))
        .collect()
}

#[tokio::test]
async fn sam_deploy_and_delete_against_moto() {
    let app = TestApp::new().await;
    let template = std::env::var("ARM64_BUILD_DIR")
        .map(|dir| Path::new(&dir).join("template.yaml"))
        .expect("ARM64_BUILD_DIR is not set; run the tests with infra/test");
    let stack = format!("cart-recovery-{}", app.id);
    let bucket = format!("deploy-{}", app.id);
    let moto = local_stack::provision::moto_url().unwrap();
    let created = reqwest::Client::new()
        .put(format!("{moto}/{bucket}"))
        .send()
        .await
        .unwrap();
    assert!(
        created.status().is_success(),
        "bucket: {}",
        created.status()
    );

    let (success, output) = run_sam(&[
        "deploy",
        "--template-file",
        template.to_str().unwrap(),
        "--stack-name",
        &stack,
        "--s3-bucket",
        &bucket,
        "--capabilities",
        "CAPABILITY_IAM",
        "--no-confirm-changeset",
        "--no-execute-changeset",
        "--region",
        "us-east-1",
        "--parameter-overrides",
        "SenderDomain=mail.example.com",
        "PublicBaseUrl=https://carts.example.com",
        "AlarmEmail=ops@example.com",
        "SecretName=cart-recovery/secrets",
        "LogLevel=info",
        "SequenceDelaysSeconds=3600,86400,259200",
    ])
    .await;
    assert!(success, "sam deploy failed:\n{output}");
    assert!(
        output.contains("Changeset created successfully"),
        "{output}"
    );
    for function in [
        "CartWebhookFunction",
        "RecoverySenderFunction",
        "UnsubscribeFunction",
        "SesEventsFunction",
        "MerchantApiFunction",
    ] {
        assert!(
            output.contains(function),
            "{function} is not in the change set:\n{output}"
        );
    }
    // One zip per function and the packaged template.
    let keys = bucket_keys(&bucket).await;
    assert_eq!(keys.len(), 6, "uploads: {keys:?}");
    assert_eq!(
        keys.iter().filter(|key| key.ends_with(".template")).count(),
        1
    );

    let (success, output) = run_sam(&[
        "delete",
        "--stack-name",
        &stack,
        "--s3-bucket",
        &bucket,
        "--region",
        "us-east-1",
        "--no-prompts",
    ])
    .await;
    assert!(success, "sam delete failed:\n{output}");
    assert!(output.contains("Deleted successfully"), "{output}");
}
