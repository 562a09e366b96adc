//! The Web API methods: argument parsing (query string, form or JSON body, as Slack
//! accepts), the token check, and each method's answer in the shape of
//! `testdata/providers/slack/examples/`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use base64::Engine as _;
use serde_json::{Value, json};

use super::model::{App, Key, LogEntry, Model, PROVIDER, Status, TENANT, sensitive};
use super::{body, slack_error};
use crate::Shared;
use crate::http::{QueryParams, percent_decode};
use crate::world::World;

/// Most items the simulator puts on one cursor page whatever `limit` asks: Slack
/// may return fewer items than `limit` while a cursor remains (API.md §6).
const PAGE_CAP: usize = 10;

/// Largest `count` of `team.integrationLogs` (the sibling `team.accessLogs`
/// documents 1000 items per page as its limit).
const MAX_COUNT: usize = 1000;

type Reply = Result<Response, &'static str>;

/// Arguments from the query string and the body.
struct Args(QueryParams, Vec<(String, String)>);

impl Args {
    fn get(&self, key: &str) -> Option<&str> {
        self.1
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .or_else(|| self.0.get(key))
            .filter(|v| !v.is_empty())
    }
}

fn parse_body(headers: &HeaderMap, raw: &[u8]) -> Vec<(String, String)> {
    let ct = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if ct.starts_with("application/json") {
        let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(raw) else {
            return Vec::new();
        };
        map.into_iter()
            .map(|(k, v)| {
                let s = match v {
                    Value::String(s) => s,
                    Value::Array(items) => items
                        .iter()
                        .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                        .collect::<Vec<_>>()
                        .join(","),
                    other => other.to_string(),
                };
                (k, s)
            })
            .collect()
    } else {
        // `application/x-www-form-urlencoded`, what the Slack clients send.
        String::from_utf8_lossy(raw)
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (percent_decode(k), percent_decode(v))
            })
            .collect()
    }
}

/// Every Web API method, behind the token check.
pub(super) async fn dispatch(
    State(sim): State<Arc<Shared>>,
    Path(name): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let Some(slack) = sim.slack.as_ref() else {
        return slack_error("unknown_method");
    };
    let args = Args(
        QueryParams::parse(uri.query().unwrap_or_default()),
        if method == Method::POST {
            parse_body(&headers, &raw)
        } else {
            Vec::new()
        },
    );
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let token = bearer.or_else(|| args.get("token"));
    match token {
        None => return slack_error("not_authed"),
        Some(t) if t != slack.token => return slack_error("invalid_auth"),
        Some(_) => {}
    }
    let write = method == Method::POST;
    let result = match name.as_str() {
        "admin.teams.list" => teams(&slack.model(), &args),
        "admin.apps.approved.list" => resolutions(&slack.model(), &args, Status::Approved),
        "admin.apps.restricted.list" => resolutions(&slack.model(), &args, Status::Restricted),
        "admin.apps.requests.list" => requests(&slack.model(), &args),
        "team.integrationLogs" => logs(&slack.model(), &args),
        "admin.apps.uninstall" if write => uninstall(&sim, &mut slack.model(), &args),
        "admin.apps.restrict" if write => restrict(&sim, &mut slack.model(), &args),
        "admin.apps.uninstall" | "admin.apps.restrict" => Err("invalid_request"),
        _ => Err("unknown_method"),
    };
    result.unwrap_or_else(slack_error)
}

/// The page `[offset, offset + n)` of a cursor listing and the next cursor.
fn cursor_page(args: &Args, total: usize) -> Result<(usize, usize, String), &'static str> {
    let limit = match args.get("limit") {
        None => 100,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|l| (1..=1000).contains(l))
            .ok_or("invalid_limit")?,
    };
    let offset = match args.get("cursor") {
        None => 0,
        Some(c) => decode_cursor(c).ok_or("invalid_cursor")?,
    };
    if offset > total {
        return Err("invalid_cursor");
    }
    let n = limit.min(PAGE_CAP).min(total - offset);
    let next = if offset + n < total {
        encode_cursor(offset + n)
    } else {
        String::new()
    };
    Ok((offset, n, next))
}

