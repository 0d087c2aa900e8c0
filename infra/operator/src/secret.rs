//! The deployment secret in Secrets Manager: the hash pepper and the unsubscribe token keys.
//! These commands generate the values and write them, and print only key ids and versions, so no
//! value passes through a shell, its history or a terminal.

use anyhow::{bail, Context as _};
use aws_sdk_secretsmanager::Client;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::secrets::Secrets;
use rand::RngCore;
use serde_json::{json, Value};

/// Random bytes of a generated pepper or token key (256 bits).
const KEY_BYTES: usize = 32;

fn random_base64() -> String {
    let mut bytes = [0u8; KEY_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    STANDARD.encode(bytes)
}

/// Splits a `token_keys` value into `(id, key)` pairs, signing key first.
fn key_pairs(token_keys: &str) -> Vec<(String, String)> {
    token_keys
        .split(',')
        .filter_map(|entry| entry.trim().split_once('='))
        .map(|(id, key)| (id.trim().to_owned(), key.trim().to_owned()))
        .collect()
}

fn join_pairs(pairs: &[(String, String)]) -> String {
    let entries: Vec<String> = pairs
        .iter()
        .map(|(id, key)| format!("{id}={key}"))
        .collect();
    entries.join(",")
}

/// Returns `k` followed by one more than the highest number among ids of that form.
fn next_key_id(pairs: &[(String, String)]) -> String {
    let highest = pairs
        .iter()
        .filter_map(|(id, _)| id.strip_prefix('k')?.parse::<u32>().ok())
        .max()
        .unwrap_or(0);
    format!("k{}", highest + 1)
}

/// Checks the new value as the functions read it, then stores it as the current version.
async fn put(
    client: &Client,
    name: &str,
    pepper: &str,
    pairs: &[(String, String)],
) -> anyhow::Result<Value> {
    let value = json!({ "hash_pepper": pepper, "token_keys": join_pairs(pairs) }).to_string();
    Secrets::from_json(&value).map_err(|reason| anyhow::anyhow!("the new secret {reason}"))?;
    let output = client
        .put_secret_value()
        .secret_id(name)
        .secret_string(value)
        .send()
        .await
        .map_err(|error| {
            anyhow::anyhow!(
                "failed to write secret {name}: {}",
                crate::aws_message(&error)
            )
        })?;
    Ok(summary(name, output.version_id(), pairs))
}

fn summary(name: &str, version: Option<&str>, pairs: &[(String, String)]) -> Value {
    let ids: Vec<&str> = pairs.iter().map(|(id, _)| id.as_str()).collect();
    json!({ "secret": name, "version_id": version, "token_key_ids": ids, "signing_key_id": ids.first() })
}

/// Reads the secret's pepper and token keys.
async fn read(client: &Client, name: &str) -> anyhow::Result<(String, Vec<(String, String)>)> {
    let output = client
        .get_secret_value()
        .secret_id(name)
        .send()
        .await
        .map_err(|error| {
            let hint = match error.as_service_error() {
                Some(service) if service.is_resource_not_found_exception() => {
                    "create it with `cart-admin secret create`, or check --name and the region"
                }
                _ => "check --name, the region and the credentials",
            };
            anyhow::anyhow!(
                "failed to read secret {name}: {}; {hint}",
                crate::aws_message(&error)
            )
        })?;
    let text = output
        .secret_string()
        .with_context(|| format!("secret {name} has no SecretString"))?;
    Secrets::from_json(text).map_err(|reason| anyhow::anyhow!("secret {name} {reason}"))?;
    let json: Value = serde_json::from_str(text)?;
    let pepper = json["hash_pepper"].as_str().unwrap_or_default().to_owned();
    let pairs = key_pairs(json["token_keys"].as_str().unwrap_or_default());
    Ok((pepper, pairs))
}

/// Creates the secret with a new random pepper and one token key, `k1`.
pub async fn create(client: &Client, name: &str) -> anyhow::Result<Value> {
    let pairs = vec![("k1".to_owned(), random_base64())];
    let value =
        json!({ "hash_pepper": random_base64(), "token_keys": join_pairs(&pairs) }).to_string();
    let output = client
        .create_secret()
        .name(name)
        .description("Cart recovery: hash pepper and unsubscribe token keys")
        .secret_string(value)
        .send()
        .await
        .map_err(|error| match error.as_service_error() {
            Some(service) if service.is_resource_exists_exception() => anyhow::anyhow!(
                "secret {name} already exists; its pepper must never change, so it is left as it is"
            ),
            _ => anyhow::anyhow!(
                "failed to create secret {name}: {}",
                crate::aws_message(&error)
            ),
        })?;
    Ok(summary(name, output.version_id(), &pairs))
}

/// Puts a new random token key first, so new emails are signed with it; older keys stay and
/// keep verifying the links already sent.
pub async fn add_token_key(client: &Client, name: &str) -> anyhow::Result<Value> {
    let (pepper, mut pairs) = read(client, name).await?;
    let id = next_key_id(&pairs);
    pairs.insert(0, (id, random_base64()));
    put(client, name, &pepper, &pairs).await
}

/// Removes an old token key. Links signed with it stop working, so the signing key cannot be
/// removed.
pub async fn remove_token_key(client: &Client, name: &str, key_id: &str) -> anyhow::Result<Value> {
    let (pepper, mut pairs) = read(client, name).await?;
    let Some(position) = pairs.iter().position(|(id, _)| id == key_id) else {
        let ids: Vec<&str> = pairs.iter().map(|(id, _)| id.as_str()).collect();
        bail!(
            "secret {name} has no token key {key_id}; its keys are {}",
            ids.join(", ")
        );
    };
    if position == 0 {
        bail!("{key_id} is the signing key; add a new key first with `cart-admin secret add-token-key`");
    }
    pairs.remove(position);
    put(client, name, &pepper, &pairs).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_key_id_follows_the_highest() {
        let pairs = |ids: &[&str]| -> Vec<(String, String)> {
            ids.iter()
                .map(|id| (id.to_string(), String::new()))
                .collect()
        };
        assert_eq!(next_key_id(&pairs(&[])), "k1");
        assert_eq!(next_key_id(&pairs(&["k1"])), "k2");
        assert_eq!(next_key_id(&pairs(&["k2", "k10", "test1"])), "k11");
    }

    #[test]
    fn key_pairs_round_trip() {
        let pairs = key_pairs("k2=AAA=, k1=BBB");
        assert_eq!(
            pairs,
            vec![("k2".into(), "AAA=".into()), ("k1".into(), "BBB".into())]
        );
        assert_eq!(join_pairs(&pairs), "k2=AAA=,k1=BBB");
    }
}
