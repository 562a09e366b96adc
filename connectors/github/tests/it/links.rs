//! Pagination: `Link: <…>; rel="next"` is followed verbatim as a task of the same
//! kind, and only on the API's own scheme and host.

use grantscope_connector_github::api::{self, Listing, MAX_PAGES, PageTask};
use grantscope_connector_sdk::{ErrorCode, Task};

use crate::{assert_error, err, ok, response, settings, settings_for};

const EMPTY_INSTALLATIONS: &[u8] = br#"{"total_count": 0, "installations": []}"#;

fn link(url: &str) -> String {
    format!(
        r#"<{url}>; rel="next", <https://api.github.com/organizations/1/installations?page=9>; rel="last""#
    )
}

/// Feeds an installations page with `Link` header `link` (if any) and returns the
/// next page's URL, or the error.
fn next_of(
    current: &PageTask,
    link: Option<&str>,
) -> Result<Option<PageTask>, grantscope_connector_sdk::Error> {
    let headers: Vec<(&str, &str)> = link.map(|l| ("link", l)).into_iter().collect();
    let page = api::read_page(
        &settings(),
        Listing::Installations,
        current,
        &response(200, &headers, EMPTY_INSTALLATIONS),
    )?;
    Ok(page.next.map(|t: Task| {
        assert_eq!(
            t.kind, "installations",
            "a follow-up keeps its listing's kind"
        );
        match serde_json::from_str::<PageTask>(&t.payload) {
            Ok(p) => p,
            Err(e) => panic!("bad payload {}: {e}", t.payload),
        }
    }))
}

fn first() -> PageTask {
    PageTask {
        url: Listing::Installations.first_url(&settings()),
        page: 1,
    }
}

/// (name, next URL in the Link header, the URL of the follow-up task).
fn check_followed(cases: &[(&str, &str, &str)]) {
    for (name, next, expected) in cases {
        let got = ok(next_of(&first(), Some(&link(next))));
        assert_eq!(
            got,
            Some(PageTask {
                url: (*expected).to_owned(),
                page: 2
            }),
            "{name}"
        );
    }
}

/// (name, next URL in the Link header, words the error must contain).
fn check_refused(cases: &[(&str, &str, &[&str])]) {
    for (name, next, mentions) in cases {
        let e = err(next_of(&first(), Some(&link(next))));
        assert_eq!(e.code, ErrorCode::Malformed, "{name}: {}", e.message);
        assert_error(&e, ErrorCode::Malformed, mentions);
        assert!(e.message.contains("incomplete"), "{name}: {}", e.message);
    }
}

#[test]
fn follows_next_on_the_api_origin() {
    check_followed(&[
        (
            "same host, GitHub's numeric-org form",
            "https://api.github.com/organizations/652551/installations?per_page=100&page=2",
            "https://api.github.com/organizations/652551/installations?per_page=100&page=2",
        ),
        (
            "cursor parameters kept verbatim",
            "https://api.github.com/orgs/octo-org/installations?per_page=100&after=Y3Vyc29y%3D",
            "https://api.github.com/orgs/octo-org/installations?per_page=100&after=Y3Vyc29y%3D",
        ),
        (
            "host in another case and the default port",
            "https://API.GitHub.com:443/orgs/octo-org/installations?page=2",
            "https://API.GitHub.com:443/orgs/octo-org/installations?page=2",
        ),
        (
            "origin-relative reference",
            "/orgs/octo-org/installations?page=2",
            "https://api.github.com/orgs/octo-org/installations?page=2",
        ),
    ]);
}

#[test]
fn refuses_next_off_the_api_origin() {
    check_refused(&[
        (
            "another host",
            "https://evil.example/orgs/octo-org/installations?page=2",
            &["evil.example", "refusing"],
        ),
        (
            "a look-alike host",
            "https://api.github.com.evil.example/x",
            &["refusing"],
        ),
        (
            "userinfo disguising the host",
            "https://api.github.com@evil.example/x",
            &["refusing"],
        ),
        (
            "backslash trick",
            "https://api.github.com\\@evil.example/x",
            &["refusing"],
        ),
        (
            "plain http",
            "http://api.github.com/orgs/octo-org/installations?page=2",
            &["refusing"],
        ),
        (
            "another port",
            "https://api.github.com:8443/x",
            &["refusing"],
        ),
        ("another scheme", "file:///etc/passwd", &["refusing"]),
        ("scheme-relative", "//evil.example/x", &["refusing"]),
        ("relative path", "installations?page=2", &["refusing"]),
    ]);
}

