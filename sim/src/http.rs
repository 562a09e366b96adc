//! Small HTTP helpers every provider simulator needs: query strings and the public base
//! URL a client used to reach us.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::http::HeaderMap;
use axum::http::header::HOST;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Decoded query parameters, in order, repeats kept (`owner[]=a&owner[]=b`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct QueryParams(Vec<(String, String)>);

impl QueryParams {
    /// Parses `application/x-www-form-urlencoded` leniently: a malformed escape is kept
    /// literally rather than failing the request (providers do the same).
    pub(crate) fn parse(raw: &str) -> Self {
        let pairs = raw
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (percent_decode(k), percent_decode(v))
            })
            .collect();
        Self(pairs)
    }

    /// The first value of `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The pairs, in order.
    pub(crate) fn into_pairs(self) -> Vec<(String, String)> {
        self.0
    }

    /// The pairs, in order, borrowed.
    pub(crate) fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    /// Every value of any of `keys` (e.g. `["owner[]", "owner"]`).
    pub(crate) fn all<'a>(&'a self, keys: &'a [&'a str]) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| keys.contains(&k.as_str()))
            .map(|(_, v)| v.as_str())
    }
}

/// How long [`Serving::shutdown`] waits for in-flight requests (a slow fault sleeps up
/// to 2 s) before aborting the server task.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Binds `listen`; the address actually bound comes back too (the real port for `:0`).
pub(crate) async fn bind(
    listen: SocketAddr,
) -> Result<(tokio::net::TcpListener, SocketAddr), crate::SimError> {
    let err = |source| crate::SimError::Bind {
        addr: listen,
        source,
    };
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(err)?;
    let addr = listener.local_addr().map_err(err)?;
    Ok((listener, addr))
}

/// An axum server running in a tokio task until [`Serving::shutdown`] or drop.
pub(crate) struct Serving {
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Serving {
    /// Serves `app` on `listener` (with the peer address available to handlers).
    pub(crate) fn start(listener: tokio::net::TcpListener, app: Router) -> Self {
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let service = app.into_make_service_with_connect_info::<SocketAddr>();
            let result = axum::serve(listener, service)
                .with_graceful_shutdown(async {
                    // A dropped sender means the owner is gone: stop too.
                    let _ = rx.await;
                })
                .await;
            if let Err(e) = result {
                tracing::error!(error = %e, "simulator server stopped with an error");
            }
        });
        Self {
            stop: Some(tx),
            task: Some(task),
        }
    }

    /// Stops accepting, waits up to [`SHUTDOWN_GRACE`] for in-flight requests, then
    /// aborts.
    pub(crate) async fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(SHUTDOWN_GRACE, task).await.is_err() {
                abort.abort();
            }
        }
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Decodes `%XX` escapes and `+`; invalid UTF-8 becomes U+FFFD.
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = |j: usize| bytes.get(j).and_then(|c| char::from(*c).to_digit(16));
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                if let (Some(h), Some(l)) = (hex(i + 1), hex(i + 2)) {
                    // Two hex digits always fit in a byte.
                    out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            _ => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `http://{Host}` as the client addressed us, so links and URLs in bodies lead back here
/// (through whatever name or port mapping the client used). A missing or implausible Host
/// header falls back to the bound address rather than being echoed into responses.
pub(crate) fn base_url(headers: &HeaderMap, bound: SocketAddr) -> String {
    let host = headers.get(HOST).and_then(|h| h.to_str().ok()).filter(|h| {
        !h.is_empty()
            && h.len() <= 255
            && h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
    });
    match host {
        Some(h) => format!("http://{h}"),
        None => format!("http://{}", loopback_if_unspecified(bound)),
    }
}

/// A connectable address for `addr`: `0.0.0.0`/`::` become loopback.
pub(crate) fn loopback_if_unspecified(addr: SocketAddr) -> SocketAddr {
    let mut out = addr;
    if addr.ip().is_unspecified() {
        out.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn query_keeps_repeats_and_decodes() {
        let q = QueryParams::parse("owner%5B%5D=a&owner[]=b+c&token_id=7&empty&x=%zz%4");
        assert_eq!(q.all(&["owner[]"]).collect::<Vec<_>>(), ["a", "b c"]);
        assert_eq!(q.get("token_id"), Some("7"));
        assert_eq!(q.get("empty"), Some(""));
        assert_eq!(q.get("x"), Some("%zz%4"));
        assert_eq!(q.get("missing"), None);
        assert_eq!(percent_decode("%C3%A9%FF"), "é\u{fffd}");
    }

    #[test]
    fn base_url_uses_a_plausible_host_only() {
        let bound: SocketAddr = "0.0.0.0:8080".parse().expect("addr");
        let mut h = HeaderMap::new();
        assert_eq!(base_url(&h, bound), "http://127.0.0.1:8080");
        h.insert(HOST, HeaderValue::from_static("localhost:9"));
        assert_eq!(base_url(&h, bound), "http://localhost:9");
        h.insert(HOST, HeaderValue::from_static("evil.com/<script>"));
        assert_eq!(base_url(&h, bound), "http://127.0.0.1:8080");
        let v6: SocketAddr = "[::]:1".parse().expect("addr");
        assert_eq!(loopback_if_unspecified(v6).to_string(), "[::1]:1");
    }
}
