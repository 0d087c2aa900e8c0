//! Time source. All stored times are UTC instants in whole seconds since the Unix epoch.

use time::OffsetDateTime;

/// Seconds since the Unix epoch, UTC.
pub type UnixSeconds = i64;

/// Returns the current time in seconds since the Unix epoch.
pub fn now() -> UnixSeconds {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// Formats seconds since the epoch as an RFC 3339 UTC timestamp, for events and reports.
pub fn to_rfc3339(seconds: UnixSeconds) -> String {
    OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| seconds.to_string())
}

/// Parses an RFC 3339 timestamp with any offset (as Shopify sends them) into seconds since the epoch.
pub fn parse_rfc3339(text: &str) -> Option<UnixSeconds> {
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

/// Returns the UTC calendar day of an instant as `YYYY-MM-DD`, the sort key of daily counters.
pub fn utc_day(seconds: UnixSeconds) -> String {
    let date = OffsetDateTime::from_unix_timestamp(seconds)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .date();
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_offsets_to_the_same_instant() {
        let utc = parse_rfc3339("2026-03-29T01:30:00Z").unwrap();
        let berlin = parse_rfc3339("2026-03-29T03:30:00+02:00").unwrap();
        assert_eq!(utc, berlin);
    }

    #[test]
    fn utc_day_formats_with_zero_padding() {
        assert_eq!(utc_day(0), "1970-01-01");
        assert_eq!(utc_day(1_772_323_200), "2026-03-01");
    }
}
