//! `vendors`, `offboard` and `enforce`: the vendor registry and revocation runs on
//! the command line. Exit codes: 0 done (or a plan printed), 1 something revocable is
//! still there (or findings with `--fail`), 2 error.

use std::io::{BufRead as _, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand};

use super::{Bar, EXIT_FINDINGS, EXIT_OK, Logged, open_existing_store, open_store_read_only};
use crate::config::{Config, Verify};
use crate::model::GrantRecord;
use crate::plural;
use crate::revoke::{Approval, Plan, RunProgress, RunReport};
use crate::scan::Progress;
use crate::store::{ActionRow, ActionState, Store};
use crate::text::{Shown, is_bidi_control};
use crate::vendor::{Registry, Status};

/// `grantscope vendors ...`
#[derive(Debug, Args)]
pub(super) struct VendorsArgs {
    /// Configuration file (for `[vendors] registry` and `[store] path`).
    #[arg(long, value_name = "FILE", global = true)]
    config: Option<PathBuf>,
    /// The vendor registry (overrides `[vendors] registry`).
    #[arg(long, value_name = "FILE", global = true)]
    registry: Option<PathBuf>,
    #[command(subcommand)]
    command: VendorsCommand,
}

#[derive(Debug, Subcommand)]
enum VendorsCommand {
    /// Every vendor with its status, owner and live grants.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// One vendor: its facts, apps and live grants.
    Show {
        /// Vendor id or name.
        vendor: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Create a vendor or change its facts (the registry file is rewritten).
    Set(SetArgs),
    /// Apps with live grants that no vendor claims, with suggested vendors.
    Unmapped {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Governance findings: apps with no vendor, vendors with no owner, grants wider
    /// than allowed, live grants of offboarded vendors or ended contracts.
    Findings {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Exit 1 when there is any finding.
        #[arg(long)]
        fail: bool,
    },
}

#[derive(Debug, Args)]
struct SetArgs {
    /// Vendor id (kebab-case); a new id creates the vendor (then `--name` is needed).
    vendor: String,
    /// Display name.
    #[arg(long)]
    name: Option<String>,
    /// active, review, offboarding or offboarded.
    #[arg(long, value_parser = Status::parse)]
    status: Option<Status>,
    /// Business owner ("" clears it).
    #[arg(long)]
    owner: Option<String>,
    /// Technical steward ("" clears it).
    #[arg(long)]
    steward: Option<String>,
    /// Purpose ("" clears it).
    #[arg(long)]
    purpose: Option<String>,
    /// Contract end, YYYY-MM-DD ("" clears it).
    #[arg(long, value_name = "DATE")]
    contract_end: Option<String>,
    /// Add a web domain (repeatable).
    #[arg(long, value_name = "DOMAIN")]
    domain: Vec<String>,
    /// Add an app: PROVIDER=APP_ID (repeatable), e.g. `github=210466`.
    #[arg(long, value_name = "PROVIDER=APP")]
    app: Vec<String>,
    /// Allow a scope: PROVIDER=SCOPE (repeatable).
    #[arg(long, value_name = "PROVIDER=SCOPE")]
    allow_scope: Vec<String>,
}

/// `grantscope offboard VENDOR ...` and `grantscope enforce ...`.
#[derive(Debug, Args)]
pub(super) struct RunArgs {
    /// Configuration file (tenants, credentials, registry, store).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Revoke, after confirmation (`--yes`, or typed on a terminal).
    #[arg(long)]
    execute: bool,
    /// Confirm without asking.
    #[arg(long)]
    yes: bool,
    /// Continue the interrupted run (with `--execute`: or start one if none is).
    #[arg(long)]
    resume: bool,
    /// Who approves, as recorded with the approval (labelled claimed: the OS account
    /// is recorded too, from the kernel).
    #[arg(long, value_name = "NAME", value_parser = claimed_text)]
    approver: Option<String>,
    /// The change or offboarding ticket this run is for (recorded as claimed).
    #[arg(long, value_name = "ID", value_parser = claimed_text)]
    ticket: Option<String>,
    /// How to verify the run: re-read each revoked target (`probe`), or rescan every
    /// tenant concerned (`rescan`: slower, and also shows grants created since the
    /// plan). Default: `[offboard] verify`, else `probe`.
    #[arg(long, value_name = "HOW", value_parser = parse_verify)]
    verify: Option<Verify>,
    /// Print JSON (the plan, or the run's report).
    #[arg(long)]
    json: bool,
}

fn parse_verify(s: &str) -> std::result::Result<Verify, String> {
    match s {
        "probe" => Ok(Verify::Probe),
        "rescan" => Ok(Verify::Rescan),
        _ => Err(
            "use `probe` (re-read each revoked target) or `rescan` (rescan every tenant)".into(),
        ),
    }
}

/// A value the operator claims (`--approver`, `--ticket`): one line of at most 200
/// printable characters, since it is shown wherever the run is.
fn claimed_text(s: &str) -> std::result::Result<String, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("must not be empty".into());
    }
    if s.chars().count() > 200 {
        return Err("must be at most 200 characters".into());
    }
    if s.chars().any(|c| c.is_control() || is_bidi_control(c)) {
        return Err("must not contain control or bidirectional formatting characters".into());
    }
    Ok(s.to_owned())
}

