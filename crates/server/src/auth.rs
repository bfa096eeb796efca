//! Authentication: argon2id password hashes, session tokens (cookie or bearer), login rate
//! limiting, and the access check every endpoint goes through.
//!
//! Tokens are random 256-bit values; only their SHA-256 is stored. A session is valid while its
//! row exists, has not expired and its user is active. Never log a token or a password.

use crate::app::AppState;
use crate::error::ApiError;
use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::Response;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use switchboard_domain::{AgentId, Role, Timestamp};

pub const COOKIE: &str = "sb_session";

/// The one route that may take its token from the URL (`?token=`): the websocket handshake.
pub const WEBSOCKET_PATH: &str = "/api/v1/ws";

/// Who is calling, resolved from their session.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub id: AgentId,
    pub role: Role,
    pub token_hash: String,
}

impl AuthUser {
    pub fn is_supervisor(&self) -> bool {
        self.role >= Role::Supervisor
    }
}

/// Who may call an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Public,
    Agent,
    Supervisor,
    Admin,
}

impl Access {
    pub fn min_role(self) -> Option<Role> {
        match self {
            Access::Public => None,
            Access::Agent => Some(Role::Agent),
            Access::Supervisor => Some(Role::Supervisor),
            Access::Admin => Some(Role::Admin),
        }
    }
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Hashes a password with argon2id (on a blocking thread: it is deliberately slow).
pub async fn hash_password(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
    })
    .await
    .map_err(|_| ApiError::internal())?
    .map_err(|_| ApiError::internal())
}

/// Checks a password against a stored hash; a missing hash still costs a verification so that
/// unknown usernames cannot be told apart by timing.
pub async fn verify_password(password: String, hash: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        const DUMMY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$J4moa2MM0/6uf3HbY2Tf5Fux8JIBTwIhmhxGRbsY14qI";
        let stored = hash.as_deref().unwrap_or(DUMMY);
        let ok = PasswordHash::new(stored)
            .map(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
            .unwrap_or(false);
        ok && hash.is_some()
    })
    .await
    .unwrap_or(false)
}

/// Failed logins per username within a window (R-9.1 "login rate-limited").
#[derive(Default)]
pub struct LoginLimiter {
    failures: Mutex<HashMap<String, VecDeque<Timestamp>>>,
}

impl LoginLimiter {
    /// Whether another attempt is allowed now.
    pub fn allowed(&self, username: &str, now: Timestamp, max: u32, window_s: u32) -> bool {
        let mut f = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let key = username.to_ascii_lowercase();
        let Some(q) = f.get_mut(&key) else {
            return true;
        };
        while q
            .front()
            .is_some_and(|t| now.millis_since(*t) > i64::from(window_s) * 1000)
        {
            q.pop_front();
        }
        let allowed = q.len() < max as usize;
        if q.is_empty() {
            // Forget users with no recent failure, so the map does not grow without bound.
            f.remove(&key);
        }
        allowed
    }
    pub fn failed(&self, username: &str, now: Timestamp) {
        let mut f = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        f.entry(username.to_ascii_lowercase())
            .or_default()
            .push_back(now);
    }
    pub fn succeeded(&self, username: &str) {
        let mut f = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        f.remove(&username.to_ascii_lowercase());
    }
}

/// The presented token: `Authorization: Bearer`, then `?token=` (when `query` is given: only
/// for a websocket handshake), then the session cookie. Returns the token and whether it came
/// from the cookie.
pub fn presented_token(headers: &HeaderMap, query: Option<&str>) -> Option<(String, bool)> {
    if let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        if let Some(t) = v
            .strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
        {
            let t = t.trim();
            if !t.is_empty() {
                return Some((t.to_owned(), false));
            }
        }
    }
    if let Some(q) = query {
        for pair in q.split('&') {
            if let Some(t) = pair.strip_prefix("token=") {
                if !t.is_empty() {
                    return Some((t.to_owned(), false));
                }
            }
        }
    }
    for v in headers.get_all(header::COOKIE) {
        let Ok(v) = v.to_str() else { continue };
        for c in v.split(';') {
            if let Some(t) = c.trim().strip_prefix("sb_session=") {
                if !t.is_empty() {
                    return Some((t.to_owned(), true));
                }
            }
        }
    }
    None
}

