//! GitHub's page-number pagination: `per_page`/`page` and the RFC 5988 `Link` header.

use std::ops::Range;

use crate::http::QueryParams;

/// Default and maximum `per_page`, as documented for every endpoint in scope.
const DEFAULT_PER_PAGE: usize = 30;
const MAX_PER_PAGE: usize = 100;

/// The page a request asked for, normalised the way GitHub does it: a garbage or zero
/// value falls back to the default, an oversized `per_page` is clamped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PageReq {
    pub page: usize,
    pub per_page: usize,
}

impl PageReq {
    pub(crate) fn from_query(q: &QueryParams) -> Self {
        let num = |k: &str| {
            q.get(k)
                .and_then(|v| v.trim().parse::<usize>().ok())
                .filter(|n| *n > 0)
        };
        Self {
            page: num("page").unwrap_or(1),
            per_page: num("per_page").map_or(DEFAULT_PER_PAGE, |n| n.min(MAX_PER_PAGE)),
        }
    }

    /// Index range of this page within `total` items (empty past the end).
    pub(crate) fn window(self, total: usize) -> Range<usize> {
        let start = (self.page - 1).saturating_mul(self.per_page).min(total);
        start..start.saturating_add(self.per_page).min(total)
    }

    fn last(self, total: usize) -> usize {
        total.div_ceil(self.per_page).max(1)
    }
}

/// The `Link` header, or `None` when one page holds everything. Other query parameters
/// (filters) are kept verbatim so following `next` keeps filtering.
pub(crate) fn link_header(
    base: &str,
    path: &str,
    raw_query: &str,
    req: PageReq,
    total: usize,
) -> Option<String> {
    let last = req.last(total);
    if last == 1 && req.page == 1 {
        return None;
    }
    let kept: Vec<&str> = raw_query
        .split('&')
        .filter(|p| {
            let key = p.split('=').next().unwrap_or_default();
            !p.is_empty() && key != "page" && key != "per_page"
        })
        .collect();
    let prefix = if kept.is_empty() {
        String::new()
    } else {
        format!("{}&", kept.join("&"))
    };
    let url = |page: usize| {
        format!(
            "<{base}{path}?{prefix}per_page={}&page={page}>",
            req.per_page
        )
    };
    let mut rels = Vec::new();
    if req.page > 1 {
        rels.push(format!("{}; rel=\"prev\"", url(req.page - 1)));
    }
    if req.page < last {
        rels.push(format!("{}; rel=\"next\"", url(req.page + 1)));
        rels.push(format!("{}; rel=\"last\"", url(last)));
    }
    if req.page > 1 {
        rels.push(format!("{}; rel=\"first\"", url(1)));
    }
    Some(rels.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(q: &str) -> PageReq {
        PageReq::from_query(&QueryParams::parse(q))
    }

    #[test]
    fn parameters_are_normalised() {
        assert_eq!(
            req(""),
            PageReq {
                page: 1,
                per_page: 30
            }
        );
        assert_eq!(
            req("per_page=1000&page=3"),
            PageReq {
                page: 3,
                per_page: 100
            }
        );
        assert_eq!(
            req("per_page=abc&page=0"),
            PageReq {
                page: 1,
                per_page: 30
            }
        );
        assert_eq!(
            req("page=99999999999999999999"),
            PageReq {
                page: 1,
                per_page: 30
            }
        );
        assert_eq!(req("page=3&per_page=10").window(25), 20..25);
        assert_eq!(req("page=4&per_page=10").window(25), 25..25);
        assert_eq!(
            PageReq {
                page: usize::MAX,
                per_page: 100
            }
            .window(5),
            5..5
        );
    }

    #[test]
    fn links_keep_filters_and_name_every_relation() {
        let r = req("login=a%20b&per_page=10&page=2");
        let link = link_header("http://h:1", "/x", "login=a%20b&per_page=10&page=2", r, 35)
            .expect("several pages");
        assert_eq!(
            link,
            "<http://h:1/x?login=a%20b&per_page=10&page=1>; rel=\"prev\", \
             <http://h:1/x?login=a%20b&per_page=10&page=3>; rel=\"next\", \
             <http://h:1/x?login=a%20b&per_page=10&page=4>; rel=\"last\", \
             <http://h:1/x?login=a%20b&per_page=10&page=1>; rel=\"first\""
        );
        assert_eq!(link_header("http://h", "/x", "", req(""), 30), None);
        let first = link_header("http://h", "/x", "", req(""), 31).expect("two pages");
        assert_eq!(
            first,
            "<http://h/x?per_page=30&page=2>; rel=\"next\", <http://h/x?per_page=30&page=2>; rel=\"last\""
        );
    }
}