/// `grantscope offboard`.
#[derive(Debug, Args)]
pub(super) struct OffboardArgs {
    /// Vendor id or name, as in the registry.
    vendor: String,
    #[command(flatten)]
    run: RunArgs,
}

fn load_registry(config: Option<&Config>, explicit: Option<&Path>) -> Result<Registry> {
    let path = explicit
        .map(Path::to_path_buf)
        .or_else(|| config.and_then(|c| c.vendor_registry.clone()))
        .context(
            "no vendor registry: set `[vendors] registry = \"vendors.toml\"` in the config \
             (with --config) or pass --registry FILE",
        )?;
    if !path.exists() && explicit.is_some() {
        // `vendors set` on a new file starts an empty registry.
        let mut r = Registry::default();
        r.path = Some(path);
        return Ok(r);
    }
    Ok(Registry::load(&path)?)
}

/// The store for a run: read-only for a plan (which changes nothing, and so works on a
/// read-only store or medium), writable to execute or resume.
fn open_for(db: Option<PathBuf>, config: &Config, args: &RunArgs) -> Result<(PathBuf, Store)> {
    if args.execute || args.resume {
        open_existing_store(db, Some(config))
    } else {
        open_store_read_only(db, Some(config))
    }
}

/// Live grants with their vendors filled from the registry.
fn mapped_grants(store: &Store, registry: &Registry) -> Result<Vec<GrantRecord>> {
    let mut grants = store.live_grants()?;
    registry.map(&mut grants)?;
    Ok(grants)
}

#[allow(
    clippy::needless_pass_by_value,
    reason = "consumes the parsed command, like the other commands"
)]
pub(super) fn vendors(db: Option<PathBuf>, args: VendorsArgs) -> Result<u8> {
    let config = args.config.as_deref().map(Config::load).transpose()?;
    let mut registry = load_registry(config.as_ref(), args.registry.as_deref())?;
    let grants = || -> Result<Vec<GrantRecord>> {
        let (_, store) = open_store_read_only(db.clone(), config.as_ref())?;
        mapped_grants(&store, &registry)
    };
    let mut out = std::io::stdout().lock();
    match args.command {
        VendorsCommand::List { json } => {
            // The registry is readable before any scan: counts are then unknown.
            let grants = grants().ok();
            let rows: Vec<serde_json::Value> = registry
                .vendors
                .iter()
                .map(|v| {
                    let mine: Vec<&GrantRecord> = grants
                        .iter()
                        .flatten()
                        .filter(|g| g.vendor.as_deref() == Some(v.name.as_str()))
                        .collect();
                    let providers: std::collections::BTreeSet<&str> =
                        mine.iter().map(|g| g.provider.as_str()).collect();
                    serde_json::json!({
                        "id": v.id, "name": v.name, "status": v.status.name(),
                        "business_owner": v.business_owner, "contract_end": v.contract_end,
                        "providers": providers,
                        "live_grants": grants.as_ref().map(|_| mine.len()),
                    })
                })
                .collect();
            if json {
                serde_json::to_writer_pretty(&mut out, &serde_json::json!({ "vendors": rows }))?;
                writeln!(out)?;
            } else {
                writeln!(
                    out,
                    "{:<24} {:<26} {:<12} {:<26} {:>6}  PROVIDERS",
                    "ID", "NAME", "STATUS", "OWNER", "GRANTS"
                )?;
                for r in &rows {
                    let s = |k: &str| r[k].as_str().unwrap_or("-").to_owned();
                    let providers: Vec<&str> = r["providers"]
                        .as_array()
                        .map(|a| a.iter().filter_map(|p| p.as_str()).collect())
                        .unwrap_or_default();
                    writeln!(
                        out,
                        "{:<24} {:<26} {:<12} {:<26} {:>6}  {}",
                        Shown(&clip(&s("id"), 24)),
                        Shown(&clip(&s("name"), 26)),
                        s("status"),
                        Shown(&clip(&s("business_owner"), 26)),
                        r["live_grants"]
                            .as_u64()
                            .map_or("-".into(), |n| n.to_string()),
                        Shown(&providers.join(", "))
                    )?;
                }
                if grants.is_none() {
                    writeln!(
                        out,
                        "\n(no inventory yet: run `grantscope scan` to count grants)"
                    )?;
                }
            }
            Ok(EXIT_OK)
        }
        VendorsCommand::Show { vendor, json } => {
            let v = find_vendor(&registry, &vendor)?.clone();
            let grants = grants().unwrap_or_default();
            let mine: Vec<&GrantRecord> = grants
                .iter()
                .filter(|g| g.vendor.as_deref() == Some(v.name.as_str()))
                .collect();
            if json {
                serde_json::to_writer_pretty(
                    &mut out,
                    &serde_json::json!({ "vendor": v, "grants": mine }),
                )?;
                writeln!(out)?;
            } else {
                writeln!(out, "{} ({})", Shown(&v.name), Shown(&v.id))?;
                let opt = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".into());
                writeln!(out, "  status:            {}", v.status.name())?;
                writeln!(
                    out,
                    "  business owner:    {}",
                    Shown(&opt(&v.business_owner))
                )?;
                writeln!(
                    out,
                    "  technical steward: {}",
                    Shown(&opt(&v.technical_steward))
                )?;
                writeln!(out, "  purpose:           {}", Shown(&opt(&v.purpose)))?;
                writeln!(out, "  contract end:      {}", Shown(&opt(&v.contract_end)))?;
                writeln!(out, "  domains:           {}", Shown(&v.domains.join(", ")))?;
                for (p, apps) in &v.apps {
                    writeln!(out, "  apps in {}: {}", Shown(p), Shown(&apps.join(", ")))?;
                }
                for (p, scopes) in &v.allowed_scopes {
                    writeln!(
                        out,
                        "  allowed in {}: {}",
                        Shown(p),
                        Shown(&scopes.join(", "))
                    )?;
                }
                writeln!(out, "  live grants: {}", mine.len())?;
                for g in mine {
                    writeln!(
                        out,
                        "    {}  {} {}  [{}]",
                        Shown(&g.id),
                        g.principal.kind.name(),
                        Shown(&g.principal.id),
                        Shown(&g.scopes.join(" "))
                    )?;
                }
            }
            Ok(EXIT_OK)
        }
        VendorsCommand::Set(set) => {
            set_vendor(&mut registry, set)?;
            registry.save()?;
            if let Some(p) = &registry.path {
                eprintln!("updated {}", p.display());
            }
            Ok(EXIT_OK)
        }
        VendorsCommand::Unmapped { json } => {
            let unmapped = registry.unmapped(&grants()?);
            if json {
                serde_json::to_writer_pretty(&mut out, &serde_json::json!({ "apps": unmapped }))?;
                writeln!(out)?;
            } else if unmapped.is_empty() {
                writeln!(out, "Every app with a live grant belongs to a vendor.")?;
            } else {
                for u in &unmapped {
                    writeln!(
                        out,
                        "{} {} \"{}\": {} in {}",
                        Shown(&u.provider),
                        Shown(&u.app_id),
                        Shown(&u.app_name),
                        plural(u.grants, "grant", "grants"),
                        Shown(&u.tenants.iter().cloned().collect::<Vec<_>>().join(", "))
                    )?;
                    for s in &u.suggestions {
                        writeln!(out, "    maybe {} — {}", Shown(&s.vendor), Shown(&s.reason))?;
                    }
                }
                writeln!(
                    out,
                    "\n{} unmapped apps. Map one with `grantscope vendors set VENDOR --app PROVIDER=APP_ID`.",
                    unmapped.len()
                )?;
            }
            Ok(EXIT_OK)
        }
        VendorsCommand::Findings { json, fail } => {
            let findings = registry.findings(&grants()?, time::OffsetDateTime::now_utc().date());
            if json {
                serde_json::to_writer_pretty(
                    &mut out,
                    &serde_json::json!({ "findings": findings }),
                )?;
                writeln!(out)?;
            } else {
                for f in &findings {
                    writeln!(
                        out,
                        "{:<18} {}  {}",
                        serde_json::to_value(f.kind)?.as_str().unwrap_or("?"),
                        Shown(&f.grant),
                        Shown(&f.detail)
                    )?;
                }
                writeln!(out, "{}", plural(findings.len(), "finding", "findings"))?;
            }
            Ok(if fail && !findings.is_empty() {
                EXIT_FINDINGS
            } else {
                EXIT_OK
            })
        }
    }
}

