//! Sending through SES v2 with the configuration set and message tags.

use std::sync::Arc;

use aws_sdk_sesv2::error::SdkError;
use aws_sdk_sesv2::operation::send_email::SendEmailError;
use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{Destination, EmailContent, MessageTag, RawMessage};

use crate::config::Config;

/// Failure of a send, classified by what the caller should do about it.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// SES throttled the request; retry later.
    #[error("SES throttled the send")]
    Throttled(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The account cannot send now (sending paused, account suspended); stop this run.
    #[error("SES sending is paused for the account: {0}")]
    Paused(String),
    /// SES rejected this message for good (for example an unverified sender); do not retry it.
    #[error("SES rejected the message: {0}")]
    Rejected(String),
    /// A network or service failure; retry later.
    #[error("SES send failed")]
    Transient(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// SES message tags, which SES returns in every event about the message.
#[derive(Clone, Debug)]
pub struct MessageTags<'a> {
    /// Store id.
    pub store: &'a str,
    /// Customer key.
    pub customer: &'a str,
    /// Cart id.
    pub cart: &'a str,
    /// Step of the sequence, 0-based.
    pub step: u32,
}

/// Sends raw MIME messages through SES v2.
#[derive(Clone)]
pub struct Mailer {
    client: aws_sdk_sesv2::Client,
    config: Arc<Config>,
}

impl Mailer {
    /// Wraps an SES v2 client.
    pub fn new(client: aws_sdk_sesv2::Client, config: Arc<Config>) -> Self {
        Self { client, config }
    }

    /// Returns the SES v2 client.
    pub fn client(&self) -> &aws_sdk_sesv2::Client {
        &self.client
    }

    /// Sends one raw message and returns the SES message id.
    pub async fn send_raw(
        &self,
        from: &str,
        to: &str,
        mime: Vec<u8>,
        tags: &MessageTags<'_>,
    ) -> Result<String, SendError> {
        let raw = RawMessage::builder()
            .data(Blob::new(mime))
            .build()
            .map_err(|e| SendError::Rejected(e.to_string()))?;
        let tag = |name: &str, value: &str| {
            MessageTag::builder()
                .name(name)
                .value(value)
                .build()
                .map_err(|e| SendError::Rejected(e.to_string()))
        };

        let output = self
            .client
            .send_email()
            .from_email_address(from)
            .destination(Destination::builder().to_addresses(to).build())
            .content(EmailContent::builder().raw(raw).build())
            .configuration_set_name(&self.config.configuration_set)
            .email_tags(tag("store", tags.store)?)
            .email_tags(tag("customer", tags.customer)?)
            .email_tags(tag("cart", tags.cart)?)
            .email_tags(tag("step", &tags.step.to_string())?)
            .send()
            .await
            .map_err(classify)?;
        output
            .message_id
            .ok_or_else(|| SendError::Transient("SES returned no message id".into()))
    }

    /// Reads the account's maximum send rate (emails per second), unless configuration sets one.
    pub async fn max_send_rate(&self) -> Option<f64> {
        if let Some(rate) = self.config.max_send_rate {
            return Some(rate);
        }
        match self.client.get_account().send().await {
            Ok(account) => account
                .send_quota()
                .map(|quota| quota.max_send_rate())
                .filter(|rate| *rate > 0.0),
            Err(error) => {
                tracing::warn!(error.cause_chain = %crate::telemetry::cause_chain(&error), "failed to read the SES send quota");
                None
            }
        }
    }
}

fn classify<R>(error: SdkError<SendEmailError, R>) -> SendError
where
    R: std::fmt::Debug + Send + Sync + 'static,
{
    // SES error messages can name addresses (the sandbox lists unverified recipients), and
    // these errors reach logs and the stored failure reason, so addresses are masked first.
    let masked =
        |error: &(dyn std::error::Error + 'static)| -> Box<dyn std::error::Error + Send + Sync> {
            mask_addresses(&crate::telemetry::cause_chain(error)).into()
        };
    let Some(service) = error.as_service_error() else {
        return SendError::Transient(masked(&error));
    };
    let message = mask_addresses(service.meta().message().unwrap_or("no message"));
    match service {
        SendEmailError::TooManyRequestsException(_) | SendEmailError::LimitExceededException(_) => {
            SendError::Throttled(masked(&error))
        }
        SendEmailError::AccountSuspendedException(_)
        | SendEmailError::SendingPausedException(_) => SendError::Paused(message),
        SendEmailError::MessageRejected(_)
        | SendEmailError::MailFromDomainNotVerifiedException(_)
        | SendEmailError::BadRequestException(_)
        | SendEmailError::NotFoundException(_) => SendError::Rejected(message),
        _ => SendError::Transient(masked(&error)),
    }
}

/// Replaces every word that contains `@` with `<address>`, so a message can be logged.
pub fn mask_addresses(text: &str) -> String {
    text.split(' ')
        .map(|word| {
            if word.contains('@') {
                "<address>"
            } else {
                word
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_addresses_in_ses_messages() {
        let message = "Email address is not verified. The following identities failed the check: jane@example.com, <bob@example.org>";
        let masked = mask_addresses(message);
        assert!(!masked.contains('@'), "{masked}");
        assert!(masked.starts_with("Email address is not verified."));
    }
}