/// Resolves the caller from request headers, or answers 401.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<(AuthUser, bool), ApiError> {
    let Some((token, from_cookie)) = presented_token(headers, query) else {
        return Err(ApiError::unauthorized());
    };
    let token_hash = hash_token(&token);
    let now = state.clock.now();
    let session = state.store.session(&token_hash).await?;
    let Some((id, expires)) = session else {
        return Err(ApiError::unauthorized());
    };
    if expires <= now {
        return Err(ApiError::unauthorized());
    }
    let Some(role) = state.core.directory.role(&id) else {
        return Err(ApiError::unauthorized());
    };
    Ok((
        AuthUser {
            id,
            role,
            token_hash,
        },
        from_cookie,
    ))
}

/// Middleware enforcing an endpoint's [`Access`]: 401 without a valid session, 403 below the
/// required role, and a same-origin check for cookie-authenticated writes and websocket
/// handshakes (CSRF).
pub async fn require(
    State((state, access)): State<(AppState, Access)>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let Some(min) = access.min_role() else {
        return Ok(next.run(req).await);
    };
    // A websocket handshake is a GET, but it opens a stream of the user's data to whatever page
    // started it (cross-site websocket hijacking): check it like a write.
    let upgrade = req
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    // `?token=` only opens the websocket (a browser cannot set headers on one): anywhere else a
    // token in the URL would end up in access logs, proxies and browser history, whatever
    // handshake headers the request carries.
    let ws_route = req
        .extensions()
        .get::<MatchedPath>()
        .is_some_and(|p| p.as_str() == WEBSOCKET_PATH);
    let query = if upgrade && ws_route {
        req.uri().query()
    } else {
        None
    };
    let (user, from_cookie) = authenticate(&state, req.headers(), query).await?;
    if from_cookie
        && (upgrade || !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS))
    {
        check_same_origin(req.headers())?;
    }
    if user.role < min {
        return Err(ApiError::forbidden(format!(
            "this needs the {} role",
            min.as_str()
        )));
    }
    req.extensions_mut().insert(user);
    Ok(next.run(req).await)
}

/// A browser sends `Origin` on cross-site writes; it must name this host.
fn check_same_origin(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return Ok(());
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let origin_host = origin
        .split_once("://")
        .map_or(origin, |(_, rest)| rest)
        .trim_end_matches('/');
    if origin_host == host {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "cross-site request refused: the Origin does not match this server",
        )
        .with("reason", "csrf"))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn passwords_verify_only_against_their_hash() {
        let h = hash_password("s3cret-pass".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("s3cret-pass".into(), Some(h.clone())).await);
        assert!(!verify_password("wrong".into(), Some(h)).await);
        assert!(!verify_password("s3cret-pass".into(), None).await);
    }

    #[test]
    fn limiter_blocks_after_max_failures_within_the_window() {
        let l = LoginLimiter::default();
        let t = Timestamp(1_000_000);
        for _ in 0..3 {
            assert!(l.allowed("Ann", t, 3, 60));
            l.failed("ann", t);
        }
        assert!(!l.allowed("ANN", t, 3, 60));
        assert!(l.allowed("ann", t.plus_secs(61), 3, 60));
    }

    #[test]
    fn tokens_are_read_from_header_query_then_cookie() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, "a=b; sb_session=cookietok".parse().unwrap());
        assert_eq!(presented_token(&h, None), Some(("cookietok".into(), true)));
        assert_eq!(
            presented_token(&h, Some("since=3&token=qtok")),
            Some(("qtok".into(), false))
        );
        h.insert(header::AUTHORIZATION, "Bearer htok".parse().unwrap());
        assert_eq!(
            presented_token(&h, Some("token=qtok")),
            Some(("htok".into(), false))
        );
    }
}
