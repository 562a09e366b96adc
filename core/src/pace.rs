//! How fast one tenant's requests may go.
//!
//! A provider's limit is the limit of an audit, so the host paces every request to
//! stay under it rather than waiting for the provider to say "slow down". Each
//! connector declares its provider's documented quotas, one per class of endpoints
//! (Slack's method tiers, Okta's buckets); each class gets its own [`Gcra`] pace, and
//! a request takes its turn in the first class whose path pattern matches.
//!
//! Where the rate of a class comes from, strongest first:
//! 1. the operator (`[tenant.quotas]`), who may know of a raised quota;
//! 2. the provider's own answers: a `RateLimit-Policy` (IETF draft) is adopted as
//!    the class's rate; a bare `x-ratelimit-limit` / `X-Rate-Limit-Limit`, read over
//!    the class's declared window, only ever slows the class, because a bare number
//!    says nothing of the window it counts in;
//! 3. the connector's manifest;
//! 4. `[limits] requests_per_second`, for requests no declared quota covers.
//!
//! Whatever the rate, a class whose answers say that no more than the reserve (the
//! requests that may be in flight at once) remains pauses until the provider's reset,
//! before the provider has to refuse anything; and `[tenant] requests_per_second`
//! caps the whole tenant when set.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

// tokio's clock, so that tests can run the pace on a paused clock.
use tokio::time::Instant;

use crate::plugin::QuotaSpec;

/// A number of requests per window, as an operator writes it: `40/s`, `2400/min`,
/// `5000/h`, `100000/day`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Requests per window.
    pub requests: u32,
    /// The window.
    pub window: Duration,
}

impl Rate {
    /// `n` requests a second.
    pub fn per_second(n: u32) -> Rate {
        Rate {
            requests: n.max(1),
            window: Duration::from_secs(1),
        }
    }

    /// Parses `N/s`, `N/min`, `N/h` or `N/day` (also `N/sec`, `N/m`, `N/hour`,
    /// `N/d`); N from 1 to 1,000,000.
    pub fn parse(s: &str) -> Result<Rate, String> {
        let err = || {
            format!(
                "`{}` is not a rate: write requests per window, such as `40/s`, `2400/min`, \
                 `5000/h` or `100000/day`",
                crate::text::Shown(s)
            )
        };
        let (n, unit) = s.trim().split_once('/').ok_or_else(err)?;
        let requests: u32 = n.trim().replace('_', "").parse().map_err(|_| err())?;
        if !(1..=1_000_000).contains(&requests) {
            return Err(format!(
                "`{}`: the number of requests must be from 1 to 1000000",
                crate::text::Shown(s)
            ));
        }
        let secs = match unit.trim() {
            "s" | "sec" | "second" => 1,
            "m" | "min" | "minute" => 60,
            "h" | "hour" => 3600,
            "d" | "day" => 86_400,
            _ => return Err(err()),
        };
        Ok(Rate {
            requests,
            window: Duration::from_secs(secs),
        })
    }

    /// The pace: the time between two requests.
    pub fn interval(self) -> Duration {
        self.window / self.requests.max(1)
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secs = self.window.as_secs();
        match secs {
            1 => write!(f, "{}/s", self.requests),
            60 => write!(f, "{}/min", self.requests),
            3600 => write!(f, "{}/h", self.requests),
            86_400 => write!(f, "{}/day", self.requests),
            _ => write!(f, "{} per {secs} s", self.requests),
        }
    }
}

/// Where a class's current rate comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RateSource {
    /// `[limits] requests_per_second`: nothing declared covers these requests.
    Default,
    /// The connector's manifest.
    Manifest,
    /// The provider's own answers.
    Provider,
    /// The tenant's configuration.
    Operator,
}

/// Largest burst a class may declare.
const MAX_BURST: u32 = 1_000_000;

/// Generic cell rate algorithm: each request reserves the next slot of a schedule
/// with one slot per `interval`, `burst` of which may be taken at once. Reserving
/// (not polling) keeps waiting requests in order and wakes each exactly when its
/// turn comes.
#[derive(Debug)]
struct Gcra {
    interval: Duration,
    burst: u32,
    /// The theoretical arrival time of the next request.
    tat: Instant,
}

impl Gcra {
    fn new(rate: Rate, burst: u32, now: Instant) -> Gcra {
        Gcra {
            interval: rate.interval(),
            burst: burst.clamp(1, MAX_BURST),
            tat: now,
        }
    }

