//! Policy rules (`[[policy]]` in the config) evaluated over the live inventory.
//!
//! A rule selects grants; `grantscope enforce` turns the selection of the rules whose
//! action is `revoke` into one revocation plan (see [`crate::revoke`]) and only runs
//! it with `--execute`. Evaluation is pure: the clock is passed in.

use crate::config::{PolicyCondition, PolicyRule};
use crate::model::GrantRecord;
use crate::vendor::{Registry, Status};

/// One grant a rule selected, and why.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Selected {
    /// The rule's name.
    pub rule: String,
    /// Whether the rule revokes (else it only reports).
    pub revoke: bool,
    /// Why, in a sentence.
    pub reason: String,
    /// The grant.
    pub grant: GrantRecord,
}

/// Evaluates `rules` in order over `grants`; a grant is selected by the first rule
/// that matches it, so it appears once.
pub fn evaluate(
    rules: &[PolicyRule],
    registry: &Registry,
    grants: &[GrantRecord],
    now: time::OffsetDateTime,
) -> Vec<Selected> {
    let today = now.date();
    let mut out = Vec::new();
    for g in grants {
        let vendor = registry.vendor_of(g);
        let hit = rules.iter().find_map(|r| {
            let reason = match &r.when {
                PolicyCondition::VendorOffboarded => vendor
                    .filter(|v| matches!(v.status, Status::Offboarded | Status::Offboarding))
                    .map(|v| format!("vendor {} is {}", v.name, v.status.name())),
                PolicyCondition::ContractEnded => {
                    vendor.filter(|v| v.contract_ended(today)).map(|v| {
                        format!(
                            "vendor {}'s contract ended on {}",
                            v.name,
                            v.contract_end.as_deref().unwrap_or("?")
                        )
                    })
                }
                PolicyCondition::NoOwner => match vendor {
                    None if !is_personal(g) => Some(format!(
                        "app \"{}\" has no vendor in the registry",
                        g.app.name
                    )),
                    Some(v)
                        if v.business_owner
                            .as_deref()
                            .is_none_or(|o| o.trim().is_empty()) =>
                    {
                        Some(format!("vendor {} has no business owner", v.name))
                    }
                    _ => None,
                },
                PolicyCondition::UnusedDays(days) => unused_for(g, now)
                    .filter(|d| d >= &i64::from(*days))
                    .map(|d| match &g.last_used_at {
                        Some(_) => format!("last used {d} days ago (limit {days})"),
                        None => format!("no recorded use; created {d} days ago (limit {days})"),
                    }),
            };
            reason.map(|reason| Selected {
                rule: r.name.clone(),
                revoke: r.revoke,
                reason,
                grant: g.clone(),
            })
        });
        out.extend(hit);
    }
    out
}

fn is_personal(g: &GrantRecord) -> bool {
    matches!(
        g.kind,
        crate::model::GrantKind::PersonalToken | crate::model::GrantKind::ApiKey
    ) && g.app.publisher.is_none()
}

/// Whole days since the grant's last use, or since its creation when it has none.
fn unused_for(g: &GrantRecord, now: time::OffsetDateTime) -> Option<i64> {
    let stamp = g.last_used_at.as_deref().or(g.created_at.as_deref())?;
    let at =
        time::OffsetDateTime::parse(stamp, &time::format_description::well_known::Rfc3339).ok()?;
    Some((now - at).whole_days())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(app: &str, last_used: Option<&str>, created: Option<&str>) -> GrantRecord {
        let mut g = crate::test_support::installation("github", app);
        g.created_at = created.map(str::to_owned);
        g.last_used_at = last_used.map(str::to_owned);
        g
    }

    #[test]
    fn first_matching_rule_wins_and_each_condition_selects_what_it_says() {
        let registry = Registry::parse(
            "[[vendor]]\nid='gone'\nname='Gone'\nstatus='offboarded'\nbusiness_owner='a'\n\
             [vendor.apps]\ngithub=['1']\n\
             [[vendor]]\nid='old'\nname='Old'\ncontract_end='2025-01-01'\nbusiness_owner='b'\n\
             [vendor.apps]\ngithub=['2']\n\
             [[vendor]]\nid='orphan'\nname='Orphan'\n[vendor.apps]\ngithub=['3']\n\
             [[vendor]]\nid='fine'\nname='Fine'\nbusiness_owner='c'\n[vendor.apps]\ngithub=['4','5']\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let rule = |name: &str, when| PolicyRule {
            name: name.into(),
            when,
            revoke: name != "report-owners",
        };
        let rules = [
            rule("offboarded", PolicyCondition::VendorOffboarded),
            rule("contract", PolicyCondition::ContractEnded),
            rule("report-owners", PolicyCondition::NoOwner),
            rule("stale", PolicyCondition::UnusedDays(90)),
        ];
        let now = time::macros::datetime!(2025-06-01 0:00 UTC);
        let grants = [
            grant("1", Some("2025-05-30T00:00:00Z"), None),
            grant("2", None, None),
            grant("3", None, None),
            grant("4", Some("2025-01-01T00:00:00Z"), None),
            grant("5", None, Some("2025-05-01T00:00:00Z")),
            grant("6", None, None),
        ];
        let got: Vec<(String, &str)> = evaluate(&rules, &registry, &grants, now)
            .iter()
            .map(|s| {
                (
                    s.grant.app.id.clone(),
                    if s.revoke { "revoke" } else { "report" },
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("1".to_owned(), "revoke"),
                ("2".to_owned(), "revoke"),
                ("3".to_owned(), "report"),
                ("4".to_owned(), "revoke"),
                ("6".to_owned(), "report"),
            ]
        );
    }
}
