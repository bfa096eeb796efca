//! The agent desktop: a browser UI served by the binary itself. The page and its
//! assets are embedded at build time, so the binary needs nothing else on disk. The page talks to
//! the public REST API and the websocket like any other client.
//!
//! Debug builds only: with `SWITCHBOARD_UI_DIR` set to a directory (e.g. `crates/server/ui`), the
//! page and assets are read from there on each request, so UI changes show without a rebuild.
//! Release builds always serve the embedded copy.

use super::Path;
use super::{Access, Endpoint};
use crate::runtime::error::ApiError;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

const INDEX_HTML: &str = include_str!("../../ui/index.html");

/// Embeds the files of `crates/server/ui/` named here (paths under `/assets/`), with their type.
macro_rules! assets {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_str!(concat!("../../ui/", $path)))),*]
    };
}

/// Every asset of the desktop: `main.js` (the router), `lib/` (helpers every screen uses) and one
/// folder per screen. A file missing here is a 404 (the test below finds it).
const ASSETS: &[(&str, &str)] = assets![
    "main.js",
    "lib/api.js",
    "lib/base.css",
    "lib/bus.js",
    "lib/chart.js",
    "lib/dialog.js",
    "lib/dom.js",
    "lib/format.js",
    "lib/store.js",
    "lib/table.js",
    "lib/ws.js",
    "desk/actions.js",
    "desk/compose.js",
    "desk/desk.css",
    "desk/desk.js",
    "desk/events.js",
    "desk/list.js",
    "desk/notes.js",
    "desk/offers.js",
    "desk/responses.js",
    "desk/session.js",
    "desk/status.js",
    "desk/transcript.js",
    "desk/viewers.js",
    "crm/case.js",
    "crm/contact.js",
    "crm/conversations.js",
    "crm/crm.css",
    "crm/crm.js",
    "crm/history.js",
    "crm/start.js",
    "crm/state.js",
    "crm/templates.js",
    "monitor/board.css",
    "monitor/board.js",
    "playback/playback.css",
    "playback/playback.js",
    "reports/reports.css",
    "reports/reports.js",
    "watch/watch.css",
    "watch/watch.js",
    "audit/audit.css",
    "audit/audit.js",
    "admin/admin.css",
    "admin/admin.js",
    "admin/agents.js",
    "admin/breaks.js",
    "admin/channels.js",
    "admin/kit.js",
    "admin/queues.js",
    "admin/responses.js",
    "admin/settings.js",
    "admin/system.js",
    "admin/templates.js",
    "admin/tokens.js",
];

pub fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint {
            method: "GET",
            path: "/",
            summary: "The agent desktop (HTML page).",
            access: Access::Public,
            body: None,
            handler: get(index), doc: super::Doc::text(200, "text/html"),
        },
        Endpoint {
            method: "GET",
            path: "/assets/{file}",
            summary: "Static assets of the agent desktop at the top of its folder (main.js, the router); 404 for anything else.",
            access: Access::Public,
            body: None,
            handler: get(asset), doc: super::Doc::text(200, "text/javascript").and(super::Reply::Text(200, "text/css")),
        },
        Endpoint {
            method: "GET",
            path: "/assets/{dir}/{file}",
            summary: "Static assets of the agent desktop in a folder (lib/, desk/, crm/: ES modules and CSS); 404 for anything else.",
            access: Access::Public,
            body: None,
            handler: get(asset_in_dir), doc: super::Doc::text(200, "text/javascript").and(super::Reply::Text(200, "text/css")),
        },
    ]
}

/// The embedded file at `name` (a path under `/assets/`), with its content type.
fn lookup(name: &str) -> Option<(&'static str, &'static str)> {
    let body = ASSETS.iter().find(|(p, _)| *p == name)?.1;
    let content_type = if name.ends_with(".js") {
        // ES modules need a JavaScript MIME type.
        "text/javascript; charset=utf-8"
    } else if name.ends_with(".css") {
        "text/css; charset=utf-8"
    } else {
        return None;
    };
    Some((body, content_type))
}

/// The file `name` read from `SWITCHBOARD_UI_DIR` (debug builds only), if that is set.
fn from_disk(name: &str) -> Option<String> {
    if !cfg!(debug_assertions) {
        return None;
    }
    let dir = std::env::var_os("SWITCHBOARD_UI_DIR")?;
    std::fs::read_to_string(std::path::Path::new(&dir).join(name)).ok()
}

fn respond(
    name: &str,
    body: &'static str,
    content_type: &'static str,
    cache: &'static str,
) -> Response {
    let (mut resp, cache) = match from_disk(name) {
        Some(text) => (text.into_response(), "no-cache"),
        None => (body.into_response(), cache),
    };
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}

/// `GET /`
async fn index() -> Response {
    let mut resp = respond(
        "index.html",
        INDEX_HTML,
        "text/html; charset=utf-8",
        "no-cache",
    );
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' blob: data:; connect-src 'self' ws: wss:; \
             style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    resp
}

/// `GET /assets/{file}`
async fn asset(Path(file): Path<String>) -> Result<Response, ApiError> {
    serve_asset(file)
}

/// `GET /assets/{dir}/{file}`
async fn asset_in_dir(Path((dir, file)): Path<(String, String)>) -> Result<Response, ApiError> {
    serve_asset(format!("{dir}/{file}"))
}

