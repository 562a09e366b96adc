//! The only door to the network.
//!
//! **Architecture invariant:** this module alone owns an HTTP client. Every request a
//! plugin makes, and every token request [`crate::auth`] makes for it, goes through
//! [`Transport::send`], which
//!
//! - takes the destination only from the URL it validated (never from a `Host`
//!   header: Spin's CVE-2024-32980), and checks every redirect hop the same way;
//! - allows only the connector's declared hosts that the operator also configured,
//!   over https (plain http only to loopback, for a tenant marked as a simulator);
//! - refuses private, loopback, link-local, metadata and other non-global addresses,
//!   as IP literals and again after DNS resolution;
//! - paces each tenant's requests to its provider's quotas ([`crate::pace`]),
//!   reading the provider's rate-limit headers before it has to refuse anything,
//!   honours `Retry-After` (seconds or an HTTP date), and retries with jittered
//!   backoff — 429s for any method (the provider did not act), 5xx, timeouts and
//!   resets only for safe methods;
//! - stops calling a tenant whose provider is down: after
//!   `[limits] breaker_failures` consecutive connection failures, timeouts or 5xx
//!   answers its circuit opens, and every request fails at once with "unreachable
//!   since T" for `breaker_cooldown`; then requests may go again, and the first
//!   outage reopens it;
//! - caps response bodies while streaming them.
//!
//! [`TenantEgress`] adds what a guest request needs: refusal of guest-supplied
//! credentials and hop-by-hop headers, the tenant's credential, a per-call budget.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use rand::Rng;
use reqwest::Url;
use reqwest::header::{HeaderName, HeaderValue};

use crate::auth::{AuthError, Authenticator, Secret};
use crate::config::Limits;
use crate::pace::{PaceConfig, Pacer, Rate, Signal};

/// A request as the host sends it.
#[derive(Debug, Clone)]
pub struct HostRequest {
    /// HTTP method.
    pub method: reqwest::Method,
    /// Absolute URL.
    pub url: String,
    /// Headers (already checked).
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Option<Vec<u8>>,
    /// Retry 5xx, timeouts and resets even though the method is not safe. Only for
    /// requests whose repetition is harmless (minting a token).
    pub retry_unsafe: bool,
}

impl HostRequest {
    /// `GET url`.
    pub fn get(url: &str) -> Self {
        HostRequest {
            method: reqwest::Method::GET,
            url: url.to_owned(),
            headers: Vec::new(),
            body: None,
            retry_unsafe: false,
        }
    }

    /// `POST url` with a body.
    pub fn post(url: &str, body: Vec<u8>) -> Self {
        HostRequest {
            method: reqwest::Method::POST,
            body: Some(body),
            ..Self::get(url)
        }
    }
}

/// A response, body fully read (within the cap).
#[derive(Debug, Clone)]
pub struct HostResponse {
    /// Status code.
    pub status: u16,
    /// Lower-case header names.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

/// Why a request was not answered.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum TransportError {
    /// Destination not allowed.
    #[error("destination denied: {0}")]
    Denied(String),
    /// The URL does not parse.
    #[error("invalid url: {0}")]
    InvalidUrl(String),
    /// A header the host does not let through.
    #[error("header `{0}` is not allowed")]
    ForbiddenHeader(String),
    /// The body exceeded the cap.
    #[error("response body larger than {0} bytes")]
    TooLarge(u64),
    /// No answer in time, after retries.
    #[error("timed out")]
    Timeout,
    /// Connection failure, after retries.
    #[error("connection failed: {0}")]
    Connection(String),
    /// Still rate-limited after retries, or the provider asked for a longer wait
    /// than the host accepts.
    #[error("rate-limited by the provider")]
    RateLimited,
    /// The tenant's circuit is open: the provider stopped answering.
    #[error(
        "provider unreachable since {since} ({failures} consecutive connection failures, \
         timeouts or 5xx answers; last: {last})"
    )]
    Unreachable {
        /// When the circuit opened, RFC 3339 UTC.
        since: String,
        /// Consecutive failures that opened it.
        failures: u32,
        /// The last failure.
        last: String,
    },
    /// A shared daily allocation is down to the reserve kept for others.
    #[error("{0}")]
    QuotaReserve(String),
}

impl TransportError {
    /// Whether the failure says the provider is not answering (what the circuit
    /// breaker counts).
    fn is_outage(&self) -> bool {
        matches!(
            self,
            TransportError::Timeout | TransportError::Connection(_)
        )
    }
}

/// Which destinations a tenant's requests may reach.
#[derive(Debug, Clone)]
pub struct Policy {
    allowed: Vec<(String, Option<u16>)>,
    simulator: bool,
}