    /// Reserves a slot: the instant the request may go.
    fn reserve(&mut self, now: Instant) -> Instant {
        let tolerance = self.interval * (self.burst - 1);
        let earliest = self.tat.checked_sub(tolerance).unwrap_or(now);
        let at = earliest.max(now);
        self.tat = self.tat.max(now) + self.interval;
        at
    }
}

/// One segment of a path pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    /// `*`: one segment.
    One,
    /// `**` at the end: one or more segments.
    Rest,
}

fn parse_pattern(p: &str) -> Vec<Segment> {
    let parts: Vec<&str> = p.trim_start_matches('/').split('/').collect();
    let last = parts.len() - 1;
    parts
        .iter()
        .enumerate()
        .map(|(i, s)| match *s {
            "**" if i == last => Segment::Rest,
            "*" | "**" => Segment::One,
            lit => Segment::Literal(lit.to_owned()),
        })
        .collect()
}

/// Whether `pattern` matches `path` or a tail of it (an API mounted under a prefix).
fn matches(pattern: &[Segment], path: &[&str]) -> bool {
    let fits = |tail: &[&str]| {
        let fixed = match pattern.last() {
            Some(Segment::Rest) => pattern.len() - 1,
            _ => pattern.len(),
        };
        let len_ok = if fixed < pattern.len() {
            tail.len() > fixed
        } else {
            tail.len() == fixed
        };
        len_ok
            && pattern[..fixed].iter().zip(tail).all(|(p, s)| match p {
                Segment::Literal(l) => l == s,
                Segment::One | Segment::Rest => !s.is_empty(),
            })
    };
    (0..path.len()).any(|start| fits(&path[start..]))
}

/// A quota class's live state.
#[derive(Debug)]
struct ClassState {
    gcra: Gcra,
    rate: Rate,
    source: RateSource,
    /// Set while the provider said nothing remains: no request of the class goes
    /// before it.
    paused_until: Option<Instant>,
    /// The named provider policy the class now counts against, shared with every
    /// class whose answers name the same policy.
    policy: Option<String>,
}

#[derive(Debug)]
struct Class {
    name: String,
    patterns: Vec<Vec<Segment>>,
    /// The window the manifest declared, to read a bare `x-ratelimit-limit` against.
    window: Duration,
    state: Mutex<ClassState>,
}

/// What a class's pace is now, for progress lines and `plugins inspect`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ClassInfo {
    /// Class name.
    pub name: String,
    /// Its rate, as an operator writes it.
    pub rate: String,
    /// Where the rate comes from.
    pub source: RateSource,
    /// Requests let through back to back.
    pub burst: u32,
}

/// What the provider's answer told the pacer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal {
    /// Nothing that stops the tenant.
    Fine,
    /// A daily allocation is nearly spent: stop before it runs out for everyone else.
    Exhausted(String),
}

/// The pace of one tenant's requests.
#[derive(Debug)]
pub struct Pacer {
    /// Declared classes in manifest order; the last one takes every request no
    /// pattern claims.
    classes: Vec<Class>,
    ceiling: Option<Mutex<Gcra>>,
    /// The provider's named policies (`RateLimit-Policy: "name";q=..;w=..`): one
    /// quota however many classes' answers name it, since the provider counts them
    /// together.
    policies: Mutex<BTreeMap<String, Gcra>>,
    paused_until: Mutex<Option<Instant>>,
    reserve: u32,
    reserve_percent: u32,
}

/// How a tenant's pacer is set up.
#[derive(Debug, Clone)]
pub struct PaceConfig {
    /// The connector's declared quotas.
    pub quotas: Vec<QuotaSpec>,
    /// The operator's rates by class name (`[tenant.quotas]`).
    pub overrides: BTreeMap<String, Rate>,
    /// The rate of requests no declared quota covers.
    pub default_rate: Rate,
    /// A cap on the whole tenant (`[tenant] requests_per_second`).
    pub ceiling: Option<Rate>,
    /// Requests that may be in flight at once: a class pauses when no more than this
    /// remains of its window.
    pub reserve: u32,
    /// Share of a daily allocation left for the org's other integrations, percent.
    pub reserve_percent: u32,
}

