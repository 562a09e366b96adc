//! How a failed response becomes an error: one table, one case per signal GitHub
//! uses (API.md §7 and §8).

use grantscope_connector_github::api::{self, Listing, Operation, PageTask};
use grantscope_connector_sdk::ErrorCode;

use crate::{assert_error, err, ok, response, settings};

const PERMISSION_403: &[u8] = br#"{"message":"Resource not accessible by integration","documentation_url":"https://docs.github.com/rest"}"#;
const PRIMARY_LIMIT: &[u8] = br#"{"message":"API rate limit exceeded for installation ID 123.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"}"#;
const SECONDARY_LIMIT: &[u8] = br#"{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again.","documentation_url":"https://docs.github.com/rest"}"#;
const NOT_FOUND: &[u8] =
    br#"{"message":"Not Found","documentation_url":"https://docs.github.com/rest","status":"404"}"#;
const BAD_CREDENTIALS: &[u8] =
    br#"{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest"}"#;

struct Case {
    name: &'static str,
    listing: Listing,
    status: u16,
    headers: &'static [(&'static str, &'static str)],
    body: &'static [u8],
    code: ErrorCode,
    mentions: &'static [&'static str],
}

/// Runs a listing page through `read_page` and checks the error it gives.
fn check(c: &Case) {
    let page = PageTask {
        url: c.listing.first_url(&settings()),
        page: 1,
    };
    let resp = response(c.status, c.headers, c.body);
    let e = err(api::read_page(&settings(), c.listing, &page, &resp));
    assert_eq!(e.code, c.code, "{}: {}", c.name, e.message);
    assert_error(&e, c.code, c.mentions);
    assert!(
        e.message.contains("octo-org"),
        "{}: names the org: {}",
        c.name,
        e.message
    );
}

#[test]
fn classification_table() {
    let cases = [
        Case {
            name: "401 bad credentials",
            listing: Listing::Installations,
            status: 401,
            headers: &[],
            body: BAD_CREDENTIALS,
            code: ErrorCode::Unauthenticated,
            mentions: &["401", "Bad credentials", "expired"],
        },
        Case {
            name: "403 permission, with GitHub's accepted-permissions header",
            listing: Listing::PatGrants,
            status: 403,
            headers: &[
                ("x-ratelimit-remaining", "4999"),
                (
                    "x-accepted-github-permissions",
                    "organization_personal_access_tokens=read",
                ),
            ],
            body: PERMISSION_403,
            code: ErrorCode::Permission,
            mentions: &[
                "403",
                "Resource not accessible by integration",
                "`organization_personal_access_tokens:read` (github asks for `organization_personal_access_tokens:read`)",
                "GitHub App",
            ],
        },
        Case {
            name: "403 permission, no header: the operation's own permission",
            listing: Listing::Installations,
            status: 403,
            headers: &[("x-ratelimit-remaining", "12")],
            body: PERMISSION_403,
            code: ErrorCode::Permission,
            mentions: &["organization_administration:read", "owner"],
        },
        Case {
            name: "403 primary rate limit (remaining 0)",
            listing: Listing::Installations,
            status: 403,
            headers: &[
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", "1717430400"),
            ],
            body: PRIMARY_LIMIT,
            code: ErrorCode::RateLimited,
            mentions: &["quota spent until 2024-06-03T16:00:00Z"],
        },
        Case {
            name: "403 secondary rate limit (message only)",
            listing: Listing::CredentialAuthorizations,
            status: 403,
            headers: &[("x-ratelimit-remaining", "4000")],
            body: SECONDARY_LIMIT,
            code: ErrorCode::RateLimited,
            mentions: &["secondary rate limit"],
        },
        Case {
            name: "403 with retry-after",
            listing: Listing::PatGrants,
            status: 403,
            headers: &[("Retry-After", "60")],
            body: b"{}",
            code: ErrorCode::RateLimited,
            mentions: &["retry after 60 s"],
        },
        Case {
            name: "429",
            listing: Listing::Installations,
            status: 429,
            headers: &[],
            body: b"",
            code: ErrorCode::RateLimited,
            mentions: &["429"],
        },
        Case {
            name: "404 on installations: hidden or missing",
            listing: Listing::Installations,
            status: 404,
            headers: &[],
            body: NOT_FOUND,
            code: ErrorCode::Permission,
            mentions: &["404", "`org` setting", "organization_administration:read"],
        },
        Case {
            name: "404 on token grants",
            listing: Listing::PatGrants,
            status: 404,
            headers: &[],
            body: NOT_FOUND,
            code: ErrorCode::Permission,
            mentions: &[
                "organization_personal_access_tokens:read",
                "GitHub App credentials",
            ],
        },
        Case {
            name: "500",
            listing: Listing::Installations,
            status: 500,
            headers: &[],
            body: b"oops",
            code: ErrorCode::Provider,
            mentions: &["500", "oops", "try again"],
        },
        Case {
            name: "503",
            listing: Listing::CredentialAuthorizations,
            status: 503,
            headers: &[],
            body: b"",
            code: ErrorCode::Provider,
            mentions: &["503"],
        },
        Case {
            name: "unexpected 422",
            listing: Listing::PatGrants,
            status: 422,
            headers: &[],
            body: br#"{"message":"Validation Failed"}"#,
            code: ErrorCode::Provider,
            mentions: &["unexpected 422", "Validation Failed"],
        },
        Case {
            name: "unexpected 204 on a listing",
            listing: Listing::Installations,
            status: 204,
            headers: &[],
            body: b"",
            code: ErrorCode::Provider,
            mentions: &["unexpected 204"],
        },
        Case {
            name: "200 with garbage",
            listing: Listing::CredentialAuthorizations,
            status: 200,
            headers: &[],
            body: b"<!doctype html><title>login</title>",
            code: ErrorCode::Malformed,
            mentions: &["could not parse"],
        },
    ];
    for c in &cases {
        check(c);
    }
}

