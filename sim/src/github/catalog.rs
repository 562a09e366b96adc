//! Real GitHub permission and scope names the synthetic world draws from.
//!
//! Copied from `testdata/providers/github/scopes.json` (a unit test keeps them in sync), so
//! that connectors and the scorer see names they will meet in production.

/// GitHub App permissions an org installation can hold, with the levels GitHub allows for
/// each. `metadata: read` is not listed: GitHub grants it to every app implicitly.
pub(crate) const APP_PERMISSIONS: &[(&str, &[&str])] = &[
    ("actions", &["read", "write"]),
    ("administration", &["read", "write"]),
    ("checks", &["read", "write"]),
    ("contents", &["read", "write"]),
    ("deployments", &["read", "write"]),
    ("discussions", &["read", "write"]),
    ("environments", &["read", "write"]),
    ("issues", &["read", "write"]),
    ("members", &["read", "write"]),
    ("organization_administration", &["read", "write"]),
    ("organization_events", &["read"]),
    ("organization_hooks", &["read", "write"]),
    ("organization_plan", &["read"]),
    ("organization_projects", &["read", "write", "admin"]),
    ("organization_secrets", &["read", "write"]),
    ("organization_self_hosted_runners", &["read", "write"]),
    ("packages", &["read", "write"]),
    ("pages", &["read", "write"]),
    ("pull_requests", &["read", "write"]),
    ("repository_hooks", &["read", "write"]),
    ("secrets", &["read", "write"]),
    ("security_events", &["read", "write"]),
    ("statuses", &["read", "write"]),
    ("team_discussions", &["read", "write"]),
    ("vulnerability_alerts", &["read", "write"]),
    ("workflows", &["write"]),
];

/// Fine-grained PAT repository permissions.
pub(crate) const PAT_REPOSITORY_PERMISSIONS: &[(&str, &[&str])] = &[
    ("actions", &["read", "write"]),
    ("administration", &["read", "write"]),
    ("checks", &["read", "write"]),
    ("contents", &["read", "write"]),
    ("deployments", &["read", "write"]),
    ("environments", &["read", "write"]),
    ("issues", &["read", "write"]),
    ("pages", &["read", "write"]),
    ("pull_requests", &["read", "write"]),
    ("secrets", &["read", "write"]),
    ("statuses", &["read", "write"]),
    ("workflows", &["write"]),
];

/// Fine-grained PAT organization permissions.
pub(crate) const PAT_ORGANIZATION_PERMISSIONS: &[(&str, &[&str])] = &[
    ("members", &["read", "write"]),
    ("organization_administration", &["read", "write"]),
    ("organization_events", &["read"]),
    ("organization_hooks", &["read", "write"]),
    ("organization_plan", &["read"]),
    ("organization_projects", &["read", "write", "admin"]),
    ("organization_secrets", &["read", "write"]),
    ("organization_self_hosted_runners", &["read", "write"]),
    ("organization_user_blocking", &["read", "write"]),
    ("team_discussions", &["read", "write"]),
];

/// Classic OAuth scopes (the `scopes` of PATs and OAuth app tokens).
pub(crate) const OAUTH_SCOPES: &[&str] = &[
    "repo",
    "repo:status",
    "public_repo",
    "read:org",
    "write:org",
    "admin:org",
    "user",
    "read:user",
    "user:email",
    "workflow",
    "gist",
    "notifications",
    "read:packages",
    "write:packages",
    "delete_repo",
    "admin:repo_hook",
    "admin:org_hook",
    "admin:public_key",
    "read:public_key",
    "read:discussion",
    "project",
    "codespace",
    "security_events",
    "read:audit_log",
    "admin:gpg_key",
];

/// Webhook events apps subscribe to.
pub(crate) const EVENTS: &[&str] = &[
    "check_run",
    "check_suite",
    "deployment",
    "deployment_status",
    "issue_comment",
    "issues",
    "member",
    "organization",
    "pull_request",
    "push",
    "release",
    "repository",
    "security_advisory",
    "status",
    "workflow_run",
];

/// Names for synthetic fine-grained tokens.
pub(crate) const TOKEN_NAMES: &[&str] = &[
    "ci-bot",
    "deploy script",
    "release automation",
    "local dev",
    "terraform",
    "backup job",
    "issue triage",
    "docs sync",
];

/// Reasons members give when requesting fine-grained PAT access.
pub(crate) const REQUEST_REASONS: &[&str] = &[
    "I need to access the GitHub API",
    "Release tooling for the mobile app",
    "Migrating issues from the old tracker",
];

/// Repository name stems for synthetic repositories.
pub(crate) const REPO_STEMS: &[&str] = &[
    "web-app",
    "billing-service",
    "infra",
    "mobile",
    "docs",
    "data-pipeline",
    "auth-gateway",
    "design-system",
    "search",
    "notifications",
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// Every name above is a real GitHub permission/scope at a real level, according to
    /// the reference catalog in `testdata/`. Reads it so drift fails loudly.
    #[test]
    fn catalog_names_exist_in_the_reference_scopes_json() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../testdata/providers/github/scopes.json");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let rows: Vec<serde_json::Value> =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("bad scopes.json: {e}"));
        let mut perms = HashSet::new();
        let mut scopes = HashSet::new();
        for row in &rows {
            let scope = row["scope"].as_str().unwrap_or_default().to_owned();
            let kind = row["kind"].as_str().unwrap_or_default();
            if kind == "oauth_scope" {
                scopes.insert(scope);
            } else {
                let level = row["access"].as_str().unwrap_or_default().to_owned();
                perms.insert((kind.to_owned(), scope, level));
            }
        }
        let has = |name: &str, level: &str| {
            ["app_permission:repository", "app_permission:organization"]
                .iter()
                .any(|k| perms.contains(&((*k).to_owned(), name.to_owned(), level.to_owned())))
        };
        for table in [
            APP_PERMISSIONS,
            PAT_REPOSITORY_PERMISSIONS,
            PAT_ORGANIZATION_PERMISSIONS,
        ] {
            for (name, levels) in table {
                for level in *levels {
                    assert!(has(name, level), "{name}:{level} is not in scopes.json");
                }
            }
        }
        for (name, _) in PAT_REPOSITORY_PERMISSIONS {
            let repo = ("app_permission:repository".to_owned(), (*name).to_owned());
            assert!(
                perms.iter().any(|(k, n, _)| (k, n) == (&repo.0, &repo.1)),
                "{name}"
            );
        }
        for (name, _) in PAT_ORGANIZATION_PERMISSIONS {
            let org = "app_permission:organization".to_owned();
            assert!(
                perms.iter().any(|(k, n, _)| k == &org && n == name),
                "{name}"
            );
        }
        assert!(has("metadata", "read"));
        for s in OAUTH_SCOPES {
            assert!(
                scopes.contains(*s),
                "{s} is not a classic scope in scopes.json"
            );
        }
    }
}
