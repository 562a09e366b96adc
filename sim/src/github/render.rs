//! GitHub JSON shapes. Field names, order and types follow the examples in
//! `testdata/providers/github/examples/` (a test compares them key by key).

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256};

use super::model::{
    CredKind, Credential, FineGrained, Installation, Org, Permissions, Repo, Selection,
};
use crate::world::World;

/// GitHub user ids of synthetic people: stable per person, disjoint from org ids.
pub(crate) fn user_id(index: u32) -> u64 {
    1_000_000 + u64::from(index)
}

/// A `simple-user` (also used for org accounts, with `type: Organization`).
fn simple_user(base: &str, login: &str, id: u64, org: bool) -> Value {
    let (node, kind) = if org {
        ("012:Organization", "Organization")
    } else {
        ("04:User", "User")
    };
    let u = format!("{base}/users/{login}");
    json!({
        "login": login,
        "id": id,
        "node_id": STANDARD.encode(format!("{node}{id}")),
        "avatar_url": format!("https://avatars.githubusercontent.com/u/{id}?v=4"),
        "gravatar_id": "",
        "url": u,
        "html_url": format!("https://github.com/{login}"),
        "followers_url": format!("{u}/followers"),
        "following_url": format!("{u}/following{{/other_user}}"),
        "gists_url": format!("{u}/gists{{/gist_id}}"),
        "starred_url": format!("{u}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{u}/subscriptions"),
        "organizations_url": format!("{u}/orgs"),
        "repos_url": format!("{u}/repos"),
        "events_url": format!("{u}/events{{/privacy}}"),
        "received_events_url": format!("{u}/received_events"),
        "type": kind,
        "site_admin": false,
    })
}

/// A person as a `simple-user`.
pub(crate) fn person(base: &str, index: u32) -> Value {
    simple_user(base, &World::login(index), user_id(index), false)
}

fn org_account(base: &str, org: &Org) -> Value {
    simple_user(base, &org.login, org.id, true)
}

/// A permissions map (`{"contents": "read", ...}`).
pub(crate) fn permissions(p: &Permissions) -> Value {
    Value::Object(
        p.iter()
            .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
            .collect(),
    )
}

/// An `installation`. `with_client_id` for `GET /orgs/{org}/installation`, whose example
/// carries `client_id` while the list example does not.
pub(crate) fn installation(
    base: &str,
    org: &Org,
    inst: &Installation,
    with_client_id: bool,
) -> Value {
    let id = inst.id;
    let single_file = format!(".github/{}.yml", inst.app.slug);
    let mut m = Map::new();
    m.insert("id".into(), id.into());
    m.insert("account".into(), org_account(base, org));
    m.insert(
        "repository_selection".into(),
        inst.app.repository_selection.into(),
    );
    m.insert(
        "access_tokens_url".into(),
        format!("{base}/app/installations/{id}/access_tokens").into(),
    );
    m.insert(
        "repositories_url".into(),
        format!("{base}/installation/repositories").into(),
    );
    m.insert(
        "html_url".into(),
        format!(
            "https://github.com/organizations/{}/settings/installations/{id}",
            org.login
        )
        .into(),
    );
    m.insert("app_id".into(), inst.app.app_id.into());
    if with_client_id {
        m.insert("client_id".into(), inst.app.client_id.clone().into());
    }
    m.insert("target_id".into(), org.id.into());
    m.insert("target_type".into(), "Organization".into());
    m.insert("permissions".into(), permissions(&inst.app.permissions));
    m.insert("events".into(), inst.app.events.clone().into());
    m.insert("created_at".into(), inst.created.wire().into());
    m.insert("updated_at".into(), inst.updated.wire().into());
    m.insert("single_file_name".into(), single_file.clone().into());
    m.insert("has_multiple_single_files".into(), false.into());
    m.insert("single_file_paths".into(), vec![single_file].into());
    m.insert("app_slug".into(), inst.app.slug.clone().into());
    let (at, by) = match inst.suspended {
        Some((at, by)) => (at.wire().into(), person(base, by)),
        None => (Value::Null, Value::Null),
    };
    m.insert("suspended_at".into(), at);
    m.insert("suspended_by".into(), by);
    Value::Object(m)
}