/// Opaque cursors, base64 like Slack's (`dGVhbTpD…`), so clients must encode them.
fn encode_cursor(offset: usize) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("offset:{offset}"))
}

fn decode_cursor(c: &str) -> Option<usize> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(c).ok()?;
    String::from_utf8(bytes)
        .ok()?
        .strip_prefix("offset:")?
        .parse()
        .ok()
}

fn listing(key: &str, items: Vec<Value>, next: &str) -> Response {
    let mut v = json!({"ok": true, "response_metadata": {"next_cursor": next}});
    v[key] = Value::Array(items);
    body(v)
}

fn teams(m: &Model, args: &Args) -> Reply {
    let (offset, n, next) = cursor_page(args, m.teams.len())?;
    let items = m.teams[offset..offset + n]
        .iter()
        .map(|t| {
            json!({
                "id": t.id,
                "name": t.name,
                "discoverability": t.discoverability,
                "primary_owner": {
                    "user_id": super::model::user_id(t.owner),
                    "email": format!("{}@acme.example", World::login(t.owner)),
                },
                "team_url": format!("https://{}.slack.com/", t.domain),
            })
        })
        .collect();
    Ok(listing("teams", items, &next))
}

/// The org or workspace an admin.apps call addresses: `Ok(None)` for the org.
fn level(m: &Model, args: &Args) -> Result<Option<usize>, &'static str> {
    match (args.get("enterprise_id"), args.get("team_id")) {
        (Some(_), Some(_)) => Err("invalid_arguments"),
        (None, None) => Err("missing_argument"),
        (Some(e), None) if e == m.enterprise.id => Ok(None),
        (Some(_), None) => Err("enterprise_not_found"),
        (None, Some(t)) => m.team_index(t).map(Some).ok_or("team_not_found"),
    }
}

fn app_json(m: &Model, a: usize) -> Value {
    let app: &App = &m.apps[a];
    let icon = |size: &str| format!("https://a.slack-edge.com/{}/service_{size}.png", app.id);
    let mut v = json!({
        "additional_info": "",
        "app_directory_url": format!("https://acme.enterprise.slack.com/apps/{}", app.id),
        "app_homepage_url": app.homepage,
        "description": app.description,
        "help_url": app.homepage,
        "icons": {
            "image_1024": icon("1024"), "image_128": icon("128"), "image_192": icon("192"),
            "image_32": icon("32"), "image_36": icon("36"), "image_48": icon("48"),
            "image_512": icon("512"), "image_64": icon("64"), "image_72": icon("72"),
            "image_96": icon("96"), "image_original": icon("original"),
        },
        "id": app.id,
        "is_app_directory_approved": app.directory_approved,
        "is_internal": app.internal,
        "name": app.name,
        "privacy_policy_url": format!("{}privacy", app.homepage),
    });
    if let Some(d) = app.developer_type {
        v["developer_type"] = json!(d);
    }
    v
}

fn scopes_json(app: &App) -> Value {
    let one = |name: &str, token_type: &str| {
        json!({
            "description": format!("{name} ({token_type} token)"),
            "is_sensitive": sensitive(name),
            "name": name,
            "token_type": token_type,
        })
    };
    let items: Vec<Value> = app
        .bot_scopes
        .iter()
        .map(|s| one(s, "bot"))
        .chain(app.user_scopes.iter().map(|s| one(s, "user")))
        .collect();
    Value::Array(items)
}