fn find_vendor<'a>(registry: &'a Registry, key: &str) -> Result<&'a crate::vendor::Vendor> {
    registry.find(key).with_context(|| {
        let known: Vec<&str> = registry.vendors.iter().map(|v| v.id.as_str()).collect();
        if known.is_empty() {
            format!("no vendor `{key}`: the registry is empty")
        } else {
            format!(
                "no vendor `{key}` in the registry; it has {}",
                known.join(", ")
            )
        }
    })
}

fn set_vendor(registry: &mut Registry, set: SetArgs) -> Result<()> {
    let mut vendors = registry.vendors.clone();
    let index = match vendors.iter().position(|v| v.id == set.vendor) {
        Some(i) => i,
        None => {
            let name = set.name.clone().with_context(|| {
                format!("no vendor `{}` yet: pass --name to create it", set.vendor)
            })?;
            vendors.push(crate::vendor::Vendor {
                id: set.vendor.clone(),
                name,
                domains: Vec::new(),
                business_owner: None,
                technical_steward: None,
                purpose: None,
                status: Status::Active,
                contract_end: None,
                apps: Default::default(),
                allowed_scopes: Default::default(),
            });
            vendors.len() - 1
        }
    };
    let v = &mut vendors[index];
    let clearable = |s: String| (!s.is_empty()).then_some(s);
    if let Some(n) = set.name {
        v.name = n;
    }
    if let Some(s) = set.status {
        v.status = s;
    }
    if let Some(o) = set.owner {
        v.business_owner = clearable(o);
    }
    if let Some(s) = set.steward {
        v.technical_steward = clearable(s);
    }
    if let Some(p) = set.purpose {
        v.purpose = clearable(p);
    }
    if let Some(c) = set.contract_end {
        v.contract_end = clearable(c);
    }
    for d in set.domain {
        if !v.domains.contains(&d) {
            v.domains.push(d);
        }
    }
    let pair = |s: &str, what: &str| -> Result<(String, String)> {
        s.split_once('=')
            .filter(|(p, a)| !p.is_empty() && !a.is_empty())
            .map(|(p, a)| (p.to_owned(), a.to_owned()))
            .with_context(|| format!("`{s}`: write {what} as PROVIDER=VALUE"))
    };
    for a in set.app {
        let (p, id) = pair(&a, "--app")?;
        let list = v.apps.entry(p).or_default();
        if !list.contains(&id) {
            list.push(id);
        }
    }
    for a in set.allow_scope {
        let (p, scope) = pair(&a, "--allow-scope")?;
        let list = v.allowed_scopes.entry(p).or_default();
        if !list.contains(&scope) {
            list.push(scope);
        }
    }
    let path = registry.path.clone();
    *registry = Registry::from_vendors(vendors).map_err(|e| anyhow::anyhow!(e))?;
    registry.path = path;
    Ok(())
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut c: String = s.chars().take(n.saturating_sub(1)).collect();
        c.push('…');
        c
    }
}

