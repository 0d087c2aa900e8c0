//! Recovery emails: rendering from compile-time templates, MIME building and sending through
//! SES v2.

mod locale;
mod message;
mod render;
mod send;

pub use locale::{format_money, Language};
pub use message::{build_message, OutgoingEmail, ONE_CLICK_POST};
pub use render::EmailContent;
pub use render::{render, RenderedEmail};
pub use send::{Mailer, MessageTags, SendError};
