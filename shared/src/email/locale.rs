//! Email wording in English, German, French and Spanish, and money formatted the way each
//! language writes it.

use crate::domain::{minor_unit_exponent, to_minor_units};

/// A supported email language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Language {
    /// English.
    English,
    /// German.
    German,
    /// French.
    French,
    /// Spanish.
    Spanish,
}

impl Language {
    /// Picks the language of a locale such as `de-DE` or `fr`, or `None` when unsupported.
    pub fn from_locale(locale: &str) -> Option<Self> {
        let primary = locale
            .split(['-', '_'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Self::English),
            "de" => Some(Self::German),
            "fr" => Some(Self::French),
            "es" => Some(Self::Spanish),
            _ => None,
        }
    }

    /// Picks the cart's language, then the store's default, then English.
    pub fn choose(cart_locale: Option<&str>, store_default: &str) -> Self {
        cart_locale
            .and_then(Self::from_locale)
            .or_else(|| Self::from_locale(store_default))
            .unwrap_or(Self::English)
    }

    /// Returns the fixed wording of the email in this language.
    pub fn wording(self) -> &'static Wording {
        match self {
            Self::English => &ENGLISH,
            Self::German => &GERMAN,
            Self::French => &FRENCH,
            Self::Spanish => &SPANISH,
        }
    }
}

/// Fixed wording of the email in one language. `{store}` in a subject is the store's name.
pub struct Wording {
    /// BCP 47 language tag for the HTML `lang` attribute.
    pub lang: &'static str,
    /// Subject of the first email.
    pub first_subject: &'static str,
    /// Subject of later emails.
    pub later_subject: &'static str,
    /// Opening sentence.
    pub intro: &'static str,
    /// Label of the quantity.
    pub quantity: &'static str,
    /// Label of the total.
    pub total: &'static str,
    /// Text of the button to the cart.
    pub button: &'static str,
    /// Reason the shopper gets this email.
    pub footer: &'static str,
    /// Text of the unsubscribe link.
    pub unsubscribe: &'static str,
}

const ENGLISH: Wording = Wording {
    lang: "en",
    first_subject: "You left something in your cart at {store}",
    later_subject: "Your cart at {store} is still waiting",
    intro: "Your cart is still waiting for you. Here is what you picked:",
    quantity: "Quantity",
    total: "Total",
    button: "Return to your cart",
    footer: "You received this email because you started a checkout with this address.",
    unsubscribe: "Unsubscribe from cart reminders",
};

const GERMAN: Wording = Wording {
    lang: "de",
    first_subject: "Sie haben etwas in Ihrem Warenkorb bei {store} gelassen",
    later_subject: "Ihr Warenkorb bei {store} wartet noch auf Sie",
    intro: "Ihr Warenkorb wartet noch auf Sie. Das haben Sie ausgewählt:",
    quantity: "Menge",
    total: "Gesamt",
    button: "Zurück zum Warenkorb",
    footer: "Sie erhalten diese E-Mail, weil Sie mit dieser Adresse einen Bestellvorgang begonnen haben.",
    unsubscribe: "Keine Warenkorb-Erinnerungen mehr erhalten",
};

const FRENCH: Wording = Wording {
    lang: "fr",
    first_subject: "Vous avez oublié quelque chose dans votre panier chez {store}",
    later_subject: "Votre panier chez {store} vous attend toujours",
    intro: "Votre panier vous attend toujours. Voici ce que vous avez choisi :",
    quantity: "Quantité",
    total: "Total",
    button: "Retourner au panier",
    footer: "Vous recevez cet e-mail parce que vous avez commencé une commande avec cette adresse.",
    unsubscribe: "Ne plus recevoir de rappels de panier",
};

const SPANISH: Wording = Wording {
    lang: "es",
    first_subject: "Dejaste algo en tu carrito de {store}",
    later_subject: "Tu carrito de {store} te sigue esperando",
    intro: "Tu carrito te sigue esperando. Esto es lo que elegiste:",
    quantity: "Cantidad",
    total: "Total",
    button: "Volver al carrito",
    footer: "Recibes este correo porque iniciaste una compra con esta dirección.",
    unsubscribe: "Dejar de recibir recordatorios del carrito",
};

/// Formats a decimal amount in `currency` for `language`, with the currency's number of minor
/// digits: `$1,234.50` in English, `1.234,50 €` in German and Spanish, `1 234,50 €` in French.
/// An amount that is not a plain decimal is shown as given, followed by the currency code.
pub fn format_money(amount: &str, currency: &str, language: Language) -> String {
    let Some(minor) = to_minor_units(amount, currency) else {
        return format!("{} {}", amount.trim(), currency);
    };
    let exponent = minor_unit_exponent(currency);
    let scale = 10_i64.pow(exponent);
    let (whole, fraction) = (minor.abs() / scale, minor.abs() % scale);
    let sign = if minor < 0 { "-" } else { "" };

    let (group, decimal) = match language {
        Language::English => (',', '.'),
        Language::German | Language::Spanish => ('.', ','),
        // French groups digits with a narrow no-break space.
        Language::French => ('\u{202f}', ','),
    };
    let mut number = group_digits(whole, group);
    if exponent > 0 {
        number.push(decimal);
        number.push_str(&format!("{fraction:0width$}", width = exponent as usize));
    }

    let symbol = currency_symbol(currency);
    match (language, symbol) {
        (Language::English, Some(symbol)) => format!("{sign}{symbol}{number}"),
        (Language::English, None) => format!("{sign}{currency} {number}"),
        (_, Some(symbol)) => format!("{sign}{number}\u{a0}{symbol}"),
        (_, None) => format!("{sign}{number}\u{a0}{currency}"),
    }
}

fn group_digits(value: i64, separator: char) -> String {
    let digits = value.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            grouped.push(separator);
        }
        grouped.push(digit);
    }
    grouped
}

/// Symbols of currencies whose symbol is unambiguous; others are written by their code.
fn currency_symbol(currency: &str) -> Option<&'static str> {
    match currency {
        "EUR" => Some("€"),
        "USD" => Some("$"),
        "GBP" => Some("£"),
        "JPY" => Some("¥"),
        "INR" => Some("₹"),
        "KRW" => Some("₩"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_by_language_and_minor_units() {
        assert_eq!(
            format_money("1234.5", "USD", Language::English),
            "$1,234.50"
        );
        assert_eq!(
            format_money("1234.5", "EUR", Language::German),
            "1.234,50\u{a0}€"
        );
        assert_eq!(
            format_money("1234.5", "EUR", Language::French),
            "1\u{202f}234,50\u{a0}€"
        );
        assert_eq!(
            format_money("29.9", "EUR", Language::Spanish),
            "29,90\u{a0}€"
        );
        assert_eq!(format_money("1500", "JPY", Language::English), "¥1,500");
        assert_eq!(format_money("2.125", "KWD", Language::English), "KWD 2.125");
        assert_eq!(
            format_money("19.90", "CHF", Language::German),
            "19,90\u{a0}CHF"
        );
        assert_eq!(format_money("n/a", "USD", Language::English), "n/a USD");
    }

    #[test]
    fn chooses_cart_locale_then_store_default() {
        assert_eq!(Language::choose(Some("de-AT"), "en"), Language::German);
        assert_eq!(Language::choose(Some("pt-BR"), "fr"), Language::French);
        assert_eq!(Language::choose(None, "es_MX"), Language::Spanish);
        assert_eq!(Language::choose(Some("ja"), "it"), Language::English);
    }
}