/// A `credential-authorization`. SSH keys carry a fingerprint and title but no token
/// suffix, scopes or expiry, exactly like the example.
pub(crate) fn credential(c: &Credential, seed: u64) -> Value {
    let login = World::login(c.user);
    let digest = Sha256::digest(format!("{seed}:{}", c.credential_id));
    let stamp = |s: Option<crate::world::Stamp>| s.map_or(Value::Null, |s| s.wire().into());
    if c.kind == CredKind::Ssh {
        let host =
            ["laptop", "workstation", "build-agent", "macbook"][(c.credential_id % 4) as usize];
        return json!({
            "login": login,
            "credential_id": c.credential_id,
            "credential_type": c.kind.api_name(),
            "credential_authorized_at": c.authorized_at.wire(),
            "credential_accessed_at": stamp(c.accessed_at),
            "authorized_credential_id": c.authorized_credential_id,
            "fingerprint": format!("SHA256:{}", STANDARD_NO_PAD.encode(digest)),
            "authorized_credential_title": format!("{login}@{host}"),
        });
    }
    let hexed = hex::encode(digest);
    json!({
        "login": login,
        "credential_id": c.credential_id,
        "credential_type": c.kind.api_name(),
        "token_last_eight": hexed.get(..8).unwrap_or_default(),
        "credential_authorized_at": c.authorized_at.wire(),
        "credential_accessed_at": stamp(c.accessed_at),
        "authorized_credential_id": c.authorized_credential_id,
        "authorized_credential_expires_at": stamp(c.expires_at),
        "scopes": c.scopes,
    })
}

/// An `organization-programmatic-access-grant` (or `-request` when `g.reason` is set).
pub(crate) fn fine_grained(base: &str, org: &Org, g: &FineGrained, epoch: i64) -> Value {
    let stamp = |s: Option<crate::world::Stamp>| s.map_or(Value::Null, |s| s.wire().into());
    let (collection, at_key) = match g.reason {
        Some(_) => ("personal-access-token-requests", "created_at"),
        None => ("personal-access-tokens", "access_granted_at"),
    };
    let mut m = Map::new();
    m.insert("id".into(), g.id.into());
    if let Some(reason) = g.reason {
        m.insert("reason".into(), reason.map_or(Value::Null, Value::from));
    }
    m.insert("owner".into(), person(base, g.user));
    m.insert("repository_selection".into(), g.selection.api_name().into());
    m.insert(
        "repositories_url".into(),
        format!(
            "{base}/organizations/{}/{collection}/{}/repositories",
            org.id, g.id
        )
        .into(),
    );
    m.insert(
        "permissions".into(),
        json!({ "organization": permissions(&g.org_perms), "repository": permissions(&g.repo_perms) }),
    );
    m.insert(at_key.into(), g.at.wire().into());
    m.insert("token_id".into(), g.token_id.into());
    m.insert("token_name".into(), g.token_name.into());
    m.insert(
        "token_expired".into(),
        g.expires_at.is_some_and(|e| e.unix <= epoch).into(),
    );
    m.insert("token_expires_at".into(), stamp(g.expires_at));
    m.insert("token_last_used_at".into(), stamp(g.last_used_at));
    Value::Object(m)
}

/// The repositories a fine-grained grant reaches.
pub(crate) fn selected_repos<'a>(org: &'a Org, g: &FineGrained) -> Vec<&'a Repo> {
    match &g.selection {
        Selection::All => org.repos.iter().collect(),
        Selection::Subset(ix) => ix.iter().filter_map(|&i| org.repos.get(i)).collect(),
        Selection::None => Vec::new(),
    }
}

/// A full `repository`, as inside an installation access token response: the minimal
/// form minus two fields, plus merge settings, license and counters.
pub(crate) fn repository(base: &str, org: &Org, r: &Repo) -> Value {
    let mut v = minimal_repo(base, org, r);
    if let Some(m) = v.as_object_mut() {
        m.remove("has_discussions");
        m.remove("security_and_analysis");
        let extra = json!({
            "allow_rebase_merge": true,
            "template_repository": null,
            "temp_clone_token": "",
            "allow_squash_merge": true,
            "allow_auto_merge": false,
            "delete_branch_on_merge": true,
            "allow_merge_commit": true,
            "subscribers_count": r.id % 40,
            "network_count": 0,
            "license": {
                "key": "mit",
                "name": "MIT License",
                "url": format!("{base}/licenses/mit"),
                "spdx_id": "MIT",
                "node_id": "MDc6TGljZW5zZW1pdA==",
                "html_url": "https://github.com/licenses/mit",
            },
            "forks": r.id % 7,
            "open_issues": r.id % 23,
            "watchers": r.id % 40,
        });
        if let Value::Object(extra) = extra {
            m.extend(extra);
        }
    }
    v
}

