//! The local SES outbox: raw messages that moto accepted, read from its `/moto-api/data.json`.

use anyhow::Context as _;
use serde_json::Value;

/// One message moto accepted.
#[derive(Clone, Debug)]
pub struct SentMessage {
    /// SES message id.
    pub message_id: String,
    /// Envelope recipients.
    pub destinations: Vec<String>,
    /// The raw MIME message as sent.
    pub raw: String,
}

/// Reads every raw message moto holds, oldest first.
pub async fn sent_messages(moto_url: &str) -> anyhow::Result<Vec<SentMessage>> {
    let data: Value = reqwest::get(format!("{moto_url}/moto-api/data.json"))
        .await
        .context("failed to reach moto")?
        .error_for_status()
        .context("moto rejected the data request")?
        .json()
        .await
        .context("moto data is not JSON")?;

    let mut messages = Vec::new();
    collect(&data, &mut messages);
    Ok(messages)
}

/// Walks moto's data dump for objects that look like SES raw messages, since the dump groups
/// them by backend and model name, which differ between moto versions.
fn collect(value: &Value, messages: &mut Vec<SentMessage>) {
    match value {
        Value::Object(map) => {
            if let (Some(Value::String(raw)), Some(Value::String(id))) =
                (map.get("raw_data"), map.get("id"))
            {
                // moto adds the To header's addresses to the envelope list, so drop repeats.
                let mut destinations: Vec<String> = Vec::new();
                let listed = map.get("destinations").and_then(Value::as_array);
                for address in listed.into_iter().flatten().filter_map(Value::as_str) {
                    if !destinations.iter().any(|known| known == address) {
                        destinations.push(address.to_owned());
                    }
                }
                messages.push(SentMessage {
                    message_id: id.clone(),
                    destinations,
                    raw: raw.clone(),
                });
                return;
            }
            map.values().for_each(|v| collect(v, messages));
        }
        Value::Array(list) => list.iter().for_each(|v| collect(v, messages)),
        _ => {}
    }
}

/// Returns the messages sent to `recipient`, matching the envelope address exactly.
pub async fn messages_to(moto_url: &str, recipient: &str) -> anyhow::Result<Vec<SentMessage>> {
    Ok(sent_messages(moto_url)
        .await?
        .into_iter()
        .filter(|m| {
            m.destinations
                .iter()
                .any(|d| d == recipient || d.ends_with(&format!("<{recipient}>")))
        })
        .collect())
}
