//! Amounts of money as platforms send them (decimal strings) and in a currency's minor units.

/// Returns the number of decimal places of an ISO 4217 currency's minor unit (2 unless listed).
pub fn minor_unit_exponent(currency: &str) -> u32 {
    match currency.to_ascii_uppercase().as_str() {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX"
        | "UYI" | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        "CLF" | "UYW" => 4,
        _ => 2,
    }
}

/// Converts a decimal string such as `"109.60"` into minor units of `currency` (10960 for EUR).
/// Extra decimal places are rounded half away from zero. Returns `None` for anything that is not
/// a plain decimal number or that overflows.
pub fn to_minor_units(amount: &str, currency: &str) -> Option<i64> {
    let exponent = minor_unit_exponent(currency) as usize;
    let amount = amount.trim();
    let (negative, digits) = match amount.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, amount),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |text: &str| text.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty()) || !all_digits(whole) || !all_digits(fraction) {
        return None;
    }

    let mut fraction_digits: String = fraction.chars().take(exponent).collect();
    while fraction_digits.len() < exponent {
        fraction_digits.push('0');
    }
    let round_up = fraction
        .as_bytes()
        .get(exponent)
        .is_some_and(|b| *b >= b'5');

    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let fraction: i64 = if fraction_digits.is_empty() {
        0
    } else {
        fraction_digits.parse().ok()?
    };
    let mut minor = whole
        .checked_mul(10_i64.pow(exponent as u32))?
        .checked_add(fraction)?;
    if round_up {
        minor = minor.checked_add(1)?;
    }
    Some(if negative { -minor } else { minor })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn converts_by_the_currency_exponent() {
        assert_eq!(to_minor_units("109.60", "EUR"), Some(10_960));
        assert_eq!(to_minor_units("109.6", "eur"), Some(10_960));
        assert_eq!(to_minor_units("1500", "JPY"), Some(1_500));
        assert_eq!(to_minor_units("1.5", "JPY"), Some(2));
        assert_eq!(to_minor_units("2.125", "KWD"), Some(2_125));
        assert_eq!(to_minor_units("19.995", "USD"), Some(2_000));
        assert_eq!(to_minor_units(".5", "USD"), Some(50));
    }

    #[test]
    fn rejects_non_numbers() {
        for bad in ["", ".", "1,00", "12abc", "1.2.3", "--1", "1e3"] {
            assert_eq!(to_minor_units(bad, "USD"), None, "{bad:?}");
        }
        assert_eq!(to_minor_units("99999999999999999999", "USD"), None);
    }

    proptest! {
        #[test]
        fn whole_cents_round_trip(cents in 0_i64..1_000_000_000) {
            let text = format!("{}.{:02}", cents / 100, cents % 100);
            prop_assert_eq!(to_minor_units(&text, "USD"), Some(cents));
        }
    }
}