impl PaceConfig {
    /// No declared quota: everything at `rate`.
    pub fn flat(rate: Rate) -> PaceConfig {
        PaceConfig {
            quotas: Vec::new(),
            overrides: BTreeMap::new(),
            default_rate: rate,
            ceiling: None,
            reserve: 1,
            reserve_percent: 10,
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Pacer {
    /// Builds the classes. An override naming no class is refused with the names
    /// there are: a typo would otherwise silently leave the declared rate in place.
    pub fn new(cfg: PaceConfig) -> Result<Pacer, String> {
        let now = Instant::now();
        let PaceConfig {
            quotas,
            mut overrides,
            default_rate,
            ceiling,
            reserve,
            reserve_percent,
        } = cfg;
        let mut classes = Vec::new();
        let mut has_default = false;
        for q in &quotas {
            let declared = Rate {
                requests: q.requests,
                window: Duration::from_secs(u64::from(q.window_secs)),
            };
            let (rate, source) = match overrides.remove(&q.name) {
                Some(r) => (r, RateSource::Operator),
                None => (declared, RateSource::Manifest),
            };
            let burst = q.burst.clamp(1, MAX_BURST);
            has_default |= q.paths.is_empty();
            classes.push(Class {
                name: q.name.clone(),
                patterns: q.paths.iter().map(|p| parse_pattern(p)).collect(),
                window: declared.window,
                state: Mutex::new(ClassState {
                    gcra: Gcra::new(rate, burst, now),
                    rate,
                    source,
                    paused_until: None,
                    policy: None,
                }),
            });
        }
        if !has_default {
            let (rate, source) = match overrides.remove("default") {
                Some(r) => (r, RateSource::Operator),
                None => (default_rate, RateSource::Default),
            };
            classes.push(Class {
                name: "default".to_owned(),
                patterns: Vec::new(),
                window: rate.window,
                state: Mutex::new(ClassState {
                    gcra: Gcra::new(rate, 1, now),
                    rate,
                    source,
                    paused_until: None,
                    policy: None,
                }),
            });
        } else if let Some(i) = classes.iter().position(|c| c.patterns.is_empty()) {
            // The catch-all goes last, whatever its place in the manifest: a
            // pattern-less class would otherwise shadow every class after it.
            let c = classes.remove(i);
            classes.push(c);
        }
        if let Some(name) = overrides.keys().next() {
            let names: Vec<&str> = classes.iter().map(|c| c.name.as_str()).collect();
            return Err(format!(
                "[tenant.quotas] names `{}`, which is not one of this connector's quota \
                 classes: {}",
                crate::text::Shown(name),
                names.join(", ")
            ));
        }
        Ok(Pacer {
            classes,
            ceiling: ceiling.map(|r| Mutex::new(Gcra::new(r, 1, now))),
            policies: Mutex::new(BTreeMap::new()),
            paused_until: Mutex::new(None),
            reserve: reserve.max(1),
            reserve_percent: reserve_percent.min(90),
        })
    }

    /// The class a request to `path` belongs to.
    pub fn class_of(&self, path: &str) -> usize {
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let last = self.classes.len() - 1;
        self.classes[..last]
            .iter()
            .position(|c| c.patterns.iter().any(|p| matches(p, &segments)))
            .unwrap_or(last)
    }

    /// The class's name.
    pub fn class_name(&self, class: usize) -> &str {
        &self.classes[class].name
    }

    /// Waits for the request's turn: tenant-wide and class pauses first, then its
    /// slot in the class's schedule and in the tenant's ceiling.
    pub async fn wait_turn(&self, class: usize) {
        loop {
            let now = Instant::now();
            let paused = [
                *lock(&self.paused_until),
                lock(&self.classes[class].state).paused_until,
            ]
            .into_iter()
            .flatten()
            .filter(|t| *t > now)
            .max();
            match paused {
                Some(t) => tokio::time::sleep_until(t).await,
                None => break,
            }
        }
        // The class's own pace, and the provider's policy it shares with other
        // classes when its answers named one: the later slot of the two.
        let slot = {
            let now = Instant::now();
            let mut s = lock(&self.classes[class].state);
            let own = s.gcra.reserve(now);
            let shared = s
                .policy
                .as_ref()
                .and_then(|name| lock(&self.policies).get_mut(name).map(|g| g.reserve(now)));
            shared.map_or(own, |at| at.max(own))
        };
        tokio::time::sleep_until(slot).await;
        if let Some(ceiling) = &self.ceiling {
            let slot = lock(ceiling).reserve(Instant::now());
            tokio::time::sleep_until(slot).await;
        }
    }

    /// Pauses every class of the tenant for `wait` (a rate limit the provider
    /// stated for the tenant as a whole, or only in a body the connector read).
    pub fn pause_all(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let mut p = lock(&self.paused_until);
        if p.is_none_or(|t| t < until) {
            *p = Some(until);
        }
    }

    /// Pauses one class for `wait`.
    pub fn pause(&self, class: usize, wait: Duration) {
        let until = Instant::now() + wait;
        let mut s = lock(&self.classes[class].state);
        if s.paused_until.is_none_or(|t| t < until) {
            s.paused_until = Some(until);
        }
    }

    /// Reads the provider's rate-limit headers off an answer to a request of
    /// `class`: adopts a limit it states, pauses the class when it is about to run
    /// out, and says when a daily allocation is nearly spent.
    pub fn observe(&self, class: usize, headers: &[(String, String)]) -> Signal {
        let h = Headers(headers);
        if let Some(signal) = self.daily_allocation(&h) {
            return signal;
        }
        let info = h.limit_info(self.classes[class].window);
        let c = &self.classes[class];
        let mut s = lock(&c.state);
        // A stated policy has its window and is believed; a bare limit's window is a
        // guess (GitHub's is an hour, Okta's a minute), so it may only slow the class.
        let (adopt, named) = match (info.policy, info.limit) {
            (Some((name, p)), _) => (Some(p), name),
            (None, Some(l)) if l.interval() > s.rate.interval() => (Some(l), None),
            _ => (None, None),
        };
        if let Some(rate) = adopt
            && s.source != RateSource::Operator
        {
            if let Some(name) = named {
                let mut policies = lock(&self.policies);
                let g = policies
                    .entry(name.clone())
                    .or_insert_with(|| Gcra::new(rate, 1, Instant::now()));
                g.interval = rate.interval();
                s.policy = Some(name);
            }
            if rate != s.rate {
                s.gcra.interval = rate.interval();
                s.rate = rate;
                s.source = RateSource::Provider;
                tracing::debug!(class = %c.name, %rate, "pace from the provider's answer");
            }
        }
        if let (Some(remaining), Some(reset)) = (info.remaining, info.reset)
            && remaining <= u64::from(self.reserve)
        {
            let until = Instant::now() + reset;
            if s.paused_until.is_none_or(|t| t < until) {
                tracing::info!(
                    class = %c.name,
                    remaining,
                    wait_secs = reset.as_secs(),
                    "provider quota nearly spent: pausing the class until it resets"
                );
                s.paused_until = Some(until);
            }
        }
        Signal::Fine
    }

    /// Salesforce's `Sforce-Limit-Info: api-usage=USED/MAX`: a rolling daily
    /// allocation every integration of the org shares.
    fn daily_allocation(&self, h: &Headers<'_>) -> Option<Signal> {
        let v = h.get("sforce-limit-info")?;
        let usage = v
            .split(',')
            .find_map(|p| p.trim().strip_prefix("api-usage="))?;
        let (used, max) = usage.split_once('/')?;
        let (used, max): (u64, u64) = (used.trim().parse().ok()?, max.trim().parse().ok()?);
        let keep = max * u64::from(self.reserve_percent) / 100;
        (max > 0 && used + keep >= max).then(|| {
            Signal::Exhausted(format!(
                "the org has used {used} of its {max} API requests of the last 24 hours; \
                 the scan stops with {}% left for the org's other integrations \
                 ([limits] quota_reserve_percent): run it again when the usage has fallen",
                self.reserve_percent
            ))
        })
    }

    /// Every class's current pace.
    pub fn describe(&self) -> Vec<ClassInfo> {
        self.classes
            .iter()
            .map(|c| {
                let s = lock(&c.state);
                ClassInfo {
                    name: c.name.clone(),
                    rate: s.rate.to_string(),
                    source: s.source,
                    burst: s.gcra.burst,
                }
            })
            .collect()
    }
}

/// A response's headers (names lower-case).
struct Headers<'a>(&'a [(String, String)]);

/// What a response says of its class's limit.
#[derive(Debug, Default, PartialEq, Eq)]
struct LimitInfo {
    /// `RateLimit-Policy`: a quota with its window, and its name when it has one.
    policy: Option<(Option<String>, Rate)>,
    /// `x-ratelimit-limit`, read against the class's declared window.
    limit: Option<Rate>,
    remaining: Option<u64>,
    reset: Option<Duration>,
}

impl Headers<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    }