pub(super) async fn offboard(db: Option<PathBuf>, args: OffboardArgs) -> Result<u8> {
    let config = Config::load(&args.run.config)?;
    let registry = load_registry(Some(&config), None)?;
    let vendor = find_vendor(&registry, &args.vendor)?.clone();
    let (_, mut store) = open_for(db, &config, &args.run)?;
    let label = format!("vendor:{}", vendor.id);
    let live = mapped_grants(&store, &registry)?;
    let candidates = crate::revoke::unattributed_candidates(&vendor, &live);
    let grants: Vec<GrantRecord> = live
        .into_iter()
        .filter(|g| g.vendor.as_deref() == Some(vendor.name.as_str()))
        .collect();
    let title = format!("Offboard {} ({})", vendor.name, vendor.id);
    let hint = format!(
        "grantscope offboard {} --config {}",
        vendor.id,
        args.run.config.display()
    );
    let report = run(
        &config,
        &mut store,
        &label,
        &title,
        &hint,
        grants,
        candidates,
        &args.run,
        &|store| {
            // As of the verification rescan, which the run recorded.
            Ok(crate::revoke::unattributed_candidates(
                &vendor,
                &mapped_grants(store, &registry)?,
            ))
        },
        &|| {
            // Executing marks the vendor as being offboarded, so scoring and findings see it
            // even if the run is interrupted.
            if matches!(vendor.status, Status::Active | Status::Review) {
                let mut registry = load_registry(Some(&config), None)?;
                set_status(&mut registry, &vendor.id, Status::Offboarding)
            } else {
                Ok(())
            }
        },
    )
    .await?;
    match report {
        None => Ok(EXIT_OK),
        Some(r) if r.complete() => {
            let mut registry = load_registry(Some(&config), None)?;
            set_status(&mut registry, &vendor.id, Status::Offboarded)?;
            eprintln!(
                "{} is now marked offboarded in the registry.",
                Shown(&vendor.name)
            );
            Ok(EXIT_OK)
        }
        Some(_) => Ok(EXIT_FINDINGS),
    }
}

fn set_status(registry: &mut Registry, id: &str, status: Status) -> Result<()> {
    if let Some(v) = registry.vendors.iter_mut().find(|v| v.id == id) {
        v.status = status;
    }
    registry.save()?;
    Ok(())
}

pub(super) async fn enforce(db: Option<PathBuf>, args: RunArgs) -> Result<u8> {
    let config = Config::load(&args.config)?;
    if config.policies.is_empty() {
        bail!(
            "the config has no [[policy]] rules: add one, e.g.\n\n[[policy]]\nname = \"offboarded vendors\"\nwhen = \"vendor-offboarded\"\naction = \"revoke\""
        );
    }
    let registry = load_registry(Some(&config), None)?;
    let (_, mut store) = open_for(db, &config, &args)?;
    let grants = mapped_grants(&store, &registry)?;
    let selected = crate::enforce::evaluate(
        &config.policies,
        &registry,
        &grants,
        time::OffsetDateTime::now_utc(),
    );
    let (revoke, report_only): (Vec<_>, Vec<_>) = selected.into_iter().partition(|s| s.revoke);
    if !args.json {
        let mut err = std::io::stderr().lock();
        for rule in &config.policies {
            let n = revoke
                .iter()
                .chain(&report_only)
                .filter(|s| s.rule == rule.name)
                .count();
            writeln!(
                err,
                "policy \"{}\" ({}): {n} grants",
                Shown(&rule.name),
                if rule.revoke { "revoke" } else { "report" }
            )?;
        }
        for s in &report_only {
            writeln!(
                err,
                "  report  {}  {}",
                Shown(&s.grant.id),
                Shown(&s.reason)
            )?;
        }
    }
    let hint = format!("grantscope enforce --config {}", args.config.display());
    let report = run(
        &config,
        &mut store,
        "enforce",
        "Enforce policies",
        &hint,
        revoke.into_iter().map(|s| s.grant).collect(),
        Vec::new(),
        &args,
        &|_| Ok(Vec::new()),
        &|| Ok(()),
    )
    .await?;
    Ok(match report {
        Some(r) if !r.all_gone() => EXIT_FINDINGS,
        _ => EXIT_OK,
    })
}