fn resolutions(m: &Model, args: &Args, status: Status) -> Reply {
    let at = level(m, args)?;
    let entries: Vec<(usize, &super::model::Resolution)> = match at {
        None => m
            .org
            .iter()
            .filter(|(_, r)| r.status == status)
            .map(|(&a, r)| (a, r))
            .collect(),
        Some(t) => m
            .team_res
            .iter()
            .filter(|((team, _), r)| *team == t && r.status == status)
            .map(|(&(_, a), r)| (a, r))
            .collect(),
    };
    let (offset, n, next) = cursor_page(args, entries.len())?;
    let items = entries[offset..offset + n]
        .iter()
        .map(|&(a, r)| {
            json!({
                "app": app_json(m, a),
                "date_updated": r.date,
                "last_resolved_by": {"actor_id": super::model::user_id(r.actor), "actor_type": "user"},
                "scopes": scopes_json(&m.apps[a]),
            })
        })
        .collect();
    let key = match status {
        Status::Approved => "approved_apps",
        Status::Restricted => "restricted_apps",
    };
    Ok(listing(key, items, &next))
}

fn requests(m: &Model, args: &Args) -> Reply {
    let at = level(m, args)?;
    let list: Vec<&super::model::Request> = m
        .requests
        .iter()
        .filter(|r| at.is_none_or(|t| r.team == t))
        .collect();
    let (offset, n, next) = cursor_page(args, list.len())?;
    let items = list[offset..offset + n]
        .iter()
        .map(|r| {
            let team = &m.teams[r.team];
            json!({
                "app": app_json(m, r.app),
                "date_created": r.date,
                "id": r.id,
                "message": r.message,
                "previous_resolution": null,
                "is_user_app_collaborator": false,
                "scopes": scopes_json(&m.apps[r.app]),
                "team": {"domain": team.domain, "id": team.id, "name": team.name},
                "user": {
                    "email": format!("{}@acme.example", World::login(r.user)),
                    "id": super::model::user_id(r.user),
                    "name": World::login(r.user),
                },
            })
        })
        .collect();
    Ok(listing("app_requests", items, &next))
}

fn log_json(m: &Model, e: &LogEntry) -> Value {
    let mut v = match e.key {
        Key::App(a) => json!({"app_id": m.apps[a].id, "app_type": m.apps[a].name}),
        Key::Service(s) => {
            let svc = &m.services[s];
            let mut v = json!({"service_type": svc.kind});
            v["service_id"] = if svc.numeric_id {
                json!(svc.id)
            } else {
                json!(svc.id.to_string())
            };
            if svc.scope == "incoming-webhook" {
                v["channel"] = json!(svc.channel);
            }
            v
        }
    };
    v["user_id"] = json!(super::model::user_id(e.user));
    v["user_name"] = json!(World::login(e.user));
    v["date"] = json!(e.date.to_string());
    v["change_type"] = json!(e.change.wire());
    v["scope"] = json!(e.scope);
    if let Some(r) = e.reason {
        v["reason"] = json!(r);
    }
    v
}

fn logs(m: &Model, args: &Args) -> Reply {
    let t = m
        .team_index(args.get("team_id").ok_or("missing_argument")?)
        .ok_or("team_not_found")?;
    let number = |key: &str, default: usize| match args.get(key) {
        None => Ok(default),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or("invalid_arguments"),
    };
    let count = number("count", 100)?.min(MAX_COUNT);
    let page = number("page", 1)?;
    let app = args.get("app_id");
    let service = args.get("service_id");
    let change = args.get("change_type");
    let user = args.get("user");
    // Newest first, as Slack's integration log reads.
    let list: Vec<&LogEntry> = m.logs[t]
        .iter()
        .rev()
        .filter(|e| match e.key {
            Key::App(a) => app.is_none_or(|x| m.apps[a].id == x) && service.is_none(),
            Key::Service(s) => {
                service.is_none_or(|x| m.services[s].id.to_string() == x) && app.is_none()
            }
        })
        .filter(|e| change.is_none_or(|c| e.change.wire() == c))
        .filter(|e| user.is_none_or(|u| super::model::user_id(e.user) == u))
        .collect();
    let total = list.len();
    let pages = total.div_ceil(count).max(1);
    let items: Vec<Value> = list
        .iter()
        .skip((page - 1).saturating_mul(count))
        .take(count)
        .map(|e| log_json(m, e))
        .collect();
    Ok(body(json!({
        "ok": true,
        "logs": items,
        "paging": {"count": count, "total": total, "page": page, "pages": pages},
    })))
}