    fn number(&self, names: &[&str]) -> Option<u64> {
        names
            .iter()
            .find_map(|n| self.get(n).and_then(|v| v.parse().ok()))
    }

    fn limit_info(&self, window: Duration) -> LimitInfo {
        let mut info = LimitInfo::default();
        // IETF draft-ietf-httpapi-ratelimit-headers: `RateLimit-Policy: "p";q=100;w=60`
        // (or the older `100;w=60`), `RateLimit: "p";r=50;t=30` (or the older
        // `RateLimit-Remaining` / `RateLimit-Reset`, reset in seconds).
        if let Some(p) = self.get("ratelimit-policy") {
            info.policy = strictest_policy(p);
        }
        if let Some(r) = self.get("ratelimit") {
            let (remaining, reset) = ratelimit_field(r);
            info.remaining = remaining;
            info.reset = reset.map(Duration::from_secs);
        }
        info.remaining = info
            .remaining
            .or_else(|| self.number(&["ratelimit-remaining"]));
        info.reset = info
            .reset
            .or_else(|| self.number(&["ratelimit-reset"]).map(Duration::from_secs));
        // GitHub's `x-ratelimit-*`, Okta's `X-Rate-Limit-*`: the limit of the window
        // the connector declared, reset as a UTC epoch (or, from some providers, a
        // number of seconds).
        if let Some(limit) = self.number(&["x-ratelimit-limit", "x-rate-limit-limit"])
            && let Ok(limit) = u32::try_from(limit)
            && limit > 0
        {
            info.limit = Some(Rate {
                requests: limit,
                window,
            });
        }
        info.remaining = info
            .remaining
            .or_else(|| self.number(&["x-ratelimit-remaining", "x-rate-limit-remaining"]));
        info.reset = info.reset.or_else(|| {
            self.number(&["x-ratelimit-reset", "x-rate-limit-reset"])
                .map(reset_in)
        });
        info
    }
}

