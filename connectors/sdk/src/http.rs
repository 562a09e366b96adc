//! HTTP through the host's egress import.
//!
//! The host owns the network: it checks the destination, attaches the tenant's
//! credential, rate-limits and retries. A connector only builds URLs and reads
//! responses.

use crate::bindings::grantscope::connector::egress;
use crate::bindings::grantscope::connector::types::{EgressError, Method, Request};
use crate::{Error, ErrorCode};

/// A provider response.
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// Lower-case header names.
    pub headers: Vec<(String, String)>,
    /// Raw body bytes.
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of a header (name matched case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// True for 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The `rel="next"` URL of the response's `Link` headers (RFC 8288), if any. Every
    /// `Link` header is read: some providers (Okta) send `self` and `next` as separate
    /// header lines.
    pub fn next_link(&self) -> Option<String> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("link"))
            .find_map(|(_, v)| next_link(v))
    }

    /// A short, secret-free excerpt of the body for error messages.
    pub fn excerpt(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let mut s: String = text.chars().take(200).collect();
        if text.chars().count() > 200 {
            s.push('…');
        }
        s
    }
}

/// `scheme://host[:port]` of an http(s) URL, lower-cased, default port dropped; `None`
/// for other schemes, an empty host, or userinfo (`user@host`), which has no place in
/// an API URL and is a classic way to disguise a destination.
///
/// Connectors compare the origin of every URL a response hands them (a next-page link)
/// with their API's before following it, so a hostile or misconfigured response cannot
/// send them elsewhere (the host's allowlist is the second line of defence).
pub fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => ":443",
        "http" => ":80",
        _ => return None,
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = rest[..end].to_ascii_lowercase();
    let host = authority.strip_suffix(default_port).unwrap_or(&authority);
    let bad = |c: char| c.is_whitespace() || c.is_control() || "@\\%".contains(c);
    if host.is_empty() || host.starts_with(':') || host.chars().any(bad) {
        return None;
    }
    Some(format!("{scheme}://{host}"))
}

/// Sends a request with the given method, headers and optional body.
pub fn send(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<Vec<u8>>,
) -> Result<Response, Error> {
    let req = Request {
        method,
        url: url.to_owned(),
        headers: headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        body,
    };
    match egress::send(&req) {
        Ok(r) => Ok(Response {
            status: r.status,
            headers: r.headers,
            body: r.body,
        }),
        Err(e) => Err(egress_error(url, e)),
    }
}

/// `GET url`.
pub fn get(url: &str, headers: &[(&str, &str)]) -> Result<Response, Error> {
    send(Method::Get, url, headers, None)
}

fn egress_error(url: &str, e: EgressError) -> Error {
    let (code, what) = match e {
        EgressError::Denied(why) => (ErrorCode::Egress, format!("denied: {why}")),
        EgressError::ForbiddenHeader(h) => {
            (ErrorCode::Egress, format!("header `{h}` is not allowed"))
        }
        EgressError::InvalidUrl(why) => (ErrorCode::Egress, format!("invalid url: {why}")),
        EgressError::BudgetExhausted => (
            ErrorCode::Egress,
            "the task's egress call budget is spent".to_owned(),
        ),
        EgressError::TooLarge(cap) => (
            ErrorCode::Egress,
            format!("response larger than the {cap}-byte cap"),
        ),
        EgressError::Timeout => (ErrorCode::Provider, "timed out after retries".to_owned()),
        EgressError::Connection(why) => (ErrorCode::Provider, format!("connection failed: {why}")),
        EgressError::RateLimited => (
            ErrorCode::RateLimited,
            "still rate-limited after retries".to_owned(),
        ),
        EgressError::Credential(why) => (ErrorCode::Unauthenticated, why),
    };
    Error::new(code, format!("request to {url}: {what}"))
}

/// Extracts the `rel="next"` target from an RFC 5988 `Link` header value.
pub fn next_link(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let mut pieces = part.split(';');
        let target = pieces.next()?.trim();
        let is_next = pieces.any(|p| {
            let p = p.trim();
            p.eq_ignore_ascii_case("rel=\"next\"") || p.eq_ignore_ascii_case("rel=next")
        });
        let url = target.strip_prefix('<')?.strip_suffix('>')?;
        is_next.then(|| url.to_owned())
    })
}

/// Percent-encodes a query or path component (RFC 3986 unreserved kept).
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char);
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_normalised_and_disguises_refused() {
        assert_eq!(
            origin("HTTPS://API.GitHub.com:443/orgs?page=2").as_deref(),
            Some("https://api.github.com")
        );
        assert_eq!(
            origin("http://127.0.0.1:8080/okta/api").as_deref(),
            Some("http://127.0.0.1:8080")
        );
        for bad in [
            "ftp://x/",
            "https://",
            "https://user@evil.example/",
            "https://evil.example%2f@api.github.com/",
            "https://:443/",
            "no scheme",
        ] {
            assert_eq!(origin(bad), None, "{bad}");
        }
    }

    #[test]
    fn next_is_found_on_any_link_header_line() {
        let resp = Response {
            status: 200,
            headers: vec![
                (
                    "link".into(),
                    r#"<https://acme.okta.com/api/v1/users?limit=200>; rel="self""#.into(),
                ),
                (
                    "Link".into(),
                    r#"<https://acme.okta.com/api/v1/users?after=00u2&limit=200>; rel="next""#
                        .into(),
                ),
            ],
            body: Vec::new(),
        };
        assert_eq!(
            resp.next_link().as_deref(),
            Some("https://acme.okta.com/api/v1/users?after=00u2&limit=200")
        );
    }

    #[test]
    fn finds_next_among_rels() {
        let h = r#"<https://api.github.com/organizations/1/installations?page=2>; rel="next", <https://api.github.com/organizations/1/installations?page=5>; rel="last""#;
        assert_eq!(
            next_link(h).as_deref(),
            Some("https://api.github.com/organizations/1/installations?page=2")
        );
        assert_eq!(next_link(r#"<https://x/?page=1>; rel="prev""#), None);
        assert_eq!(next_link(""), None);
        assert_eq!(next_link("garbage; rel=\"next\""), None);
    }

    #[test]
    fn encodes_reserved_characters() {
        assert_eq!(encode("a b/c?d=e&f"), "a%20b%2Fc%3Fd%3De%26f");
        assert_eq!(encode("user.name-1_~"), "user.name-1_~");
    }
}
