//! POST bodies: the RFC 8058 one-click body (form-encoded or multipart) and the page's actions.

/// The action a POST body requests.
#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    /// `List-Unsubscribe=One-Click`, from a mail client.
    OneClick,
    /// The page's unsubscribe button or its script.
    Unsubscribe,
    /// The page's opt-back-in button.
    Resubscribe,
    /// Anything else.
    Unknown,
}

/// Parses a POST body by its content type.
pub fn parse(content_type: &str, body: &[u8]) -> Action {
    let fields = if content_type
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
    {
        multipart_fields(content_type, body)
    } else {
        form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    };

    let value = |name: &str| {
        fields
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, v)| v.trim())
    };
    if value("List-Unsubscribe") == Some("One-Click") {
        return Action::OneClick;
    }
    match value("action") {
        Some("unsubscribe") => Action::Unsubscribe,
        Some("resubscribe") => Action::Resubscribe,
        _ => Action::Unknown,
    }
}

/// Reads the text fields of a multipart/form-data body (RFC 7578). Only small bodies reach here.
fn multipart_fields(content_type: &str, body: &[u8]) -> Vec<(String, String)> {
    let Some(boundary) = content_type
        .split(';')
        .map(str::trim)
        .find_map(|param| param.strip_prefix("boundary="))
        .map(|b| b.trim_matches('"'))
        .filter(|b| !b.is_empty())
    else {
        return Vec::new();
    };
    let text = String::from_utf8_lossy(body);
    let delimiter = format!("--{boundary}");

    let mut fields = Vec::new();
    for part in text.split(delimiter.as_str()).skip(1) {
        if part.starts_with("--") {
            break;
        }
        let part = part.trim_start_matches("\r\n");
        let Some((headers, value)) = part.split_once("\r\n\r\n") else {
            continue;
        };
        let name = headers.lines().find_map(|line| {
            let lower = line.to_ascii_lowercase();
            if !lower.starts_with("content-disposition:") {
                return None;
            }
            line.split(';')
                .map(str::trim)
                .find_map(|param| param.strip_prefix("name="))
                .map(|n| n.trim_matches('"').to_owned())
        });
        if let Some(name) = name {
            fields.push((name, value.trim_end_matches("\r\n").to_owned()));
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encoded_one_click() {
        assert_eq!(
            parse(
                "application/x-www-form-urlencoded",
                b"List-Unsubscribe=One-Click"
            ),
            Action::OneClick
        );
        assert_eq!(parse("", b"List-Unsubscribe=One-Click"), Action::OneClick);
    }

    #[test]
    fn multipart_one_click() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--XyZ--\r\n";
        assert_eq!(
            parse("multipart/form-data; boundary=XyZ", body),
            Action::OneClick
        );
        assert_eq!(
            parse("multipart/form-data; boundary=\"XyZ\"", body),
            Action::OneClick
        );
        assert_eq!(parse("multipart/form-data", body), Action::Unknown);
    }

    #[test]
    fn page_actions_and_garbage() {
        assert_eq!(
            parse("application/x-www-form-urlencoded", b"action=unsubscribe"),
            Action::Unsubscribe
        );
        assert_eq!(
            parse("application/x-www-form-urlencoded", b"action=resubscribe"),
            Action::Resubscribe
        );
        assert_eq!(
            parse(
                "application/x-www-form-urlencoded",
                b"List-Unsubscribe=Two-Clicks"
            ),
            Action::Unknown
        );
        assert_eq!(parse("application/json", b"{}"), Action::Unknown);
    }
}
