//! Lenient parsing of SES events in their EventBridge and SNS forms.

use serde_json::Value;

/// SES event types the handler distinguishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SesEventKind {
    /// A bounce; `permanent` for a hard bounce.
    Bounce {
        /// True for bounceType Permanent.
        permanent: bool,
    },
    /// A spam complaint.
    Complaint,
    /// Any other type (Send, Delivery, Open, Click, Reject, DeliveryDelay, RenderingFailure, …).
    Other(String),
}

/// One SES event, reduced to what the handler uses. Recipient addresses are used to compute
/// customer keys and are never logged.
#[derive(Debug, Clone)]
pub struct SesEvent {
    /// Event kind.
    pub kind: SesEventKind,
    /// SES message id.
    pub message_id: String,
    /// `store` message tag.
    pub store: Option<String>,
    /// `customer` message tag.
    pub customer: Option<String>,
    /// `cart` message tag.
    pub cart: Option<String>,
    /// Bounced or complaining recipients.
    pub recipients: Vec<String>,
}

/// Splits an invocation payload into SES events: one for the EventBridge form, one per record
/// for SNS. Each item is an event or the reason it could not be read.
pub fn parse_invocation(payload: &Value) -> Vec<Result<SesEvent, String>> {
    if let Some(records) = payload.get("Records").and_then(Value::as_array) {
        return records
            .iter()
            .map(|record| {
                let message = record
                    .pointer("/Sns/Message")
                    .and_then(Value::as_str)
                    .ok_or("SNS record has no Sns.Message string")?;
                let notification: Value = serde_json::from_str(message)
                    .map_err(|_| "SNS message is not JSON".to_string())?;
                parse_ses_object(&notification)
            })
            .collect();
    }
    if payload.get("source").and_then(Value::as_str) == Some("aws.ses") {
        return vec![payload
            .get("detail")
            .ok_or_else(|| "EventBridge event has no detail".to_string())
            .and_then(parse_ses_object)];
    }
    vec![Err(
        "payload is neither an EventBridge SES event nor an SNS batch".into(),
    )]
}

fn parse_ses_object(object: &Value) -> Result<SesEvent, String> {
    let kind_name = object
        .get("eventType")
        .or_else(|| object.get("notificationType"))
        .and_then(Value::as_str)
        .ok_or("SES event has no eventType")?;
    let mail = object.get("mail").ok_or("SES event has no mail object")?;
    let message_id = mail
        .get("messageId")
        .and_then(Value::as_str)
        .ok_or("SES event has no mail.messageId")?
        .to_owned();
    let tag = |name: &str| {
        mail.pointer(&format!("/tags/{name}/0"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let addresses = |pointer: &str| -> Vec<String> {
        object
            .pointer(pointer)
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(|r| r.get("emailAddress").and_then(Value::as_str))
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };

    let (kind, recipients) = match kind_name {
        "Bounce" => {
            let bounce_type = object
                .pointer("/bounce/bounceType")
                .and_then(Value::as_str)
                .unwrap_or("");
            (
                SesEventKind::Bounce {
                    permanent: bounce_type == "Permanent",
                },
                addresses("/bounce/bouncedRecipients"),
            )
        }
        "Complaint" => {
            // A feedback type of not-spam withdraws a complaint; it must not suppress.
            let feedback = object
                .pointer("/complaint/complaintFeedbackType")
                .and_then(Value::as_str);
            if feedback == Some("not-spam") {
                (
                    SesEventKind::Other("Complaint(not-spam)".into()),
                    Vec::new(),
                )
            } else {
                (
                    SesEventKind::Complaint,
                    addresses("/complaint/complainedRecipients"),
                )
            }
        }
        other => (SesEventKind::Other(other.to_owned()), Vec::new()),
    };

    Ok(SesEvent {
        kind,
        message_id,
        store: tag("store"),
        customer: tag("customer"),
        cart: tag("cart"),
        recipients,
    })
}