/// Why a tenant's destination policy could not be built.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// A configured host is outside what the connector declares.
    #[error(
        "tenant `{tenant}` allows host `{host}`, which connector `{connector}` does not declare (it declares {declared}); remove it from `hosts`"
    )]
    Undeclared {
        /// Tenant.
        tenant: String,
        /// Connector id.
        connector: String,
        /// The configured host.
        host: String,
        /// What the manifest declares.
        declared: String,
    },
    /// Nothing would be reachable.
    #[error(
        "tenant `{tenant}`: connector `{connector}` declares no exact host; list the hosts to allow in `hosts`"
    )]
    Empty {
        /// Tenant.
        tenant: String,
        /// Connector id.
        connector: String,
    },
}

impl Policy {
    /// The intersection of what the connector declares (`manifest_hosts`: exact
    /// names or `*.suffix`) and what the operator configured (`tenant_hosts`:
    /// `host` or `host:port`; empty means the declared exact hosts). For a
    /// simulator tenant, loopback hosts stand in for the declared ones.
    pub fn for_tenant(
        tenant: &str,
        connector: &str,
        manifest_hosts: &[String],
        tenant_hosts: &[String],
        simulator: bool,
    ) -> Result<Policy, PolicyError> {
        let mut allowed = Vec::new();
        if tenant_hosts.is_empty() {
            for h in manifest_hosts.iter().filter(|h| !h.starts_with("*.")) {
                allowed.push((h.to_ascii_lowercase(), None));
            }
        }
        for entry in tenant_hosts {
            let (host, port) = split_host_port(entry);
            let host = host.to_ascii_lowercase();
            let declared = manifest_hosts.iter().any(|p| host_matches(p, &host));
            let stand_in = simulator && is_loopback_name(&host);
            if !declared && !stand_in {
                return Err(PolicyError::Undeclared {
                    tenant: tenant.to_owned(),
                    connector: connector.to_owned(),
                    host: entry.clone(),
                    declared: manifest_hosts.join(", "),
                });
            }
            allowed.push((host, port.and_then(|p| p.parse().ok())));
        }
        if allowed.is_empty() {
            return Err(PolicyError::Empty {
                tenant: tenant.to_owned(),
                connector: connector.to_owned(),
            });
        }
        Ok(Policy { allowed, simulator })
    }

    /// Checks one URL: scheme, credentials in the URL, host, port, IP literal.
    pub fn check(&self, url: &Url) -> Result<(), String> {
        let host = url
            .host_str()
            .ok_or_else(|| format!("{url} has no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        if !url.username().is_empty() || url.password().is_some() {
            return Err("credentials in the URL are not allowed".into());
        }
        match url.scheme() {
            "https" => {}
            "http" if self.simulator && is_loopback_name(&host) => {}
            "http" => return Err(format!("plain http to {host} is not allowed; use https")),
            other => return Err(format!("scheme `{other}` is not allowed")),
        }
        let port = url.port_or_known_default();
        let listed = self
            .allowed
            .iter()
            .any(|(h, p)| *h == host && (p.is_none() || *p == port));
        if !listed {
            return Err(format!("{host} is not an allowed host for this tenant"));
        }
        if let Ok(ip) = host.parse::<IpAddr>()
            && !ip_allowed(ip, self.simulator)
        {
            return Err(format!("{ip} is not a public address"));
        }
        Ok(())
    }
}

/// Splits `host:port` (also `[v6]:port`); a bare IPv6 address has no port.
pub fn split_host_port(entry: &str) -> (&str, Option<&str>) {
    if let Some(rest) = entry.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((h, tail)) => (h, tail.strip_prefix(':')),
            None => (rest, None),
        };
    }
    match entry.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => (h, Some(p)),
        _ => (entry, None),
    }
}

/// `pattern` is an exact host or `*.suffix` (one or more labels before the suffix).
pub fn host_matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        Some(suffix) => host
            .strip_suffix(suffix)
            .is_some_and(|head| head.len() > 1 && head.ends_with('.')),
        None => pattern == host,
    }
}

fn is_loopback_name(host: &str) -> bool {
    host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Whether a request may go to `ip`: only globally routable unicast addresses, plus
/// loopback for simulator tenants.
pub fn ip_allowed(ip: IpAddr, simulator: bool) -> bool {
    let ip = canonical(ip);
    if ip.is_loopback() {
        return simulator;
    }
    match ip {
        IpAddr::V4(v4) => v4_global(v4),
        IpAddr::V6(v6) => v6_global(v6),
    }
}

/// IPv4 embedded in IPv6 (mapped, compatible, NAT64, 6to4) is judged as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return IpAddr::V4(v4);
            }
            let s = v6.segments();
            let embedded = |hi: u16, lo: u16| {
                IpAddr::V4(Ipv4Addr::new(
                    (hi >> 8) as u8,
                    hi as u8,
                    (lo >> 8) as u8,
                    lo as u8,
                ))
            };
            // 64:ff9b::/96 (NAT64) and ::/96 (deprecated IPv4-compatible).
            if (s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0; 4])
                || (s[0..6] == [0; 6] && (s[6] != 0 || s[7] > 1))
            {
                return embedded(s[6], s[7]);
            }
            // 2002::/16 (6to4) carries the IPv4 address in bits 16..48.
            if s[0] == 0x2002 {
                return embedded(s[1], s[2]);
            }
            ip
        }
        v4 => v4,
    }
}