fn serve_asset(name: String) -> Result<Response, ApiError> {
    let (body, content_type) = lookup(&name).ok_or_else(|| ApiError::not_found("asset"))?;
    // Revalidated on each load (the binary may have been upgraded), cheap to keep for a while.
    Ok(respond(
        &name,
        body,
        content_type,
        "public, max-age=300, must-revalidate",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The module paths a file imports: `import … from '…'`, `import '…'` and `import('…')`.
    fn imports(js: &str) -> Vec<String> {
        let mut out = Vec::new();
        for (i, _) in js.match_indices("import") {
            let before = js[..i].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.' || c == '$') {
                continue;
            }
            let rest = &js[i + "import".len()..];
            // The specifier: the first quoted string of the statement (before its `;` or newline
            // after `from`), for `import {…} from '…'`, `import * as x from '…'`, `import '…'`.
            let stmt_end = rest.find(';').unwrap_or(rest.len());
            let stmt = &rest[..stmt_end];
            let spec_at = match stmt.find(" from ") {
                Some(f) => f + " from ".len(),
                None if stmt.trim_start().starts_with(['\'', '"', '(']) => 0,
                None => continue,
            };
            let spec = stmt[spec_at..].trim_start().trim_start_matches('(');
            let Some(q) = spec.chars().next().filter(|c| *c == '\'' || *c == '"') else {
                continue;
            };
            if let Some(end) = spec[1..].find(q) {
                out.push(spec[1..1 + end].to_string());
            }
        }
        out
    }

    /// `spec` imported by the asset at `from`, as a path under `/assets/`.
    fn resolve(from: &str, spec: &str) -> String {
        let mut parts: Vec<&str> = if spec.starts_with("/assets/") {
            Vec::new()
        } else {
            from.split('/').collect()
        };
        parts.pop(); // the importing file (or nothing for an absolute path)
        let spec = spec.strip_prefix("/assets/").unwrap_or(spec);
        for seg in spec.split('/') {
            match seg {
                "." | "" => {}
                ".." => {
                    parts.pop();
                }
                s => parts.push(s),
            }
        }
        parts.join("/")
    }

    #[test]
    fn every_module_a_file_imports_is_served() {
        let mut checked = 0;
        for (path, body) in ASSETS.iter().filter(|(p, _)| p.ends_with(".js")) {
            for spec in imports(body) {
                assert!(
                    spec.starts_with("./")
                        || spec.starts_with("../")
                        || spec.starts_with("/assets/"),
                    "{path} imports {spec:?}: only paths of the desktop's own assets"
                );
                let target = resolve(path, &spec);
                assert!(
                    lookup(&target).is_some(),
                    "{path} imports {spec:?} ({target}), which is not served"
                );
                checked += 1;
            }
        }
        assert!(
            checked > 50,
            "only {checked} imports found: the parser misses them"
        );
        // The page itself: every script and stylesheet it names.
        for (i, _) in INDEX_HTML.match_indices("/assets/") {
            let rest = &INDEX_HTML[i + "/assets/".len()..];
            let name = &rest[..rest.find('"').expect("a quoted asset path")];
            assert!(
                lookup(name).is_some(),
                "index.html names /assets/{name}, which is not served"
            );
        }
    }

    #[test]
    fn every_file_of_the_ui_folder_is_embedded() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ui");
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).expect("ui folder") {
                let p = entry.expect("entry").path();
                if p.is_dir() {
                    stack.push(p);
                    continue;
                }
                let rel = p
                    .strip_prefix(&root)
                    .expect("under ui")
                    .to_string_lossy()
                    .replace('\\', "/");
                if rel == "index.html" {
                    continue;
                }
                assert!(
                    lookup(&rel).is_some(),
                    "ui/{rel} is not embedded (add it to ASSETS)"
                );
            }
        }
    }

    #[test]
    fn the_import_parser_finds_each_form() {
        let js = "import { a, b } from './lib/x.js';\nimport * as c from \"../d.js\";\nimport './e.js';\nconst f = await import('./f.js');\nreimport('no'); x.import('no');";
        assert_eq!(imports(js), ["./lib/x.js", "../d.js", "./e.js", "./f.js"]);
        assert_eq!(resolve("crm/crm.js", "../lib/bus.js"), "lib/bus.js");
        assert_eq!(resolve("main.js", "./desk/desk.js"), "desk/desk.js");
        assert_eq!(resolve("desk/list.js", "/assets/lib/dom.js"), "lib/dom.js");
    }

    /// The desktop's tick order is the server's delivery-status order (`STATUS_ORDER`, failed
    /// last and final): the one constant of the UI is checked against the one of the server.
    #[test]
    fn the_desktop_ranks_statuses_in_the_servers_order() {
        let (_, js) = ASSETS
            .iter()
            .find(|(p, _)| *p == "desk/transcript.js")
            .expect("desk/transcript.js is embedded");
        let line = js
            .lines()
            .find(|l| l.starts_with("export const STATUS_RANK = {"))
            .expect("STATUS_RANK is defined");
        let body = line
            .split_once('{')
            .and_then(|(_, r)| r.split_once('}'))
            .map(|(b, _)| b)
            .expect("an object literal");
        let mut ranked: Vec<(u32, &str)> = body
            .split(',')
            .filter_map(|kv| kv.split_once(':'))
            .map(|(k, v)| (v.trim().parse().expect("a number"), k.trim()))
            .collect();
        ranked.sort();
        let names: Vec<&str> = ranked.iter().map(|(_, k)| *k).collect();
        let mut want: Vec<&str> = switchboard_channels::STATUS_ORDER.to_vec();
        want.push("failed");
        assert_eq!(names, want);
    }
}