/// A `minimal-repository`.
pub(crate) fn minimal_repo(base: &str, org: &Org, r: &Repo) -> Value {
    let full = format!("{}/{}", org.login, r.name);
    let u = format!("{base}/repos/{full}");
    let languages = ["Rust", "TypeScript", "Go", "Python", "Kotlin"];
    let language = languages[(r.id % languages.len() as u64) as usize];
    let status = |on: bool| json!({ "status": if on { "enabled" } else { "disabled" } });
    json!({
        "id": r.id,
        "node_id": STANDARD.encode(format!("010:Repository{}", r.id)),
        "name": r.name,
        "full_name": full,
        "owner": org_account(base, org),
        "private": r.private,
        "html_url": format!("https://github.com/{full}"),
        "description": format!("{} for {}", r.name, org.login),
        "fork": false,
        "url": u,
        "archive_url": format!("{u}/{{archive_format}}{{/ref}}"),
        "assignees_url": format!("{u}/assignees{{/user}}"),
        "blobs_url": format!("{u}/git/blobs{{/sha}}"),
        "branches_url": format!("{u}/branches{{/branch}}"),
        "collaborators_url": format!("{u}/collaborators{{/collaborator}}"),
        "comments_url": format!("{u}/comments{{/number}}"),
        "commits_url": format!("{u}/commits{{/sha}}"),
        "compare_url": format!("{u}/compare/{{base}}...{{head}}"),
        "contents_url": format!("{u}/contents/{{+path}}"),
        "contributors_url": format!("{u}/contributors"),
        "deployments_url": format!("{u}/deployments"),
        "downloads_url": format!("{u}/downloads"),
        "events_url": format!("{u}/events"),
        "forks_url": format!("{u}/forks"),
        "git_commits_url": format!("{u}/git/commits{{/sha}}"),
        "git_refs_url": format!("{u}/git/refs{{/sha}}"),
        "git_tags_url": format!("{u}/git/tags{{/sha}}"),
        "git_url": format!("git://github.com/{full}.git"),
        "issue_comment_url": format!("{u}/issues/comments{{/number}}"),
        "issue_events_url": format!("{u}/issues/events{{/number}}"),
        "issues_url": format!("{u}/issues{{/number}}"),
        "keys_url": format!("{u}/keys{{/key_id}}"),
        "labels_url": format!("{u}/labels{{/name}}"),
        "languages_url": format!("{u}/languages"),
        "merges_url": format!("{u}/merges"),
        "milestones_url": format!("{u}/milestones{{/number}}"),
        "notifications_url": format!("{u}/notifications{{?since,all,participating}}"),
        "pulls_url": format!("{u}/pulls{{/number}}"),
        "releases_url": format!("{u}/releases{{/id}}"),
        "ssh_url": format!("git@github.com:{full}.git"),
        "stargazers_url": format!("{u}/stargazers"),
        "statuses_url": format!("{u}/statuses/{{sha}}"),
        "subscribers_url": format!("{u}/subscribers"),
        "subscription_url": format!("{u}/subscription"),
        "tags_url": format!("{u}/tags"),
        "teams_url": format!("{u}/teams"),
        "trees_url": format!("{u}/git/trees{{/sha}}"),
        "clone_url": format!("https://github.com/{full}.git"),
        "mirror_url": null,
        "hooks_url": format!("{u}/hooks"),
        "svn_url": format!("https://github.com/{full}"),
        "homepage": null,
        "language": language,
        "forks_count": r.id % 7,
        "stargazers_count": r.id % 40,
        "watchers_count": r.id % 40,
        "size": r.id % 5000,
        "default_branch": "main",
        "open_issues_count": r.id % 23,
        "is_template": false,
        "topics": [],
        "has_issues": true,
        "has_projects": true,
        "has_wiki": false,
        "has_pages": false,
        "has_downloads": true,
        "has_discussions": false,
        "archived": false,
        "disabled": false,
        "visibility": if r.private { "private" } else { "internal" },
        "pushed_at": r.pushed.wire(),
        "created_at": r.created.wire(),
        "updated_at": r.pushed.wire(),
        "permissions": { "admin": false, "push": false, "pull": true },
        "security_and_analysis": {
            "advanced_security": status(r.private),
            "secret_scanning": status(true),
            "secret_scanning_push_protection": status(r.private),
            "secret_scanning_validity_checks": status(false),
            "secret_scanning_delegated_alert_dismissal": status(false),
        },
    })
}