/// Plans, and with `--execute` approves, executes and verifies, a run of `grants`;
/// `unattributed` are listed with the plan for review, and `unattributed_after`
/// finds them again once the run is verified. Returns the run's report when
/// anything was executed.
#[allow(clippy::too_many_arguments)]
async fn run(
    config: &Config,
    store: &mut Store,
    label: &str,
    title: &str,
    hint: &str,
    grants: Vec<GrantRecord>,
    unattributed: Vec<GrantRecord>,
    args: &RunArgs,
    unattributed_after: &dyn Fn(&Store) -> Result<Vec<GrantRecord>>,
    before_execute: &dyn Fn() -> Result<()>,
) -> Result<Option<RunReport>> {
    let unfinished = store.unfinished_run(label)?;
    let mut out = std::io::stdout().lock();
    let lease_for = config.offboard.lease;
    let lease = match (unfinished, args.resume, args.execute) {
        (Some(r), true, _) => {
            // The claim refuses while another live process executes the run.
            let lease = store.claim_run(r.id, lease_for, None)?;
            eprintln!(
                "Resuming run {} ({}), approved {} by {}.",
                r.id,
                Shown(label),
                Shown(r.approved_at.as_deref().unwrap_or("?")),
                Shown(r.approved_by.as_deref().unwrap_or("?"))
            );
            lease
        }
        (None, true, false) => {
            bail!("no interrupted run for {label} to resume; run `{hint} --execute` to start one")
        }
        (Some(r), false, true) => match &r.owner {
            Some(o) if o.live => bail!(
                "run {} for {label} is being executed by {o}; wait for it to finish \
                 (a second process would revoke the same grants again)",
                r.id
            ),
            _ => bail!(
                "run {} for {label} was interrupted; continue it with `{hint} --resume` \
                 (a new run could revoke what it already revoked)",
                r.id
            ),
        },
        (unfinished, _, execute) => {
            if let Some(r) = unfinished {
                match &r.owner {
                    Some(o) if o.live => {
                        eprintln!(
                            "note: run {} for {} is being executed by {}",
                            r.id,
                            Shown(label),
                            Shown(&o.to_string())
                        );
                    }
                    _ => eprintln!(
                        "note: run {} for {} was interrupted; `{}` continues it",
                        r.id,
                        Shown(label),
                        Shown(&format!("{hint} --resume"))
                    ),
                }
            }
            let plan = Plan::new(label, title, grants).with_unattributed(unattributed);
            print_plan(&mut out, &plan, args.json, !execute, hint)?;
            if !args.json {
                print_freshness(store, &plan)?;
            }
            // A plan only reads: it is journaled (with its audit entry) when it is
            // executed, not when it is looked at.
            if !execute {
                return Ok(None);
            }
            if plan.actions.is_empty() {
                eprintln!("Nothing to revoke through an API.");
                return Ok(None);
            }
            let run_id = store.create_run(label, &plan.hash(), &plan.actions, &plan.summary())?;
            let how = confirm(&plan, args.yes)?;
            let approval = Approval {
                how,
                approver: args.approver.as_deref(),
                ticket: args.ticket.as_deref(),
            };
            // Approval and claim are one transaction: a process that started at the
            // same moment either sees this run owned and refuses, or owns its own run
            // first and this claim refuses.
            store.claim_run(run_id, lease_for, Some(&approval.record()))?
        }
    };
    before_execute()?;
    let bar: Box<dyn RunProgress> = if std::io::stderr().is_terminal() {
        Box::new(RunBar::new())
    } else {
        Box::new(RunLog)
    };
    // The scan bar appears only when verification starts, after the run's bar is gone.
    let scan_progress: Box<dyn Progress> = if std::io::stderr().is_terminal() {
        Box::new(LazyBar(std::sync::OnceLock::new()))
    } else {
        Box::new(Logged)
    };
    let config = match args.verify {
        Some(how) if how != config.offboard.verify => {
            let mut c = config.clone();
            c.offboard.verify = how;
            std::borrow::Cow::Owned(c)
        }
        _ => std::borrow::Cow::Borrowed(config),
    };
    let report = crate::revoke::execute(
        &config,
        store,
        &lease,
        label,
        bar.as_ref(),
        scan_progress.as_ref(),
    )
    .await?;
    drop(bar);
    drop(scan_progress);
    let mut report = report;
    report.unattributed = unattributed_after(store)?;
    print_report(&mut out, &report, args.json)?;
    Ok(Some(report))
}

/// Says how old the inventory the plan comes from is: a grant created since the last
/// scan is not in the plan (the verification rescan will show it).
fn print_freshness(store: &Store, plan: &Plan) -> Result<()> {
    let tenants = plan.tenants();
    let oldest = store
        .latest_tenant_scans()?
        .into_iter()
        .filter(|(t, _, _, _)| tenants.contains(t))
        .map(|(_, _, finished, _)| finished)
        .min();
    if let Some(at) = oldest {
        eprintln!(
            "(from the inventory as of {at}; run `grantscope scan` first for a fresher view)"
        );
    }
    Ok(())
}

