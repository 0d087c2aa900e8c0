//! Shopper email addresses, normalized so that one person maps to one customer key.

use std::fmt;

use unicode_normalization::UnicodeNormalization;

/// Maximum address length accepted, in bytes (the SMTP path limit of RFC 5321).
const MAX_LENGTH: usize = 254;

/// A syntactically valid, normalized email address.
///
/// Normalization trims white space, applies Unicode NFC and lower-cases both parts. It applies no
/// provider-specific rules (such as dropping dots), because two addresses that may reach different
/// people must stay different. The `Debug` output hides the address so it cannot reach a log.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

/// Reason an email address was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InvalidEmail {
    /// The value is empty after trimming.
    #[error("email address is empty")]
    Empty,
    /// The value is longer than 254 bytes.
    #[error("email address is longer than {MAX_LENGTH} bytes")]
    TooLong,
    /// The value lacks a local part, an `@` or a domain, or contains white space or control characters.
    #[error("email address is malformed")]
    Malformed,
}

impl EmailAddress {
    /// Parses and normalizes an address.
    pub fn parse(raw: &str) -> Result<Self, InvalidEmail> {
        let normalized: String = raw.trim().nfc().collect::<String>().to_lowercase();
        if normalized.is_empty() {
            return Err(InvalidEmail::Empty);
        }
        if normalized.len() > MAX_LENGTH {
            return Err(InvalidEmail::TooLong);
        }

        let (local, domain) = normalized.rsplit_once('@').ok_or(InvalidEmail::Malformed)?;
        let bad_char = |c: char| c.is_whitespace() || c.is_control() || c == '<' || c == '>';
        if local.is_empty()
            || domain.is_empty()
            || domain.starts_with('.')
            || domain.ends_with('.')
            || domain.contains("..")
            || normalized.chars().any(bad_char)
            || domain.contains('@')
        {
            return Err(InvalidEmail::Malformed);
        }
        Ok(Self(normalized))
    }

    /// Returns the normalized address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EmailAddress(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn trims_and_lowercases_both_parts() {
        let email = EmailAddress::parse("  Jane.Doe@Example.COM ").unwrap();
        assert_eq!(email.as_str(), "jane.doe@example.com");
    }

    #[test]
    fn keeps_dots_and_plus_tags() {
        let dotted = EmailAddress::parse("j.a.n.e+shop@gmail.com").unwrap();
        let plain = EmailAddress::parse("jane@gmail.com").unwrap();
        assert_ne!(dotted, plain);
        assert_eq!(dotted.as_str(), "j.a.n.e+shop@gmail.com");
    }

    #[test]
    fn composes_to_nfc() {
        let decomposed = EmailAddress::parse("jose\u{301}@example.com").unwrap();
        let composed = EmailAddress::parse("jos\u{e9}@example.com").unwrap();
        assert_eq!(decomposed, composed);
    }

    #[test]
    fn rejects_malformed_addresses() {
        for raw in [
            "",
            "  ",
            "no-at-sign",
            "@example.com",
            "jane@",
            "ja ne@example.com",
            "jane@.com",
            "jane@example..com",
            "<jane@example.com>",
        ] {
            assert!(EmailAddress::parse(raw).is_err(), "accepted {raw:?}");
        }
    }

    #[test]
    fn debug_output_hides_the_address() {
        let email = EmailAddress::parse("secret@example.com").unwrap();
        assert!(!format!("{email:?}").contains("secret"));
    }

    proptest! {
        #[test]
        fn normalization_is_idempotent(local in "[A-Za-z0-9._+-]{1,20}", domain in "[A-Za-z0-9-]{1,20}\\.[A-Za-z]{2,6}") {
            let once = EmailAddress::parse(&format!("{local}@{domain}")).unwrap();
            let twice = EmailAddress::parse(once.as_str()).unwrap();
            prop_assert_eq!(once, twice);
        }

        #[test]
        fn case_and_padding_never_change_identity(local in "[a-z0-9._+-]{1,20}", domain in "[a-z0-9-]{1,20}\\.[a-z]{2,6}") {
            let plain = EmailAddress::parse(&format!("{local}@{domain}")).unwrap();
            let shouted = EmailAddress::parse(&format!(" {}@{} ", local.to_uppercase(), domain.to_uppercase())).unwrap();
            prop_assert_eq!(plain, shouted);
        }
    }
}
