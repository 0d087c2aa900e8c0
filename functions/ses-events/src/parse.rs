//! Lenient parsing of SES events in their EventBridge and SNS forms. Unknown fields are ignored
//! and unknown event types are kept by name, because SES adds both over time.

use serde_json::Value;

use common::clock::{self, UnixSeconds};

/// The kinds of SES event the handler distinguishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SesEventKind {
    /// A bounce; `permanent` for bounceType Permanent, otherwise a soft bounce (Transient or
    /// Undetermined).
    Bounce {
        /// True for a hard bounce.
        permanent: bool,
    },
    /// A spam complaint.
    Complaint,
    /// A complaint withdrawn with feedback type not-spam.
    NotSpam,
    /// The receiving server accepted the message.
    Delivery,
    /// The recipient's client loaded the tracking pixel.
    Open {
        /// The user agent that loaded it.
        user_agent: String,
    },
    /// The recipient followed a link.
    Click {
        /// The user agent that followed it.
        user_agent: String,
        /// The link followed.
        link: String,
    },
    /// Any other type (Send, Reject, DeliveryDelay, RenderingFailure, Subscription, or new ones).
    Other(String),
}

impl SesEventKind {
    /// Returns a short name for logs and metrics.
    pub fn name(&self) -> &str {
        match self {
            Self::Bounce { permanent: true } => "HardBounce",
            Self::Bounce { permanent: false } => "SoftBounce",
            Self::Complaint => "Complaint",
            Self::NotSpam => "NotSpam",
            Self::Delivery => "Delivery",
            Self::Open { .. } => "Open",
            Self::Click { .. } => "Click",
            Self::Other(name) => name,
        }
    }
}

/// One SES event, reduced to what the handler uses. Recipient addresses are used to compute
/// customer keys and are never logged.
#[derive(Debug, Clone)]
pub struct SesEvent {
    /// Event kind.
    pub kind: SesEventKind,
    /// SES message id.
    pub message_id: String,
    /// When the event happened (the sub-event's timestamp, else the mail's).
    pub occurred_at: UnixSeconds,
    /// Identity of this event for dedupe: message id, type, time and, for clicks, the link.
    pub dedupe_id: String,
    /// `store` message tag.
    pub store: Option<String>,
    /// `customer` message tag.
    pub customer: Option<String>,
    /// `cart` message tag.
    pub cart: Option<String>,
    /// `step` message tag.
    pub step: Option<u32>,
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

fn text<'a>(object: &'a Value, pointer: &str) -> Option<&'a str> {
    object.pointer(pointer).and_then(Value::as_str)
}

fn parse_ses_object(object: &Value) -> Result<SesEvent, String> {
    let kind_name = text(object, "/eventType")
        .or_else(|| text(object, "/notificationType"))
        .ok_or("SES event has no eventType")?;
    let mail = object.get("mail").ok_or("SES event has no mail object")?;
    let message_id = text(mail, "/messageId")
        .ok_or("SES event has no mail.messageId")?
        .to_owned();
    let tag = |name: &str| text(mail, &format!("/tags/{name}/0")).map(str::to_owned);
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

    let (kind, recipients, section) = match kind_name {
        "Bounce" => {
            let permanent = text(object, "/bounce/bounceType") == Some("Permanent");
            (
                SesEventKind::Bounce { permanent },
                addresses("/bounce/bouncedRecipients"),
                "bounce",
            )
        }
        "Complaint" => {
            // A feedback type of not-spam withdraws a complaint; it must not suppress.
            if text(object, "/complaint/complaintFeedbackType") == Some("not-spam") {
                (SesEventKind::NotSpam, Vec::new(), "complaint")
            } else {
                (
                    SesEventKind::Complaint,
                    addresses("/complaint/complainedRecipients"),
                    "complaint",
                )
            }
        }
        "Delivery" => (SesEventKind::Delivery, Vec::new(), "delivery"),
        "Open" => {
            let user_agent = text(object, "/open/userAgent").unwrap_or("").to_owned();
            (SesEventKind::Open { user_agent }, Vec::new(), "open")
        }
        "Click" => {
            let user_agent = text(object, "/click/userAgent").unwrap_or("").to_owned();
            let link = text(object, "/click/link").unwrap_or("").to_owned();
            (
                SesEventKind::Click { user_agent, link },
                Vec::new(),
                "click",
            )
        }
        other => (SesEventKind::Other(other.to_owned()), Vec::new(), ""),
    };

    let timestamp = text(object, &format!("/{section}/timestamp"))
        .or_else(|| text(mail, "/timestamp"))
        .unwrap_or("");
    let occurred_at = clock::parse_rfc3339(timestamp).unwrap_or_else(clock::now);
    let link = match &kind {
        SesEventKind::Click { link, .. } => link.as_str(),
        _ => "",
    };
    let dedupe_id = format!("ses#{message_id}#{}#{timestamp}#{link}", kind.name());

    Ok(SesEvent {
        kind,
        message_id,
        occurred_at,
        dedupe_id,
        store: tag("store"),
        customer: tag("customer"),
        cart: tag("cart"),
        step: tag("step").and_then(|s| s.parse().ok()),
        recipients,
    })
}
