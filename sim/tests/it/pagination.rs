//! Page-number pagination and the `Link` header.

use std::collections::HashSet;

use serde_json::Value;

use crate::common::JsonResponse as _;
use crate::common::{self, links};

fn ids(items: &[Value], key: &str) -> Vec<u64> {
    items.iter().map(|i| i[key].as_u64().expect("id")).collect()
}

#[tokio::test]
async fn pages_yield_every_item_exactly_once_with_correct_links() {
    let h = common::start(5, 300).await;
    let token = h.token("acme-corp").await;
    let base = h.sim.base_url();

    let all = ids(
        &h.get_all(
            "/orgs/acme-corp/credential-authorizations?per_page=100",
            &token,
        )
        .await,
        "credential_id",
    );
    let n = all.len();
    assert!(n > 100, "enough items for several pages: {n}");
    let small = ids(
        &h.get_all(
            "/orgs/acme-corp/credential-authorizations?per_page=7",
            &token,
        )
        .await,
        "credential_id",
    );
    assert_eq!(small, all, "same items, same order, whatever the page size");
    assert_eq!(
        small.iter().collect::<HashSet<_>>().len(),
        n,
        "no duplicates"
    );

    let last = n.div_ceil(7);
    let r = h
        .get(
            "/orgs/acme-corp/credential-authorizations?per_page=7",
            Some(&token),
        )
        .await;
    let l = links(r.headers());
    let path = "/orgs/acme-corp/credential-authorizations";
    assert_eq!(
        l.get("next"),
        Some(&format!("{base}{path}?per_page=7&page=2"))
    );
    assert_eq!(
        l.get("last"),
        Some(&format!("{base}{path}?per_page=7&page={last}"))
    );
    assert!(!l.contains_key("prev") && !l.contains_key("first"));

    let r = h
        .get(&format!("{path}?per_page=7&page={last}"), Some(&token))
        .await;
    let l = links(r.headers());
    assert!(!l.contains_key("next") && !l.contains_key("last"));
    assert_eq!(
        l.get("prev"),
        Some(&format!("{base}{path}?per_page=7&page={}", last - 1))
    );
    assert_eq!(
        l.get("first"),
        Some(&format!("{base}{path}?per_page=7&page=1"))
    );
    let items: Vec<Value> = r.json().await.expect("page");
    assert_eq!(items.len(), n - 7 * (last - 1));

    // per_page is clamped to 100; a page past the end is empty; garbage means defaults.
    let r: Vec<Value> = h
        .get(&format!("{path}?per_page=1000"), Some(&token))
        .await
        .json()
        .await
        .expect("page");
    assert_eq!(r.len(), 100);
    let r: Vec<Value> = h
        .get(&format!("{path}?page=999"), Some(&token))
        .await
        .json()
        .await
        .expect("page");
    assert!(r.is_empty());
    let r: Vec<Value> = h
        .get(&format!("{path}?per_page=x&page=-1"), Some(&token))
        .await
        .json()
        .await
        .expect("page");
    assert_eq!(r.len(), 30);

    // A filtered walk keeps the filter in every link.
    let creds = h.get_all(&format!("{path}?per_page=100"), &token).await;
    let login = creds
        .iter()
        .map(|c| c["login"].as_str().expect("login"))
        .find(|l| creds.iter().filter(|c| c["login"] == *l).count() >= 2)
        .expect("someone with two credentials");
    let r = h
        .get(&format!("{path}?login={login}&per_page=1"), Some(&token))
        .await;
    let next = links(r.headers()).remove("next").expect("next");
    assert!(next.contains(&format!("login={login}")), "{next}");
    let mine = h
        .get_all(&format!("{path}?login={login}&per_page=1"), &token)
        .await;
    assert_eq!(
        mine.len(),
        creds.iter().filter(|c| c["login"] == login).count()
    );
    assert!(mine.iter().all(|c| c["login"] == login));

    // The installation list pages its object form; total_count stays the full count.
    let insts = h
        .get_all("/orgs/acme-corp/installations?per_page=2", &token)
        .await;
    let r: Value = h
        .get("/orgs/acme-corp/installations?per_page=2", Some(&token))
        .await
        .json()
        .await
        .expect("page");
    assert_eq!(r["total_count"].as_u64(), Some(insts.len() as u64));
    assert_eq!(
        ids(&insts, "id").iter().collect::<HashSet<_>>().len(),
        insts.len()
    );

    // Fine-grained grants: newest first by default, filters by owner and token id.
    let grants = h
        .get_all("/orgs/acme-corp/personal-access-tokens?per_page=5", &token)
        .await;
    let asc = h
        .get_all(
            "/orgs/acme-corp/personal-access-tokens?per_page=5&direction=asc",
            &token,
        )
        .await;
    let mut reversed = ids(&asc, "id");
    reversed.reverse();
    assert_eq!(ids(&grants, "id"), reversed);
    let g = &grants[0];
    let owner = g["owner"]["login"].as_str().expect("owner");
    let by_owner = h
        .get_all(
            &format!("/orgs/acme-corp/personal-access-tokens?owner[]={owner}"),
            &token,
        )
        .await;
    assert!(
        by_owner.iter().any(|x| x["id"] == g["id"])
            && by_owner.iter().all(|x| x["owner"]["login"] == owner)
    );
    let tid = g["token_id"].as_u64().expect("token id");
    for q in [format!("token_id[]={tid}"), format!("token_id={tid}")] {
        let one = h
            .get_all(
                &format!("/orgs/acme-corp/personal-access-tokens?{q}"),
                &token,
            )
            .await;
        assert_eq!(ids(&one, "id"), [g["id"].as_u64().expect("id")], "{q}");
    }
    h.sim.shutdown().await;
}