/// A reset header's value as a wait: a UTC epoch in seconds when it is one, else a
/// number of seconds; at least one second, at most a day.
pub fn reset_in(value: u64) -> Duration {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let secs = if value > 1_000_000_000 {
        value.saturating_sub(now)
    } else {
        value
    };
    Duration::from_secs(secs.clamp(1, 86_400))
}

/// The slowest policy of a `RateLimit-Policy` list, with its name (the draft's
/// quoted first member; the older draft's policies have none).
fn strictest_policy(value: &str) -> Option<(Option<String>, Rate)> {
    value
        .split(',')
        .filter_map(|item| {
            let mut q = None;
            let mut w = None;
            let mut name = None;
            for (i, part) in item.split(';').enumerate() {
                let part = part.trim();
                if i == 0
                    && let Some(n) = part.strip_prefix('"').and_then(|p| p.strip_suffix('"'))
                {
                    name = (!n.is_empty() && n.len() <= 64).then(|| n.to_owned());
                    continue;
                }
                match part.split_once('=') {
                    Some(("q", v)) => q = v.trim().parse::<u32>().ok(),
                    Some(("w", v)) => w = v.trim().parse::<u64>().ok(),
                    // The older draft's bare quota as the first member.
                    None if i == 0 => q = q.or_else(|| part.parse().ok()),
                    _ => {}
                }
            }
            let (q, w) = (q?, w?);
            (q > 0 && (1..=86_400).contains(&w)).then(|| {
                let rate = Rate {
                    requests: q,
                    window: Duration::from_secs(w),
                };
                (name, rate)
            })
        })
        .max_by_key(|(_, r)| r.interval())
}