fn target(local: &str) -> String {
    format!("{PROVIDER}/{TENANT}/{local}")
}

fn uninstall(sim: &Shared, m: &mut Model, args: &Args) -> Reply {
    let app = args.get("app_id").ok_or("missing_argument")?;
    let scope = match (args.get("enterprise_id"), args.get("team_ids")) {
        (Some(_), Some(_)) | (None, None) => return Err("invalid_arguments"),
        (Some(e), None) if e != m.enterprise.id => return Err("enterprise_not_found"),
        (Some(_), None) => None,
        (None, Some(list)) => {
            let ids: Vec<&str> = list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect();
            if ids.is_empty() || ids.len() > 100 {
                return Err("invalid_arguments");
            }
            let teams = ids
                .iter()
                .map(|id| m.team_index(id).ok_or("team_not_found"))
                .collect::<Result<Vec<usize>, _>>()?;
            Some(teams)
        }
    };
    let a = m.app_index(app);
    let app_id = a.map(|a| m.apps[a].id.clone());
    // Every grant the call addresses is counted, also when nothing is there.
    match (&scope, a) {
        (None, Some(a)) => {
            sim.stats
                .revocation(PROVIDER, target(&m.org_approval_id(a)), app_id.as_deref());
        }
        (Some(teams), Some(a)) => {
            for &t in teams {
                sim.stats.revocation(
                    PROVIDER,
                    target(&m.installation_id(t, a)),
                    app_id.as_deref(),
                );
            }
        }
        (_, None) => {}
    }
    let a = a.ok_or("app_not_found")?;
    let removed = match scope {
        None => m.uninstall_everywhere(a),
        Some(teams) => m.uninstall_teams(a, &teams),
    };
    // Nothing of the app was there: Slack's "the provided app_id was not found".
    if removed {
        Ok(body(json!({"ok": true})))
    } else {
        Err("app_not_found")
    }
}

fn restrict(sim: &Shared, m: &mut Model, args: &Args) -> Reply {
    let at = level(m, args)?;
    let a = match (args.get("app_id"), args.get("request_id")) {
        (Some(_), Some(_)) | (None, None) => return Err("invalid_arguments"),
        (Some(id), None) => m.app_index(id).ok_or("app_not_found")?,
        (None, Some(r)) => m
            .requests
            .iter()
            .find(|q| q.id == r)
            .map(|q| q.app)
            .ok_or("invalid_arguments")?,
    };
    let app_id = m.apps[a].id.clone();
    let now = m.clock;
    match at {
        None => {
            sim.stats.revocation(
                PROVIDER,
                target(&format!("app-restriction:{app_id}")),
                Some(&app_id),
            );
            m.restrict_org(a, now);
        }
        Some(t) => {
            sim.stats.revocation(
                PROVIDER,
                target(&format!("app-restriction:{}:{app_id}", m.teams[t].id)),
                Some(&app_id),
            );
            m.restrict_team(a, t, now);
        }
    }
    Ok(body(json!({"ok": true})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        for n in [0, 1, 10, 12345] {
            assert_eq!(decode_cursor(&encode_cursor(n)), Some(n));
        }
        assert_eq!(decode_cursor("not base64!"), None);
        assert_eq!(
            decode_cursor(&base64::engine::general_purpose::STANDARD.encode("x")),
            None
        );
    }

    #[test]
    fn logs_filter_and_page() {
        let m = Model::generate(&World::new(12, 400));
        let t = &m.teams[0].id;
        let args = |extra: &str| {
            Args(
                QueryParams::parse(&format!("team_id={t}&{extra}")),
                Vec::new(),
            )
        };
        assert!(logs(&m, &args("count=1")).is_ok());
        assert_eq!(logs(&m, &args("count=0")).err(), Some("invalid_arguments"));
        let none = Args(QueryParams::parse("count=5"), Vec::new());
        assert_eq!(logs(&m, &none).err(), Some("missing_argument"));
        let total = m.logs[0].len();
        assert!(total > 0);
    }
}