#[test]
fn no_next_means_the_listing_is_done() {
    assert_eq!(ok(next_of(&first(), None)), None);
    assert_eq!(
        ok(next_of(
            &first(),
            Some(r#"<https://api.github.com/x?page=1>; rel="prev""#)
        )),
        None
    );
}

#[test]
fn pagination_that_never_ends_is_caught() {
    let current = first();
    let e = err(next_of(&current, Some(&link(&current.url))));
    assert_error(&e, ErrorCode::Malformed, &["same page"]);

    let last = PageTask {
        url: "https://api.github.com/orgs/octo-org/installations?page=50000".to_owned(),
        page: MAX_PAGES,
    };
    let e = err(next_of(
        &last,
        Some(&link(
            "https://api.github.com/orgs/octo-org/installations?page=50001",
        )),
    ));
    assert_error(&e, ErrorCode::Malformed, &["50000 pages"]);
}

#[test]
fn simulator_origin_is_its_own() {
    let sim = settings_for("octo-org", Some("http://127.0.0.1:8080/"));
    let current = PageTask {
        url: Listing::PatGrants.first_url(&sim),
        page: 1,
    };
    assert_eq!(
        current.url,
        "http://127.0.0.1:8080/orgs/octo-org/personal-access-tokens?per_page=100"
    );
    let read = |next: &str| {
        api::read_page(
            &sim,
            Listing::PatGrants,
            &current,
            &response(200, &[("link", &link(next))], b"[]"),
        )
    };
    assert!(
        ok(read(
            "http://127.0.0.1:8080/orgs/octo-org/personal-access-tokens?page=2"
        ))
        .next
        .is_some()
    );
    assert!(
        err(read(
            "https://api.github.com/orgs/octo-org/personal-access-tokens?page=2"
        ))
        .message
        .contains("refusing")
    );
    assert!(
        err(read("http://127.0.0.1:8081/x"))
            .message
            .contains("refusing")
    );
}

/// Tasks come back from the host's checkpoint store; they are checked again.
#[test]
fn tasks_are_revalidated_before_fetching() {
    let s = settings();
    let task = |kind: &str, payload: &str| Task {
        kind: kind.to_owned(),
        payload: payload.to_owned(),
    };
    let good = r#"{"url":"https://api.github.com/orgs/octo-org/installations?per_page=100&page=3","page":3}"#;
    let (listing, page) = ok(api::decode_task(&s, &task("installations", good)));
    assert_eq!(listing, Listing::Installations);
    assert_eq!(page.page, 3);
    // A payload without a page number is a first page.
    let (_, page) = ok(api::decode_task(
        &s,
        &task(
            "pat-grants",
            r#"{"url":"https://api.github.com/orgs/octo-org/personal-access-tokens"}"#,
        ),
    ));
    assert_eq!(page.page, 1);

    let refused: &[(&str, &str, &str)] = &[
        ("deploy-keys", good, "unknown task kind"),
        ("installations", "not json", "bad payload"),
        (
            "installations",
            r#"{"url":"https://evil.example/x"}"#,
            "points outside",
        ),
        (
            "installations",
            r#"{"url":"/orgs/octo-org/installations"}"#,
            "points outside",
        ),
        (
            "installations",
            r#"{"url":"https://api.github.com/x","page":0}"#,
            "page number 0",
        ),
        (
            "installations",
            r#"{"url":"https://api.github.com/x","extra":1}"#,
            "bad payload",
        ),
    ];
    for (kind, payload, mentions) in refused {
        let e = err(api::decode_task(&s, &task(kind, payload)));
        assert_error(&e, ErrorCode::InvalidInput, &[mentions]);
    }
}