/// `r` (remaining) and `t` (seconds to reset) of a `RateLimit` field, the lowest
/// remaining of its items.
fn ratelimit_field(value: &str) -> (Option<u64>, Option<u64>) {
    let mut best: (Option<u64>, Option<u64>) = (None, None);
    for item in value.split(',') {
        let mut r = None;
        let mut t = None;
        for part in item.split(';') {
            match part.trim().split_once('=') {
                Some(("r", v)) => r = v.trim().parse().ok(),
                Some(("t", v)) => t = v.trim().parse().ok(),
                _ => {}
            }
        }
        if let Some(r) = r
            && best.0.is_none_or(|b| r < b)
        {
            best = (Some(r), t);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quota(name: &str, requests: u32, window_secs: u32, burst: u32, paths: &[&str]) -> QuotaSpec {
        QuotaSpec {
            name: name.into(),
            requests,
            window_secs,
            burst,
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
            source: "test".into(),
        }
    }

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn rates_parse_and_print() {
        assert_eq!(Rate::parse("40/s"), Ok(Rate::per_second(40)));
        let r = Rate::parse("2_400/min").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.interval(), Duration::from_millis(25));
        assert_eq!(r.to_string(), "2400/min");
        assert_eq!(
            Rate::parse("5000/h").map(Rate::interval),
            Ok(Duration::from_millis(720))
        );
        for bad in ["40", "0/s", "x/min", "40/fortnight", "2000000/s"] {
            assert!(Rate::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn requests_find_the_first_class_whose_pattern_matches() {
        let p = Pacer::new(PaceConfig {
            quotas: vec![
                quota("app", 250, 60, 1, &["/api/v1/apps/*"]),
                quota("apps", 50, 60, 1, &["/api/v1/apps", "/api/v1/apps/**"]),
                quota("uninstall", 1, 60, 10, &["/api/admin.apps.uninstall"]),
            ],
            ..PaceConfig::flat(Rate::per_second(20))
        })
        .unwrap_or_else(|e| panic!("{e}"));
        let name = |path: &str| p.class_name(p.class_of(path)).to_owned();
        assert_eq!(name("/api/v1/apps/0oa1"), "app");
        assert_eq!(name("/api/v1/apps"), "apps");
        assert_eq!(name("/api/v1/apps/0oa1/grants"), "apps");
        assert_eq!(name("/api/v1/apps/0oa1/grants/x"), "apps");
        // Mounted under a prefix (a simulator, a proxy).
        assert_eq!(name("/okta/api/v1/apps/0oa1"), "app");
        assert_eq!(name("/slack/api/admin.apps.uninstall"), "uninstall");
        assert_eq!(name("/api/v1/users"), "default");
        assert_eq!(name("/api/admin.apps.uninstallx"), "default");
        assert_eq!(name("/"), "default");
    }

    #[test]
    fn an_override_of_an_unknown_class_is_refused_with_the_names() {
        let err = Pacer::new(PaceConfig {
            quotas: vec![quota("directory", 2400, 60, 1, &["/admin/**"])],
            overrides: BTreeMap::from([("directroy".to_owned(), Rate::per_second(5))]),
            ..PaceConfig::flat(Rate::per_second(20))
        })
        .err()
        .unwrap_or_default();
        assert!(
            err.contains("`directroy`") && err.contains("directory, default"),
            "{err}"
        );
    }

    #[test]
    fn the_operator_beats_the_provider_which_beats_the_manifest() {
        let p = Pacer::new(PaceConfig {
            quotas: vec![
                quota("a", 100, 60, 1, &["/a/**"]),
                quota("b", 100, 60, 1, &["/b/**"]),
            ],
            overrides: BTreeMap::from([("b".to_owned(), Rate::per_second(5))]),
            ..PaceConfig::flat(Rate::per_second(20))
        })
        .unwrap_or_else(|e| panic!("{e}"));
        // Two policies: the slower sustained one paces.
        let policy = headers(&[(
            "ratelimit-policy",
            "\"burst\";q=600;w=60, \"hour\";q=30000;w=3600",
        )]);
        let (a, b) = (p.class_of("/a/x"), p.class_of("/b/x"));
        assert_eq!(p.observe(a, &policy), Signal::Fine);
        p.observe(b, &policy);
        let info = p.describe();
        assert_eq!(
            (info[0].rate.as_str(), info[0].source),
            ("30000/h", RateSource::Provider)
        );
        assert_eq!(
            (info[1].rate.as_str(), info[1].source),
            ("5/s", RateSource::Operator)
        );
        assert_eq!(info[2].source, RateSource::Default);
        // A bare limit reads against the declared window, and only slows a class.
        p.observe(a, &headers(&[("X-Rate-Limit-Limit", "50")]));
        assert_eq!(p.describe()[0].rate, "50/min");
        p.observe(a, &headers(&[("X-Rate-Limit-Limit", "5000")]));
        assert_eq!(p.describe()[0].rate, "50/min");
    }

    #[tokio::test(start_paused = true)]
    async fn classes_naming_one_policy_share_its_quota() {
        let p = Pacer::new(PaceConfig {
            quotas: vec![
                quota("a", 6000, 60, 1, &["/a/**"]),
                quota("b", 6000, 60, 1, &["/b/**"]),
            ],
            ..PaceConfig::flat(Rate::per_second(100))
        })
        .unwrap_or_else(|e| panic!("{e}"));
        let (a, b) = (p.class_of("/a/x"), p.class_of("/b/x"));
        let sim = headers(&[("RateLimit-Policy", "\"sim\";q=10;w=1")]);
        p.observe(a, &sim);
        p.observe(b, &sim);
        // Twenty requests alternating between the classes: one quota of 10/s paces
        // them all, so they take about two seconds, not one.
        let start = Instant::now();
        for i in 0..20 {
            p.wait_turn(if i % 2 == 0 { a } else { b }).await;
        }
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(1800), "{took:?}");
        assert!(took < Duration::from_millis(2100), "{took:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn requests_are_paced_with_the_declared_burst() {
        let p = Pacer::new(PaceConfig {
            quotas: vec![quota("t1", 1, 60, 3, &["/api/*"])],
            ..PaceConfig::flat(Rate::per_second(1000))
        })
        .unwrap_or_else(|e| panic!("{e}"));
        let c = p.class_of("/api/admin.apps.uninstall");
        let start = tokio::time::Instant::now();
        let mut at = Vec::new();
        for _ in 0..5 {
            p.wait_turn(c).await;
            at.push(start.elapsed().as_secs());
        }
        // Three back to back, then one a minute.
        assert_eq!(at, [0, 0, 0, 60, 120]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_class_pauses_when_no_more_than_the_reserve_remains() {
        let p = Pacer::new(PaceConfig {
            reserve: 4,
            ..PaceConfig::flat(Rate::per_second(1000))
        })
        .unwrap_or_else(|e| panic!("{e}"));
        let start = tokio::time::Instant::now();
        p.observe(
            0,
            &headers(&[("x-ratelimit-remaining", "5"), ("x-ratelimit-reset", "30")]),
        );
        p.wait_turn(0).await;
        assert_eq!(
            start.elapsed().as_secs(),
            0,
            "five left, four in flight: go on"
        );
        p.observe(
            0,
            &headers(&[("x-ratelimit-remaining", "4"), ("x-ratelimit-reset", "30")]),
        );
        p.wait_turn(0).await;
        assert_eq!(
            start.elapsed().as_secs(),
            30,
            "wait for the reset before a 429"
        );
        p.pause_all(Duration::from_secs(7));
        p.wait_turn(0).await;
        assert_eq!(start.elapsed().as_secs(), 37);
        // The IETF field, lowest remaining of its items.
        p.observe(
            0,
            &headers(&[("ratelimit", "\"a\";r=900;t=5, \"b\";r=2;t=12")]),
        );
        p.wait_turn(0).await;
        assert_eq!(start.elapsed().as_secs(), 49);
    }

    #[test]
    fn a_daily_allocation_stops_at_the_reserve() {
        let p =
            Pacer::new(PaceConfig::flat(Rate::per_second(20))).unwrap_or_else(|e| panic!("{e}"));
        let usage = |v: &str| p.observe(0, &headers(&[("Sforce-Limit-Info", v)]));
        assert_eq!(usage("api-usage=89999/100000"), Signal::Fine);
        let Signal::Exhausted(why) = usage("api-usage=90000/100000") else {
            panic!("90% used leaves only the reserve");
        };
        assert!(
            why.contains("90000 of its 100000") && why.contains("10%"),
            "{why}"
        );
        assert_eq!(
            usage("per-app-api-usage=17/250(appName=x), api-usage=18/5000"),
            Signal::Fine
        );
    }

    #[test]
    fn reset_values_are_epochs_or_seconds() {
        assert_eq!(reset_in(30), Duration::from_secs(30));
        assert_eq!(reset_in(0), Duration::from_secs(1));
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let d = reset_in(now + 120);
        assert!((119..=120).contains(&d.as_secs()), "{d:?}");
    }
}