#[test]
fn credential_authorizations_404_is_not_an_error() {
    let page = PageTask {
        url: Listing::CredentialAuthorizations.first_url(&settings()),
        page: 1,
    };
    let out = ok(api::read_page(
        &settings(),
        Listing::CredentialAuthorizations,
        &page,
        &response(404, &[], NOT_FOUND),
    ));
    assert!(out.grants.is_empty());
    assert!(out.next.is_none());
    assert_eq!(out.warnings.len(), 1);
    assert!(
        out.warnings[0].contains("SAML single sign-on") && out.warnings[0].contains("octo-org"),
        "{}",
        out.warnings[0]
    );
}

#[test]
fn messages_quote_only_a_short_single_line_excerpt() {
    let mut body = b"line one\nline two\r\n".to_vec();
    body.extend(std::iter::repeat_n(b'x', 20_000));
    let e = api::classify(
        &settings(),
        Operation::List(Listing::Installations),
        &response(502, &[], &body),
    );
    assert_error(&e, ErrorCode::Provider, &["line one line two"]);
    assert!(!e.message.contains('\n') && !e.message.contains('\r'));
    assert!(
        e.message.len() < 500,
        "{} bytes: {}",
        e.message.len(),
        e.message
    );
}

#[test]
fn github_message_reads_basic_error() {
    assert_eq!(api::github_message(NOT_FOUND).as_deref(), Some("Not Found"));
    assert_eq!(api::github_message(b"not json"), None);
    assert_eq!(api::github_message(br#"{"documentation_url": "x"}"#), None);
}

#[test]
fn rate_limits_carry_the_wait_github_asks_for() {
    let op = Operation::List(Listing::Installations);
    let secondary = br#"{"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}"#;
    // A secondary limit naming no wait: GitHub's guidance is at least a minute.
    let e = api::classify(&settings(), op, &response(403, &[], secondary));
    assert_eq!(e.code, ErrorCode::RateLimited);
    assert_eq!(e.retry_after_ms, Some(60_000));
    // `retry-after` says how long.
    let e = api::classify(
        &settings(),
        op,
        &response(403, &[("retry-after", "7")], secondary),
    );
    assert_eq!(e.retry_after_ms, Some(7_000));
    // A spent primary quota names its reset, which the host already paces by.
    let e = api::classify(
        &settings(),
        op,
        &response(
            403,
            &[
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", "1767225600"),
            ],
            br#"{"message": "API rate limit exceeded"}"#,
        ),
    );
    assert_eq!(e.code, ErrorCode::RateLimited);
    assert_eq!(e.retry_after_ms, None);
}