/// Asks for approval; returns how it was given.
fn confirm(plan: &Plan, yes: bool) -> Result<&'static str> {
    if yes {
        return Ok("--yes");
    }
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        bail!(
            "refusing to revoke without confirmation: pass --yes (there is no terminal to ask on)"
        );
    }
    let word = plan.label.rsplit(':').next().unwrap_or(&plan.label);
    eprint!(
        "Revoke {} in {}? Type `{word}` to confirm: ",
        plural(plan.actions.len(), "grant", "grants"),
        plural(plan.tenants().len(), "tenant", "tenants")
    );
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    if line.trim() == word {
        Ok("interactive")
    } else {
        bail!("not confirmed; nothing was revoked")
    }
}

fn print_plan(
    out: &mut impl Write,
    plan: &Plan,
    json: bool,
    plan_only: bool,
    hint: &str,
) -> Result<()> {
    if json {
        let actions: Vec<serde_json::Value> = plan
            .actions
            .iter()
            .map(|(g, t)| {
                serde_json::json!({
                    "grant": g.id, "provider": g.provider, "tenant": g.tenant,
                    "app": {"id": g.app.id, "name": g.app.name},
                    "principal": {"kind": g.principal.kind.name(), "id": g.principal.id},
                    "kind": g.kind.name(), "scopes": g.scopes,
                    "action": t.action, "handle": t.handle, "plugin": g.plugin,
                })
            })
            .collect();
        let manual: Vec<serde_json::Value> = plan
            .manual
            .iter()
            .map(|g| serde_json::json!({ "grant": g.id, "provider": g.provider, "tenant": g.tenant, "notes": g.notes }))
            .collect();
        if plan_only {
            serde_json::to_writer_pretty(
                &mut *out,
                &serde_json::json!({
                    "plan": {
                        "label": plan.label, "title": plan.title, "hash": plan.hash(),
                        "actions": actions, "manual": manual, "followups": plan.followups,
                        "unattributed": unattributed_json(&plan.unattributed),
                    }
                }),
            )?;
            writeln!(out)?;
        }
        return Ok(());
    }
    // A plan that will execute is printed to stderr, leaving stdout to the report.
    let mut err;
    let w: &mut dyn Write = if plan_only {
        out
    } else {
        err = std::io::stderr().lock();
        &mut err
    };
    let providers: std::collections::BTreeSet<&str> = plan
        .actions
        .iter()
        .map(|(g, _)| g.provider.as_str())
        .chain(plan.manual.iter().map(|g| g.provider.as_str()))
        .collect();
    writeln!(
        w,
        "{} — plan{}",
        Shown(&plan.title),
        if plan_only {
            " (nothing has been changed)"
        } else {
            ""
        }
    )?;
    writeln!(
        w,
        "{} in {} across {}: {} to their connectors' revoke (each says what it did, or \
         what a person must do), {} no revocation target.\n",
        plural(
            plan.actions.len() + plan.manual.len(),
            "live grant",
            "live grants"
        ),
        plural(plan.tenants().len(), "tenant", "tenants"),
        plural(providers.len(), "provider", "providers"),
        plural(plan.actions.len(), "goes", "go"),
        plural(plan.manual.len(), "has", "have"),
    )?;
    let mut tenant = "";
    for (g, t) in &plan.actions {
        if g.tenant != tenant {
            tenant = &g.tenant;
            writeln!(w, "  {} / {}", Shown(&g.provider), Shown(&g.tenant))?;
        }
        writeln!(
            w,
            "    revoke  {:<58} {} {:<24} via {}",
            Shown(&g.id),
            g.principal.kind.name(),
            Shown(&clip(&g.principal.id, 24)),
            Shown(&t.action)
        )?;
        if let Some(source) = &g.plugin {
            writeln!(
                w,
                "            reported by third-party plugin {}",
                Shown(&source.to_string())
            )?;
        }
    }
    if !plan.manual.is_empty() {
        writeln!(w, "\n  No API can revoke these:")?;
        for g in &plan.manual {
            writeln!(w, "    {}  {}", Shown(&g.id), Shown(&g.notes.join(" ")))?;
        }
    }
    print_unattributed(w, &plan.unattributed)?;
    let followups: Vec<(&String, &String)> = plan
        .followups
        .iter()
        .flat_map(|(p, steps)| steps.iter().map(move |s| (p, s)))
        .collect();
    if !followups.is_empty() {
        writeln!(w, "\n  By hand, after the API calls:")?;
        for (p, s) in followups {
            writeln!(w, "    {}: {}", Shown(p), Shown(s))?;
        }
    }
    if plan_only {
        writeln!(
            w,
            "\nTo revoke: `{hint} --execute` (plan {}).",
            &plan.hash()[..12]
        )?;
    }
    Ok(())
}

/// Candidates for review, as JSON: what identifies each, and how to review it.
fn unattributed_json(grants: &[GrantRecord]) -> Vec<serde_json::Value> {
    grants
        .iter()
        .map(|g| {
            serde_json::json!({
                "grant": g.id, "provider": g.provider, "tenant": g.tenant,
                "app": {"id": g.app.id, "name": g.app.name},
                "principal": {"kind": g.principal.kind.name(), "id": g.principal.id},
                "kind": g.kind.name(), "scopes": g.scopes,
                "review": crate::revoke::unattributed_review(&g.provider, &g.app.id),
            })
        })
        .collect()
}

