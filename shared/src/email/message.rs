//! MIME building: multipart/alternative with text and HTML, and the RFC 8058 one-click headers.

use mail_builder::headers::raw::Raw;
use mail_builder::MessageBuilder;

use super::render::{single_line, RenderedEmail};

/// Value of the List-Unsubscribe-Post header (RFC 8058).
pub const ONE_CLICK_POST: &str = "List-Unsubscribe=One-Click";

/// Everything that goes into one recovery email.
pub struct OutgoingEmail<'a> {
    /// Store name for the From display name.
    pub from_name: &'a str,
    /// Sender address, on a verified SES identity.
    pub from_address: &'a str,
    /// Reply-To address, if any.
    pub reply_to: Option<&'a str>,
    /// Recipient.
    pub to: &'a str,
    /// Subject and bodies.
    pub rendered: &'a RenderedEmail,
    /// HTTPS URL that unsubscribes on POST and shows a page on GET.
    pub unsubscribe_url: &'a str,
}

/// Builds the raw MIME message.
pub fn build_message(email: &OutgoingEmail<'_>) -> Vec<u8> {
    let domain = email
        .from_address
        .rsplit_once('@')
        .map_or("localhost", |(_, domain)| domain);
    let mut builder = MessageBuilder::new()
        .message_id(format!("{}@{domain}", uuid::Uuid::new_v4().simple()))
        .from((single_line(email.from_name), email.from_address.to_owned()))
        .to(email.to.to_owned())
        .subject(email.rendered.subject.clone())
        .header(
            "List-Unsubscribe",
            Raw::new(format!("<{}>", single_line(email.unsubscribe_url))),
        )
        .header("List-Unsubscribe-Post", Raw::new(ONE_CLICK_POST))
        .text_body(email.rendered.text.clone())
        .html_body(email.rendered.html.clone());
    if let Some(reply_to) = email.reply_to {
        builder = builder.reply_to(reply_to.to_owned());
    }
    builder
        .write_to_vec()
        .expect("writing to a Vec cannot fail")
}
