//! Rendering of the recovery email from askama templates, which compile into the binary and
//! HTML-escape every value in the HTML part.

use askama::Template;

use super::locale::{format_money, Language, Wording};
use crate::domain::LineItem;

/// Most line items listed in an email; the button leads to the full cart.
const MAX_LISTED_ITEMS: usize = 10;

/// The subject and both bodies of one email.
#[derive(Clone, Debug)]
pub struct RenderedEmail {
    /// Subject line.
    pub subject: String,
    /// Plain-text part.
    pub text: String,
    /// HTML part.
    pub html: String,
}

struct ItemView<'a> {
    title: &'a str,
    variant_title: Option<&'a str>,
    quantity: u32,
    price: String,
    image_url: Option<&'a str>,
    product_url: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "recovery.html")]
struct HtmlEmail<'a> {
    text: &'a Wording,
    subject: &'a str,
    store_name: &'a str,
    items: &'a [ItemView<'a>],
    total: &'a str,
    recovery_url: Option<&'a str>,
    unsubscribe_url: &'a str,
}

#[derive(Template)]
#[template(path = "recovery.txt")]
struct TextEmail<'a> {
    text: &'a Wording,
    store_name: &'a str,
    items: &'a [ItemView<'a>],
    total: &'a str,
    recovery_url: Option<&'a str>,
    unsubscribe_url: &'a str,
}

/// The values an email shows.
pub struct EmailContent<'a> {
    /// Store name.
    pub store_name: &'a str,
    /// Line items.
    pub line_items: &'a [LineItem],
    /// Currency code.
    pub currency: &'a str,
    /// Cart total as a decimal string.
    pub total_price: &'a str,
    /// Link back to the cart.
    pub recovery_url: Option<&'a str>,
    /// Unsubscribe page URL.
    pub unsubscribe_url: &'a str,
    /// Language of the email.
    pub language: Language,
    /// Step of the sequence, 0-based; later steps get a different subject.
    pub step: u32,
}

/// Renders the subject, text and HTML of a recovery email.
pub fn render(content: &EmailContent<'_>) -> Result<RenderedEmail, askama::Error> {
    let wording = content.language.wording();
    let items: Vec<ItemView<'_>> = content
        .line_items
        .iter()
        .take(MAX_LISTED_ITEMS)
        .map(|item| ItemView {
            title: &item.title,
            variant_title: item.variant_title.as_deref(),
            quantity: item.quantity,
            price: format_money(&item.price, content.currency, content.language),
            image_url: item.image_url.as_deref().filter(|url| is_web_url(url)),
            product_url: item.product_url.as_deref().filter(|url| is_web_url(url)),
        })
        .collect();
    let total = format_money(content.total_price, content.currency, content.language);
    let recovery_url = content.recovery_url.filter(|url| is_web_url(url));
    let subject_template = if content.step == 0 {
        wording.first_subject
    } else {
        wording.later_subject
    };
    let subject = single_line(&subject_template.replace("{store}", content.store_name));

    let html = HtmlEmail {
        text: wording,
        subject: &subject,
        store_name: content.store_name,
        items: &items,
        total: &total,
        recovery_url,
        unsubscribe_url: content.unsubscribe_url,
    }
    .render()?;
    let text = TextEmail {
        text: wording,
        store_name: content.store_name,
        items: &items,
        total: &total,
        recovery_url,
        unsubscribe_url: content.unsubscribe_url,
    }
    .render()?;
    Ok(RenderedEmail {
        subject,
        text,
        html,
    })
}

/// Accepts only http and https links, so a `javascript:` or `data:` URL never becomes a link.
fn is_web_url(url: &str) -> bool {
    let lower = url.trim_start().to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://")
}

/// Replaces line breaks and control characters with spaces, so no value can add a header line.
pub(crate) fn single_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(title: &str) -> LineItem {
        LineItem {
            title: title.into(),
            variant_title: Some("Blue".into()),
            quantity: 2,
            price: "19.90".into(),
            image_url: Some("javascript:alert(1)".into()),
            product_url: Some("https://shop.example/p/1".into()),
        }
    }

    #[test]
    fn html_part_escapes_cart_values() {
        let items = [item("<img src=x onerror=alert(1)>")];
        let rendered = render(&EmailContent {
            store_name: "Shop & Co",
            line_items: &items,
            currency: "EUR",
            total_price: "39.80",
            recovery_url: Some("https://shop.example/cart"),
            unsubscribe_url: "https://carts.example/unsubscribe?token=abc",
            language: Language::English,
            step: 0,
        })
        .unwrap();

        assert!(!rendered.html.contains("<img src=x"));
        let escaped_title = [
            "&lt;img src=x onerror=alert(1)&gt;",
            "&#60;img src=x onerror=alert(1)&#62;",
        ];
        assert!(
            escaped_title.iter().any(|t| rendered.html.contains(t)),
            "{}",
            rendered.html
        );
        assert!(rendered.html.contains("Shop &amp; Co") || rendered.html.contains("Shop &#38; Co"));
        assert!(
            !rendered.html.contains("javascript:"),
            "unsafe image URL was kept"
        );
        assert!(
            rendered.text.contains("<img src=x onerror=alert(1)>"),
            "text part shows the title as typed"
        );
        assert!(rendered
            .text
            .contains("https://carts.example/unsubscribe?token=abc"));
    }

    #[test]
    fn subject_stays_on_one_line() {
        let rendered = render(&EmailContent {
            store_name: "Evil\r\nBcc: victim@example.com",
            line_items: &[],
            currency: "USD",
            total_price: "0",
            recovery_url: None,
            unsubscribe_url: "https://carts.example/u",
            language: Language::German,
            step: 1,
        })
        .unwrap();
        assert!(!rendered.subject.contains('\n'));
        assert!(!rendered.subject.contains('\r'));
    }
}