/// Lists, per tenant, the live credentials that could be the vendor's but name no app,
/// with how to review each provider's.
fn print_unattributed(w: &mut dyn Write, grants: &[GrantRecord]) -> Result<()> {
    if grants.is_empty() {
        return Ok(());
    }
    writeln!(
        w,
        "\n  Could be the vendor's, but the provider does not say whose ({}; not revoked):",
        plural(grants.len(), "credential", "credentials")
    )?;
    let mut tenant = "";
    let mut reviews: Vec<(&str, &str)> = Vec::new();
    for g in grants {
        if g.tenant != tenant {
            tenant = &g.tenant;
            writeln!(w, "  {} / {}", Shown(&g.provider), Shown(&g.tenant))?;
        }
        writeln!(
            w,
            "    review  {:<58} {} {:<24} {}",
            Shown(&g.id),
            g.principal.kind.name(),
            Shown(&clip(&g.principal.id, 24)),
            Shown(&clip(&g.app.name, 48))
        )?;
        if let Some(how) = crate::revoke::unattributed_review(&g.provider, &g.app.id)
            && !reviews.contains(&(g.provider.as_str(), how))
        {
            reviews.push((g.provider.as_str(), how));
        }
    }
    for (provider, how) in reviews {
        writeln!(w, "  How to review ({}): {how}", Shown(provider))?;
    }
    Ok(())
}

fn print_report(out: &mut impl Write, r: &RunReport, json: bool) -> Result<()> {
    if json {
        serde_json::to_writer_pretty(&mut *out, &serde_json::json!({ "run": r }))?;
        writeln!(out)?;
        return Ok(());
    }
    let n = |m: &std::collections::BTreeMap<String, u64>, k: &str| m.get(k).copied().unwrap_or(0);
    writeln!(
        out,
        "Run {} ({}): {} — {} revoked, {} already gone, {} manual, {} failed, {} unanswered.",
        r.run,
        Shown(&r.label),
        plural(r.actions.len(), "action", "actions"),
        n(&r.states, "done"),
        n(&r.states, "gone"),
        n(&r.states, "manual"),
        n(&r.states, "failed"),
        n(&r.states, "ambiguous") + n(&r.states, "in_flight") + n(&r.states, "pending"),
    )?;
    if let Some(a) = &r.approval {
        writeln!(out, "Approved {}.", Shown(&approval_line(a)))?;
    }
    writeln!(
        out,
        "Verified by {}: {} gone, {} still present, {} unverified.",
        match r.verified_by {
            Verify::Probe => "re-reading each target",
            Verify::Rescan => "rescanning",
        },
        n(&r.verified, "gone"),
        n(&r.verified, "present"),
        n(&r.verified, "unverified")
    )?;
    for a in r
        .actions
        .iter()
        .filter(|a| a.verified.as_deref() != Some("gone") && a.state != ActionState::Manual)
    {
        writeln!(
            out,
            "  {} {}: {}",
            Shown(a.verified.as_deref().unwrap_or("?")),
            Shown(&a.grant.id),
            Shown(a.detail.as_deref().unwrap_or(""))
        )?;
    }
    if !r.unverified_tenants.is_empty() {
        let what = match r.verified_by {
            Verify::Probe => "Some targets could not be re-read in",
            Verify::Rescan => "The rescan was partial in",
        };
        writeln!(
            out,
            "{what} {}; run `grantscope scan` to confirm.",
            Shown(&r.unverified_tenants.join(", "))
        )?;
    }
    if !r.manual_steps.is_empty() {
        writeln!(out, "Still to do by hand:")?;
        for s in &r.manual_steps {
            writeln!(out, "  - {}", Shown(s))?;
        }
    }
    print_unattributed(out, &r.unattributed)?;
    if r.complete() {
        writeln!(out, "Every grant revocable through an API is gone.")?;
    } else if r.all_gone() {
        writeln!(
            out,
            "Not complete: every grant revocable through an API is gone, but {} that could \
             be the vendor's cannot be attributed and {} live; review {} (listed above).",
            plural(r.unattributed.len(), "credential", "credentials"),
            if r.unattributed.len() == 1 {
                "is"
            } else {
                "are"
            },
            if r.unattributed.len() == 1 {
                "it"
            } else {
                "them"
            },
        )?;
    } else {
        writeln!(
            out,
            "Not everything is gone: fix what is listed and run again with --resume, or rescan."
        )?;
    }
    Ok(())
}

/// Who approved, in words: the OS account (verified), then what was claimed.
fn approval_line(a: &serde_json::Value) -> String {
    let os = &a["os_user"];
    let mut line = match os["name"].as_str() {
        Some(name) => format!("by OS account {name} (uid {}, verified)", os["uid"]),
        None => format!("by OS uid {} (no account name, verified)", os["uid"]),
    };
    if let Some(how) = a["how"].as_str() {
        line.push_str(&format!(" with {how}"));
    }
    if let Some(name) = a["approver"]["name"].as_str() {
        line.push_str(&format!("; approver {name} (claimed)"));
    }
    if let Some(id) = a["ticket"]["id"].as_str() {
        line.push_str(&format!("; ticket {id} (claimed)"));
    }
    line
}

/// A progress bar over a run's actions.
struct RunBar {
    bar: indicatif::ProgressBar,
    counts: Mutex<(u64, u64)>,
}

impl RunBar {
    fn new() -> Self {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "revoking [{bar:30}] {pos}/{len} {msg} ({elapsed})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        RunBar {
            bar,
            counts: Mutex::new((0, 0)),
        }
    }
}