fn v4_global(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    !(ip.is_unspecified()
        || ip.is_private()
        || ip.is_link_local() // 169.254/16, includes the cloud metadata address
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || o[0] == 0 // "this network"
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // 100.64/10 shared (CGNAT)
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // 192.0.0/24 protocol assignments
        || (o[0] == 198 && (o[1] & 0xfe) == 18) // 198.18/15 benchmarking
        || o[0] >= 240) // reserved
}

fn v6_global(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    !(ip.is_unspecified()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // fc00::/7 unique local (includes fd00:ec2::254)
        || (s[0] & 0xffc0) == 0xfe80 // fe80::/10 link-local
        || (s[0] & 0xffc0) == 0xfec0 // fec0::/10 site-local (deprecated)
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x2001 && s[1] == 0) // Teredo tunnels reach arbitrary IPv4
        || (s[0] == 0x0100 && s[1..4] == [0; 3]) // discard-only
        || s[0..6] == [0; 6]) // remaining ::/96 forms
}

/// Marks a DNS answer that had only forbidden addresses, so the error can be told
/// apart from a network failure.
#[derive(Debug)]
struct ResolveDenied(String);

impl std::fmt::Display for ResolveDenied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ResolveDenied {}

/// Resolves names and drops every address [`ip_allowed`] refuses, so an allowed
/// host name that points at a private address (DNS rebinding, a poisoned record)
/// is never connected to.
struct GuardedResolver {
    simulator: bool,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let simulator = self.simulator;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| ip_allowed(a.ip(), simulator))
                .collect();
            if addrs.is_empty() {
                let e: Box<dyn std::error::Error + Send + Sync> = Box::new(ResolveDenied(format!(
                    "{host} resolves to no public address"
                )));
                return Err(e);
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Counters for progress display and benchmarks.
#[derive(Debug, Default)]
pub struct TransportStats {
    /// Attempts sent.
    pub attempts: AtomicU64,
    /// Attempts repeated after a retryable failure.
    pub retries: AtomicU64,
    /// Rate-limit answers received.
    pub throttled: AtomicU64,
}

/// One tenant's HTTP transport: its own client (its own resolver and redirect
/// checks), pacer and circuit breaker.
pub struct Transport {
    client: reqwest::Client,
    policy: Arc<Policy>,
    pacer: Pacer,
    breaker: std::sync::Mutex<Breaker>,
    /// Set once a shared daily allocation reached its reserve: every later request
    /// fails with it.
    exhausted: std::sync::Mutex<Option<String>>,
    limits: Limits,
    /// Counters.
    pub stats: TransportStats,
}

/// Consecutive outages of one tenant's provider, and whether its circuit is open.
#[derive(Debug, Default)]
struct Breaker {
    consecutive: u32,
    last: String,
    /// When it opened (monotonic, and for people), with the count that opened it.
    open: Option<(Instant, String, u32)>,
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Installs the process-wide TLS crypto provider once (reqwest is built without one
/// so that ring, not aws-lc, is compiled in).
fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // An Err means another provider was installed first: fine either way.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

impl Transport {
    /// A transport for one tenant, every request paced at
    /// `[limits] requests_per_second`.
    pub fn new(policy: Policy, limits: &Limits) -> Result<Transport, TransportError> {
        let pace = PaceConfig::flat(Rate::per_second(limits.requests_per_second));
        Transport::with_pace(policy, limits, pace)
    }

    /// A transport for one tenant, paced by `pace`.
    pub fn with_pace(
        policy: Policy,
        limits: &Limits,
        pace: PaceConfig,
    ) -> Result<Transport, TransportError> {
        let pacer = Pacer::new(pace).map_err(TransportError::Denied)?;
        install_crypto_provider();
        let policy = Arc::new(policy);
        let redirect_policy = {
            let policy = Arc::clone(&policy);
            reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() >= 5 {
                    return attempt.error(ResolveDenied("too many redirects".into()));
                }
                match policy.check(attempt.url()) {
                    Ok(()) => attempt.follow(),
                    Err(why) => attempt.error(ResolveDenied(format!("redirect refused: {why}"))),
                }
            })
        };
        let client = reqwest::Client::builder()
            .no_proxy()
            .https_only(!policy.simulator)
            .redirect(redirect_policy)
            .dns_resolver(GuardedResolver {
                simulator: policy.simulator,
            })
            .connect_timeout(limits.request_timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("grantscope/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| TransportError::Connection(format!("cannot build HTTP client: {e}")))?;
        Ok(Transport {
            client,
            policy,
            pacer,
            breaker: std::sync::Mutex::default(),
            exhausted: std::sync::Mutex::new(None),
            limits: limits.clone(),
            stats: TransportStats::default(),
        })
    }

    /// The pacer (for progress lines and a connector's body-only rate limits).
    pub fn pacer(&self) -> &Pacer {
        &self.pacer
    }

    /// Why every request of this tenant now fails at once, if it does: its
    /// provider is unreachable, or a shared allocation is down to its reserve.
    pub fn stopped(&self) -> Option<TransportError> {
        if let Some(why) = lock(&self.exhausted).clone() {
            return Some(TransportError::QuotaReserve(why));
        }
        let mut b = lock(&self.breaker);
        let (opened, since, failures) = b.open.clone()?;
        if opened.elapsed() >= self.limits.breaker_cooldown {
            // Half-open: requests may try again, and the next outage reopens it.
            b.open = None;
            b.consecutive = self.limits.breaker_failures.saturating_sub(1);
            return None;
        }
        Some(TransportError::Unreachable {
            since,
            failures,
            last: b.last.clone(),
        })
    }

    /// Counts an attempt's outcome for the circuit breaker.
    fn record(&self, outage: Option<String>) {
        let mut b = lock(&self.breaker);
        let Some(why) = outage else {
            b.consecutive = 0;
            return;
        };
        b.consecutive += 1;
        b.last = why;
        if b.open.is_none() && b.consecutive >= self.limits.breaker_failures.max(1) {
            let since = crate::scan::now_rfc3339();
            tracing::warn!(
                failures = b.consecutive,
                last = %b.last,
                "provider unreachable: circuit open"
            );
            b.open = Some((Instant::now(), since, b.consecutive));
        }
    }

    /// Sends a request with retries; `auth` is attached as `Authorization`.
    pub async fn send(
        &self,
        req: HostRequest,
        auth: Option<&Secret>,
    ) -> Result<HostResponse, TransportError> {
        let url = Url::parse(&req.url).map_err(|e| TransportError::InvalidUrl(e.to_string()))?;
        self.policy.check(&url).map_err(TransportError::Denied)?;
        let safe = matches!(
            req.method,
            reqwest::Method::GET | reqwest::Method::HEAD | reqwest::Method::OPTIONS
        ) || req.retry_unsafe;
        let class = self.pacer.class_of(url.path());
        let attempts = self.limits.http_attempts.max(1);
        let mut last = TransportError::Timeout;
        for attempt in 0..attempts {
            let final_attempt = attempt + 1 == attempts;
            if let Some(stopped) = self.stopped() {
                return Err(stopped);
            }
            self.pacer.wait_turn(class).await;
            // The circuit may have opened while this request waited its turn.
            if let Some(stopped) = self.stopped() {
                return Err(stopped);
            }
            self.stats.attempts.fetch_add(1, Ordering::Relaxed);
            if attempt > 0 {
                self.stats.retries.fetch_add(1, Ordering::Relaxed);
            }
            let outcome = self.attempt(&req, &url, auth).await;
            self.record(match &outcome {
                Ok(r) if r.status >= 500 && rate_limit_wait(r).is_none() => {
                    Some(format!("HTTP {}", r.status))
                }
                Ok(_) => None,
                Err(e) if e.is_outage() => Some(e.to_string()),
                Err(_) => None,
            });
            match outcome {
                Ok(resp) => {
                    if let Signal::Exhausted(why) = self.pacer.observe(class, &resp.headers) {
                        // This answer is good; the ones after it would eat the reserve.
                        lock(&self.exhausted).get_or_insert(why);
                    }
                    if let Some(wait) = rate_limit_wait(&resp) {
                        self.stats.throttled.fetch_add(1, Ordering::Relaxed);
                        if wait > self.limits.max_rate_limit_wait || final_attempt {
                            return Err(TransportError::RateLimited);
                        }
                        let jitter = Duration::from_millis(rand::rng().random_range(0..250));
                        self.pacer.pause(class, wait + jitter);
                        last = TransportError::RateLimited;
                        continue;
                    }
                    if resp.status >= 500 && safe && !final_attempt {
                        tokio::time::sleep(backoff(attempt)).await;
                        last = TransportError::Connection(format!("HTTP {}", resp.status));
                        continue;
                    }
                    return Ok(resp);
                }
                Err(e) => {
                    if !e.is_outage() || !safe || final_attempt {
                        return Err(e);
                    }
                    last = e;
                    tokio::time::sleep(backoff(attempt)).await;
                }
            }
        }
        Err(last)
    }

    async fn attempt(
        &self,
        req: &HostRequest,
        url: &Url,
        auth: Option<&Secret>,
    ) -> Result<HostResponse, TransportError> {
        let mut builder = self.client.request(req.method.clone(), url.clone());
        for (k, v) in &req.headers {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| TransportError::ForbiddenHeader(k.clone()))?;
            let value =
                HeaderValue::from_str(v).map_err(|_| TransportError::ForbiddenHeader(k.clone()))?;
            builder = builder.header(name, value);
        }
        if let Some(secret) = auth {
            let mut value = HeaderValue::from_str(secret.expose()).map_err(|_| {
                TransportError::Connection("the credential is not a valid header value".into())
            })?;
            value.set_sensitive(true);
            builder = builder.header(reqwest::header::AUTHORIZATION, value);
        }
        if let Some(body) = &req.body {
            builder = builder.body(body.clone());
        }
        let cap = self.limits.response_bytes;
        let work = async {
            let mut resp = builder.send().await.map_err(classify)?;
            if resp.content_length().is_some_and(|n| n > cap) {
                return Err(TransportError::TooLarge(cap));
            }
            let status = resp.status().as_u16();
            let headers = resp
                .headers()
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_owned(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let mut body = Vec::new();
            while let Some(chunk) = resp.chunk().await.map_err(classify)? {
                if body.len() as u64 + chunk.len() as u64 > cap {
                    return Err(TransportError::TooLarge(cap));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(HostResponse {
                status,
                headers,
                body,
            })
        };
        tokio::time::timeout(self.limits.request_timeout, work)
            .await
            .map_err(|_| TransportError::Timeout)?
    }
}

/// Maps a reqwest error, recognising our own denials anywhere in its chain.
fn classify(e: reqwest::Error) -> TransportError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(s) = source {
        if let Some(d) = s.downcast_ref::<ResolveDenied>() {
            return TransportError::Denied(d.0.clone());
        }
        source = s.source();
    }
    if e.is_timeout() {
        TransportError::Timeout
    } else {
        // The URL is left out: reqwest's messages carry it and the caller knows it.
        TransportError::Connection(e.without_url().to_string())
    }
}

/// How long a rate-limited response asks us to wait; `None` when it is not one.
///
/// 429 always; 403 with a provider's "remaining: 0" header (GitHub answers a primary
/// limit with 403) or with `Retry-After` (GitHub's secondary limits); 503 only with
/// `Retry-After`.
pub fn rate_limit_wait(resp: &HostResponse) -> Option<Duration> {
    let header = |name: &str| {
        resp.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    };
    let retry_after = header("retry-after").and_then(retry_after);
    let exhausted = ["x-ratelimit-remaining", "x-rate-limit-remaining"]
        .iter()
        .any(|h| header(h) == Some("0"));
    let limited = match resp.status {
        429 => true,
        403 => exhausted || retry_after.is_some(),
        503 => retry_after.is_some(),
        _ => false,
    };
    if !limited {
        return None;
    }
    if let Some(wait) = retry_after {
        return Some(wait);
    }
    let reset = ["x-ratelimit-reset", "x-rate-limit-reset", "ratelimit-reset"]
        .iter()
        .find_map(|h| header(h).and_then(|v| v.parse::<u64>().ok()));
    if let Some(reset) = reset {
        return Some(crate::pace::reset_in(reset));
    }
    Some(Duration::from_secs(1))
}

/// A `Retry-After` value (RFC 9110 §10.2.3): a number of seconds, or an HTTP date
/// (an instant in the past means now).
fn retry_after(value: &str) -> Option<Duration> {
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate(value)?;
    Some(at.duration_since(SystemTime::now()).unwrap_or_default())
}

/// Parses the IMF-fixdate form of an HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`),
/// the only form a sender may generate.
fn httpdate(value: &str) -> Option<SystemTime> {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let t = time::PrimitiveDateTime::parse(value.trim(), &format).ok()?;
    let secs = u64::try_from(t.assume_utc().unix_timestamp()).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}

/// Exponential backoff with full jitter: 0.25 s, 0.5 s, 1 s, … capped at 8 s.
fn backoff(attempt: u32) -> Duration {
    let ceiling = Duration::from_millis(250u64 << attempt.min(5)).min(Duration::from_secs(8));
    let ms = ceiling.as_millis() as u64;
    Duration::from_millis(rand::rng().random_range(ms / 2..=ms))
}

/// Headers a guest may not set: credentials, routing and hop-by-hop framing.
const FORBIDDEN_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "host",
    "connection",
    "content-length",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "keep-alive",
    "forwarded",
    "expect",
];

/// A guest request refused or failed; mapped to the WIT `egress-error`.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum GuestEgressError {
    /// Transport-level failure.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The per-call budget is spent.
    #[error("egress budget exhausted")]
    BudgetExhausted,
    /// No credential could be obtained.
    #[error("credential unavailable: {0}")]
    Credential(String),
}

/// Egress for one tenant's guests: transport + credential.
pub struct TenantEgress {
    /// Tenant name.
    pub tenant: String,
    transport: Transport,
    auth: Authenticator,
}

impl TenantEgress {
    /// Egress for `tenant`.
    pub fn new(tenant: &str, transport: Transport, auth: Authenticator) -> Self {
        TenantEgress {
            tenant: tenant.to_owned(),
            transport,
            auth,
        }
    }

    /// The transport (for counters).
    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    /// Sends a guest's request: checks its headers, attaches the credential, and
    /// fetches a new token once if the provider says the cached one is dead.
    pub async fn send_for_guest(&self, req: HostRequest) -> Result<HostResponse, GuestEgressError> {
        for (name, _) in &req.headers {
            let lower = name.to_ascii_lowercase();
            if FORBIDDEN_HEADERS.contains(&lower.as_str())
                || lower.starts_with("proxy-")
                || lower.starts_with("x-forwarded-")
            {
                return Err(TransportError::ForbiddenHeader(lower).into());
            }
        }
        let mut refreshed = false;
        loop {
            let auth = self
                .auth
                .authorization(&self.transport)
                .await
                .map_err(|e: AuthError| GuestEgressError::Credential(crate::error_chain(&e)))?;
            let resp = self.transport.send(req.clone(), Some(&auth)).await?;
            if resp.status == 401 && self.auth.refreshable() && !refreshed {
                self.auth.invalidate().await;
                refreshed = true;
                continue;
            }
            return Ok(resp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(hosts: &[&str], simulator: bool) -> Policy {
        let manifest = vec!["api.github.com".to_owned(), "*.okta.com".to_owned()];
        let hosts: Vec<String> = hosts.iter().map(|s| (*s).to_owned()).collect();
        match Policy::for_tenant("t", "c", &manifest, &hosts, simulator) {
            Ok(p) => p,
            Err(e) => panic!("{e}"),
        }
    }

    fn check(p: &Policy, url: &str) -> Result<(), String> {
        p.check(&Url::parse(url).map_err(|e| e.to_string())?)
    }

    #[test]
    fn allowlist_is_the_intersection() {
        let p = policy(&[], false);
        assert!(check(&p, "https://api.github.com/orgs/x").is_ok());
        assert!(check(&p, "https://API.GITHUB.COM/orgs/x").is_ok());
        assert!(check(&p, "http://api.github.com/orgs/x").is_err());
        assert!(check(&p, "https://evil.com/").is_err());
        assert!(check(&p, "https://api.github.com.evil.com/").is_err());
        assert!(check(&p, "https://user:pw@api.github.com/").is_err());
        assert!(check(&p, "ftp://api.github.com/").is_err());
        // Wildcards in the manifest are not reachable until the operator names a host.
        assert!(check(&p, "https://acme.okta.com/").is_err());
        let p = policy(&["acme.okta.com"], false);
        assert!(check(&p, "https://acme.okta.com/").is_ok());
        assert!(check(&p, "https://api.github.com/").is_err());
        let undeclared = Policy::for_tenant(
            "t",
            "c",
            &["api.github.com".to_owned()],
            &["example.com".to_owned()],
            false,
        );
        assert!(undeclared.is_err());
        let loopback_not_sim =
            Policy::for_tenant("t", "c", &[], &["127.0.0.1:8080".to_owned()], false);
        assert!(loopback_not_sim.is_err());
    }

    #[test]
    fn simulator_allows_only_loopback_http() {
        let p = policy(&["127.0.0.1:8080"], true);
        assert!(check(&p, "http://127.0.0.1:8080/x").is_ok());
        assert!(check(&p, "http://127.0.0.1:8081/x").is_err());
        assert!(check(&p, "http://10.0.0.1:8080/x").is_err());
    }

    #[test]
    fn wildcard_needs_a_label() {
        assert!(host_matches("*.okta.com", "acme.okta.com"));
        assert!(host_matches("*.okta.com", "a.b.okta.com"));
        assert!(!host_matches("*.okta.com", "okta.com"));
        assert!(!host_matches("*.okta.com", "evilokta.com"));
        assert!(!host_matches("*.okta.com", ".okta.com"));
    }

    #[test]
    fn address_classes() {
        let refused = [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "192.0.0.192",
            "198.18.0.1",
            "240.0.0.1",
            "::1",
            "::",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:169.254.169.254",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "2002:a00:1::",
            "2001::1",
            "2001:db8::1",
            "ff02::1",
        ];
        for ip in refused {
            let parsed: IpAddr = ip.parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
            assert!(!ip_allowed(parsed, false), "{ip} must be refused");
        }
        for ip in [
            "140.82.112.6",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            let parsed: IpAddr = ip.parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
            assert!(ip_allowed(parsed, false), "{ip} must be allowed");
        }
        assert!(ip_allowed(
            "127.0.0.1"
                .parse()
                .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            true
        ));
        assert!(!ip_allowed(
            "10.0.0.1"
                .parse()
                .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            true
        ));
    }

    #[test]
    fn rate_limit_signals() {
        let resp = |status, headers: &[(&str, &str)]| HostResponse {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            body: Vec::new(),
        };
        assert_eq!(
            rate_limit_wait(&resp(429, &[("retry-after", "3")])),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            rate_limit_wait(&resp(429, &[])),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            rate_limit_wait(&resp(403, &[("x-ratelimit-remaining", "12")])),
            None
        );
        assert!(rate_limit_wait(&resp(403, &[("x-ratelimit-remaining", "0")])).is_some());
        assert_eq!(rate_limit_wait(&resp(503, &[])), None);
        assert_eq!(rate_limit_wait(&resp(200, &[("retry-after", "3")])), None);
    }

    /// Per path: the (status, retry-after) of each successive request.
    type Script = Vec<(&'static str, Vec<(u16, Option<&'static str>)>)>;
    /// Requests seen per path.
    type Hits = Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>;

    /// A loopback server answering each path from a script of statuses, counting
    /// the requests per path.
    async fn scripted(script: Script) -> (std::net::SocketAddr, Hits) {
        use axum::http::StatusCode;
        let hits = Arc::new(std::sync::Mutex::new(std::collections::HashMap::new()));
        let script = Arc::new(script);
        let h = Arc::clone(&hits);
        let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
            let (hits, script) = (Arc::clone(&h), Arc::clone(&script));
            async move {
                let path = uri.path().to_owned();
                let n = {
                    let mut m = hits
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    let e = m.entry(path.clone()).or_insert(0);
                    *e += 1;
                    *e
                };
                let steps = script
                    .iter()
                    .find(|(p, _)| *p == path)
                    .map(|(_, s)| s.clone())
                    .unwrap_or_default();
                let (status, retry_after) = steps.get(n - 1).copied().unwrap_or((200, None));
                let mut resp = axum::response::Response::new(axum::body::Body::from("{}"));
                *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
                if let Some(r) = retry_after {
                    resp.headers_mut()
                        .insert("retry-after", HeaderValue::from_static(r));
                }
                resp
            }
        });
        let addr = crate::test_support::serve(app).await;
        (addr, hits)
    }

    fn loopback_transport(addr: std::net::SocketAddr) -> Transport {
        let policy = Policy::for_tenant("t", "c", &[], &[addr.to_string()], true)
            .unwrap_or_else(|e| panic!("{e}"));
        let limits = Limits {
            http_attempts: 3,
            ..Limits::default()
        };
        Transport::new(policy, &limits).unwrap_or_else(|e| panic!("{e}"))
    }

    #[tokio::test]
    async fn retries_follow_the_method_and_the_provider() {
        let (addr, hits) = scripted(vec![
            ("/get-500", vec![(500, None), (502, None)]),
            ("/post-500", vec![(500, None)]),
            ("/post-429", vec![(429, Some("1"))]),
            ("/get-400", vec![(400, None)]),
            (
                "/always-429",
                vec![(429, Some("0")), (429, Some("0")), (429, Some("0"))],
            ),
        ])
        .await;
        let t = loopback_transport(addr);
        let url = |p: &str| format!("http://{addr}{p}");
        let count = |p: &str| {
            hits.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .get(p)
                .copied()
                .unwrap_or(0)
        };

        // A safe method is retried through 5xx until it succeeds.
        let r = t.send(HostRequest::get(&url("/get-500")), None).await;
        assert_eq!(r.map(|r| r.status), Ok(200));
        assert_eq!(count("/get-500"), 3);

        // A POST that failed with 5xx may have taken effect: never repeated.
        let r = t
            .send(HostRequest::post(&url("/post-500"), Vec::new()), None)
            .await;
        assert_eq!(r.map(|r| r.status), Ok(500));
        assert_eq!(count("/post-500"), 1);

        // A 429 means the provider did not act: any method is retried, after the
        // wait it asked for.
        let began = Instant::now();
        let r = t
            .send(HostRequest::post(&url("/post-429"), Vec::new()), None)
            .await;
        assert_eq!(r.map(|r| r.status), Ok(200));
        assert_eq!(count("/post-429"), 2);
        assert!(
            began.elapsed() >= Duration::from_secs(1),
            "Retry-After honoured"
        );

        // Client errors are the caller's to interpret, not retried.
        let r = t.send(HostRequest::get(&url("/get-400")), None).await;
        assert_eq!(r.map(|r| r.status), Ok(400));
        assert_eq!(count("/get-400"), 1);

        // Rate-limited on every attempt: a typed error, not the 429 body.
        let r = t.send(HostRequest::get(&url("/always-429")), None).await;
        assert_eq!(r.map(|r| r.status), Err(TransportError::RateLimited));
        assert_eq!(count("/always-429"), 3);
    }

    #[tokio::test]
    async fn oversized_bodies_are_cut_off() {
        let app = axum::Router::new().fallback(|| async { "x".repeat(4096) });
        let addr = crate::test_support::serve(app).await;
        let policy = Policy::for_tenant("t", "c", &[], &[addr.to_string()], true)
            .unwrap_or_else(|e| panic!("{e}"));
        let limits = Limits {
            response_bytes: 1000,
            ..Limits::default()
        };
        let t = Transport::new(policy, &limits).unwrap_or_else(|e| panic!("{e}"));
        let r = t
            .send(HostRequest::get(&format!("http://{addr}/")), None)
            .await;
        assert_eq!(r.map(|r| r.status), Err(TransportError::TooLarge(1000)));
    }

    proptest::proptest! {
        #[test]
        fn embedded_ipv4_is_judged_as_ipv4(raw: u32, sim: bool) {
            let v4 = Ipv4Addr::from(raw);
            let plain = ip_allowed(IpAddr::V4(v4), sim);
            proptest::prop_assert_eq!(ip_allowed(IpAddr::V6(v4.to_ipv6_mapped()), sim), plain);
            let [a, b, c, d] = v4.octets();
            let nat64 = Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, u16::from_be_bytes([a, b]), u16::from_be_bytes([c, d]));
            proptest::prop_assert_eq!(ip_allowed(IpAddr::V6(nat64), sim), plain);
        }

        #[test]
        fn private_ranges_are_never_allowed(b: u8, c: u8, d: u8, sim: bool) {
            for ip in [
                Ipv4Addr::new(10, b, c, d),
                Ipv4Addr::new(172, 16 | (b & 0x0f), c, d),
                Ipv4Addr::new(192, 168, c, d),
                Ipv4Addr::new(169, 254, c, d),
            ] {
                proptest::prop_assert!(!ip_allowed(IpAddr::V4(ip), sim), "{}", ip);
            }
        }

        #[test]
        fn wildcards_match_subdomains_only(label in "[a-z0-9]{1,12}", suffix in "[a-z]{1,8}\\.[a-z]{2,4}") {
            let pattern = format!("*.{suffix}");
            let sub = format!("{label}.{suffix}");
            let glued = format!("{label}{suffix}");
            proptest::prop_assert!(host_matches(&pattern, &sub));
            proptest::prop_assert!(!host_matches(&pattern, &suffix));
            proptest::prop_assert!(!host_matches(&pattern, &glued));
        }
    }

    #[test]
    fn the_breaker_opens_after_consecutive_outages_and_half_opens_after_its_cooldown() {
        let policy = Policy::for_tenant("t", "c", &[], &["127.0.0.1:9".to_owned()], true)
            .unwrap_or_else(|e| panic!("{e}"));
        let limits = |cooldown| Limits {
            breaker_failures: 3,
            breaker_cooldown: cooldown,
            ..Limits::default()
        };
        let t = Transport::new(policy.clone(), &limits(Duration::from_secs(3600)))
            .unwrap_or_else(|e| panic!("{e}"));
        // An answer between outages resets the count.
        t.record(Some("503".into()));
        t.record(Some("503".into()));
        t.record(None);
        t.record(Some("reset".into()));
        t.record(Some("reset".into()));
        assert!(t.stopped().is_none());
        t.record(Some("timed out".into()));
        match t.stopped() {
            Some(TransportError::Unreachable { failures, last, .. }) => {
                assert_eq!((failures, last.as_str()), (3, "timed out"));
            }
            other => panic!("the circuit should be open: {other:?}"),
        }

        // Past the cooldown requests may go again, and the first outage reopens it.
        let t = Transport::new(policy, &limits(Duration::ZERO)).unwrap_or_else(|e| panic!("{e}"));
        for _ in 0..3 {
            t.record(Some("503".into()));
        }
        assert!(t.stopped().is_none(), "half-open after a zero cooldown");
        assert!(lock(&t.breaker).open.is_none());
        t.record(Some("503".into()));
        assert!(
            lock(&t.breaker).open.is_some(),
            "one more outage reopens it"
        );
        t.stopped();
        t.record(None);
        assert_eq!(lock(&t.breaker).consecutive, 0);
    }

    #[test]
    fn host_port_split() {
        assert_eq!(split_host_port("a.com:443"), ("a.com", Some("443")));
        assert_eq!(split_host_port("a.com"), ("a.com", None));
        assert_eq!(split_host_port("[::1]:80"), ("::1", Some("80")));
        assert_eq!(split_host_port("::1"), ("::1", None));
    }
}