impl RunProgress for RunBar {
    fn begin(&self, total: u64, done: u64) {
        self.bar.set_length(total);
        self.bar.set_position(done);
    }

    fn action(&self, row: &ActionRow, state: ActionState) {
        self.bar.inc(1);
        let mut c = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if matches!(state, ActionState::Failed | ActionState::Ambiguous) {
            c.1 += 1;
            self.bar
                .println(format!("✗ {}: {}", Shown(&row.grant.id), state.name()));
        } else {
            c.0 += 1;
        }
        self.bar.set_message(format!("{} ok, {} not", c.0, c.1));
    }

    fn verifying(&self, how: Verify, count: usize) {
        self.bar.finish_and_clear();
        match how {
            Verify::Probe => eprintln!(
                "verifying: re-reading {}",
                plural(count, "target", "targets")
            ),
            Verify::Rescan => eprintln!(
                "verifying: rescanning {}",
                plural(count, "tenant", "tenants")
            ),
        }
    }
}

/// A scan progress bar created on first use.
struct LazyBar(std::sync::OnceLock<Bar>);

impl Progress for LazyBar {
    fn task_done(&self, tenant: &str, done: u64, known: u64, grants: u64) {
        self.0
            .get_or_init(Bar::new)
            .task_done(tenant, done, known, grants);
    }

    fn tenant_done(&self, scan: &crate::scan::TenantScan) {
        self.0.get_or_init(Bar::new).tenant_done(scan);
    }
}

impl Drop for RunBar {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

/// Log lines instead of a bar.
struct RunLog;

impl RunProgress for RunLog {
    fn begin(&self, total: u64, done: u64) {
        tracing::info!(total, done, "revocation run starts");
    }

    fn action(&self, row: &ActionRow, state: ActionState) {
        tracing::info!(
            grant = %Shown(&row.grant.id),
            state = state.name(),
            "revocation action settled"
        );
    }

    fn verifying(&self, how: Verify, count: usize) {
        tracing::info!(how = how.name(), count, "verifying");
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{HOSTILE, assert_terminal_safe};
    use super::*;
    use crate::model::{PrincipalKind, RevocationTarget};

    /// A grant whose every provider-given text is hostile.
    fn hostile_grant(n: usize, target: bool) -> GrantRecord {
        let mut g = crate::test_support::grant(&format!("okta/acme/{HOSTILE}{n}"));
        g.provider = "okta".into();
        g.tenant = "acme".into();
        g.app.id = HOSTILE.into();
        g.app.name = HOSTILE.into();
        g.principal.id = HOSTILE.into();
        g.scopes = vec![HOSTILE.into()];
        g.notes = vec![HOSTILE.into()];
        g.revocation = target.then(|| RevocationTarget {
            action: HOSTILE.into(),
            handle: "{}".into(),
        });
        g
    }

    #[test]
    fn a_plan_is_printed_without_terminal_controls() {
        let mut review = hostile_grant(3, false);
        review.principal.kind = PrincipalKind::User;
        let plan = Plan::new(
            "vendor:acme",
            &format!("Offboard {HOSTILE} (acme)"),
            vec![hostile_grant(1, true), hostile_grant(2, false)],
        )
        .with_unattributed(vec![review]);
        let mut out = Vec::new();
        print_plan(&mut out, &plan, false, true, "grantscope offboard acme")
            .unwrap_or_else(|e| panic!("{e}"));
        // Title; the action's id and target action (its principal is clipped);
        // the manual item's id and note; the candidate's id (principal and app
        // name are clipped).
        let text = assert_terminal_safe(&out, 6);
        for line in text.lines().filter(|l| l.contains("revoke  ")) {
            assert!(line.contains("x\\x1b[1A\\x1b[2K"), "{line}");
        }
    }

    #[test]
    fn a_run_report_is_printed_without_terminal_controls() {
        let g = hostile_grant(1, true);
        let row = ActionRow {
            seq: 1,
            target: g.revocation.clone().unwrap_or_else(|| panic!("a target")),
            grant: g,
            state: ActionState::Failed,
            attempts: 1,
            detail: Some(HOSTILE.into()),
            manual_steps: vec![HOSTILE.into()],
            verified: Some("present".into()),
        };
        let report = RunReport {
            run: 7,
            label: "vendor:acme".into(),
            approval: Some(serde_json::json!({
                "how": "--yes", "os_user": {"uid": 1000, "name": HOSTILE},
                "approver": {"name": HOSTILE}, "ticket": {"id": HOSTILE},
            })),
            actions: vec![row],
            verified_by: Verify::Rescan,
            unverified_tenants: vec![HOSTILE.into()],
            verified: [("present".to_owned(), 1)].into_iter().collect(),
            states: [("failed".to_owned(), 1)].into_iter().collect(),
            manual_steps: vec![HOSTILE.into()],
            unattributed: vec![hostile_grant(2, false)],
        };
        let mut out = Vec::new();
        print_report(&mut out, &report, false).unwrap_or_else(|e| panic!("{e}"));
        // The approval (account, approver, ticket), the action's id and detail, the
        // partial tenant, the manual step and the candidate's id.
        assert_terminal_safe(&out, 8);
    }
}
