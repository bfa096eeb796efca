//! Authentication: argon2id password hashes, session tokens (cookie or bearer), login rate
//! limiting, and the access check every endpoint goes through.
//!
//! Tokens are random 256-bit values; only their SHA-256 is stored. A session is valid while its
//! row exists, has not expired and its user is active. An integration token (R-9.1, `sbt_…`)
//! is the same with a row of `api_tokens` (no expiry, or the one an admin gave it); it records
//! when it was last used, at most once a minute. Never log a token or a password.

use crate::runtime::error::ApiError;
use crate::runtime::net::canonical;
pub use crate::runtime::net::TrustedProxies;
use crate::services::Base;
use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use switchboard_domain::{AgentId, Role, Timestamp};

pub const COOKIE: &str = "sb_session";

/// How integration tokens begin (session tokens are bare hex), so one is recognised in a
/// configuration file or a leaked log, and looked up in its own table.
pub const API_TOKEN_PREFIX: &str = "sbt_";

/// An integration token's `last_used_at` is written at most this often (never on every request).
pub const TOKEN_USE_EVERY_MS: i64 = 60_000;

/// A new integration token: [`API_TOKEN_PREFIX`] and 256 random bits in hex.
pub fn new_api_token() -> String {
    format!("{API_TOKEN_PREFIX}{}", crate::runtime::ids::new_token())
}

/// The one route that may take its token from the URL (`?token=`): the websocket handshake.
pub const WEBSOCKET_PATH: &str = "/api/v1/ws";

/// Who is calling, resolved from their session.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub id: AgentId,
    pub role: Role,
    pub token_hash: String,
    /// The integration token's id when the caller presented one (not a session).
    pub api_token: Option<String>,
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

/// The argon2id hashes of one process: at most `workers` run at once, each on a thread of a
/// small fixed pool (so the 19 MiB each one needs is taken by those threads only, and the
/// allocator hands it back between bursts); at most `queue` more wait, each for at most `wait`.
/// Anything beyond is refused at once with [`Busy`] (503 with `Retry-After`): a burst of logins
/// costs bounded memory and leaves the rest of the server its cores.
pub struct PasswordHasher {
    jobs: Mutex<Option<std::sync::mpsc::Sender<Job>>>,
    slots: Arc<tokio::sync::Semaphore>,
    wait: std::time::Duration,
    workers: usize,
    capacity: usize,
}

type Job = Box<dyn FnOnce() + Send>;

/// The password hashers are all busy: the caller should try again in `retry_after_s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy {
    pub retry_after_s: u64,
}

impl IntoResponse for Busy {
    fn into_response(self) -> Response {
        with_retry_after(
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "the server is checking too many passwords right now; try again shortly",
            ),
            self.retry_after_s,
        )
    }
}

/// An error answer with a `Retry-After` header (and `retry_after_s` beside code and message).
pub fn with_retry_after(err: ApiError, secs: u64) -> Response {
    let mut resp = err.with("retry_after_s", secs).into_response();
    resp.headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
    resp
}

impl PasswordHasher {
    /// Starts `workers` hashing threads (0: one per core), with room for `queue` waiting hashes
    /// that each wait at most `wait`.
    pub fn new(workers: usize, queue: usize, wait: std::time::Duration) -> PasswordHasher {
        let workers = if workers == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            workers
        };
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..workers {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("password-hash-{i}"))
                .spawn(move || loop {
                    // The lock is held only while waiting for the next job, never while hashing.
                    let job = match rx.lock() {
                        Ok(r) => r.recv(),
                        Err(_) => return,
                    };
                    match job {
                        // A panicking job loses its answer (the caller sees Busy), not the thread.
                        Ok(job) => {
                            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                        }
                        Err(_) => return, // the hasher was dropped
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a password hashing thread");
            }
        }
        PasswordHasher {
            jobs: Mutex::new(Some(tx)),
            slots: Arc::new(tokio::sync::Semaphore::new(workers + queue)),
            wait,
            workers,
            capacity: workers + queue,
        }
    }

    /// How many hashes may run at once.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Hashes running or waiting now.
    pub fn in_use(&self) -> usize {
        // Slots are only ever taken and given back, never closed: the difference is in use.
        self.capacity.saturating_sub(self.slots.available_permits())
    }

    fn busy(&self) -> Busy {
        Busy {
            retry_after_s: self.wait.as_secs().max(1),
        }
    }

    /// Runs `f` on a hashing thread, once a slot is free; [`Busy`] if none is free now, or the
    /// work has not finished within the wait (it is then skipped if it has not started).
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Busy> {
        let Ok(slot) = self.slots.clone().try_acquire_owned() else {
            return Err(self.busy());
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            // The caller gave up (timed out or hung up): nobody wants the answer.
            if tx.is_closed() {
                return;
            }
            let v = f();
            // The slot is free before the answer is: a caller who got it may take it again.
            drop(slot);
            let _ = tx.send(v);
        });
        let sent = self
            .jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .is_some_and(|jobs| jobs.send(job).is_ok());
        if !sent {
            return Err(self.busy());
        }
        match tokio::time::timeout(self.wait, rx).await {
            Ok(Ok(v)) => Ok(v),
            _ => Err(self.busy()),
        }
    }

    /// Hashes a password with argon2id.
    pub async fn hash(&self, password: String) -> Result<String, HashError> {
        self.run(move || {
            let salt = SaltString::generate(&mut OsRng);
            Argon2::default()
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
        })
        .await
        .map_err(HashError::Busy)?
        .map_err(|_| HashError::Internal)
    }

    /// Checks a password against a stored hash; a missing hash still costs a verification so
    /// that unknown usernames cannot be told apart by timing.
    pub async fn verify(&self, password: String, hash: Option<String>) -> Result<bool, Busy> {
        self.run(move || {
            const DUMMY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$J4moa2MM0/6uf3HbY2Tf5Fux8JIBTwIhmhxGRbsY14qI";
            let stored = hash.as_deref().unwrap_or(DUMMY);
            let ok = PasswordHash::new(stored)
                .map(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
                .unwrap_or(false);
            ok && hash.is_some()
        })
        .await
    }
}

impl Drop for PasswordHasher {
    fn drop(&mut self) {
        // Closing the channel ends the threads once they finish what they hold.
        self.jobs.lock().unwrap_or_else(|e| e.into_inner()).take();
    }
}

/// Why a password could not be hashed.
#[derive(Debug)]
pub enum HashError {
    Busy(Busy),
    Internal,
}

impl IntoResponse for HashError {
    fn into_response(self) -> Response {
        match self {
            HashError::Busy(b) => b.into_response(),
            HashError::Internal => ApiError::internal().into_response(),
        }
    }
}

/// The login limit (R-9.1 "login rate-limited"; see ARCHITECTURE.md "Logins under attack").
///
/// Attempts are counted per username *and* client address (an IPv6 address by its /64): at most
/// `per_source` password checks per window, counting the checks still running, so a burst of
/// concurrent guesses gets no more checks than a slow one. A stranger elsewhere therefore cannot
/// lock a user out of their own address. Across all addresses a user gets `per_user` checks per
/// window (0: no such limit), which bounds guessing from many addresses; the addresses the user
/// logged in from in the last 30 days are exempt from it, so it keeps only strangers out.
pub struct LoginLimiter {
    limits: Limits,
    trusted: TrustedProxies,
    inner: Mutex<Attempts>,
    /// Several nodes: where this node's login outcomes go, to be counted by the other nodes
    /// too (each node's limiter counts every node's failures).
    shared: Mutex<Option<tokio::sync::mpsc::UnboundedSender<LoginOutcome>>>,
}

/// How one password check ended, for the limiters of the other nodes.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LoginOutcome {
    /// The username as counted (lower case).
    pub user: String,
    /// The address counted (an IPv6 address as its /64).
    pub source: IpAddr,
    pub at: Timestamp,
    pub success: bool,
}

/// The numbers of the login limit (from `[server]`).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub per_source: u32,
    pub per_user: u32,
    pub window_s: u32,
}

/// How long (and how many) addresses of successful logins are remembered per user.
const KNOWN_FOR_MS: i64 = 30 * 24 * 3_600_000;
const KNOWN_PER_USER: usize = 8;

#[derive(Default)]
struct Attempts {
    sources: HashMap<(String, IpAddr), Tally>,
    users: HashMap<String, Tally>,
    known: HashMap<String, Vec<(IpAddr, Timestamp)>>,
    swept: Option<Timestamp>,
}

/// Failures within the window and checks running now.
#[derive(Default)]
struct Tally {
    failures: VecDeque<Timestamp>,
    running: u32,
}

impl Tally {
    fn prune(&mut self, now: Timestamp, window_ms: i64) {
        while self
            .failures
            .front()
            .is_some_and(|t| now.millis_since(*t) >= window_ms)
        {
            self.failures.pop_front();
        }
    }
    fn used(&self) -> usize {
        self.failures.len() + self.running as usize
    }
    fn idle(&self) -> bool {
        self.failures.is_empty() && self.running == 0
    }
    /// Seconds until one more check is allowed: when the oldest failure leaves the window (or,
    /// when running checks fill the limit, a second: they may yet succeed).
    fn retry_after_s(&self, now: Timestamp, window_ms: i64) -> u64 {
        self.failures.front().map_or(1, |t| {
            let left = window_ms - now.millis_since(*t);
            u64::try_from((left + 999) / 1000).unwrap_or(1).max(1)
        })
    }
}

/// A login's place in the limit, taken before its password check: it ends as a failure
/// ([`LoginAttempt::failed`]), a success ([`LoginAttempt::succeeded`]), or, dropped (the check
/// could not run), as nothing at all.
pub struct LoginAttempt {
    limiter: Arc<LoginLimiter>,
    user: String,
    source: IpAddr,
    open: bool,
}

impl LoginAttempt {
    pub fn failed(mut self, now: Timestamp) {
        self.close(Some(now), false);
    }
    pub fn succeeded(mut self, now: Timestamp) {
        self.close(Some(now), true);
    }
    fn close(&mut self, now: Option<Timestamp>, success: bool) {
        if !self.open {
            return;
        }
        self.open = false;
        let mut guard = self.limiter.lock();
        let a = &mut *guard;
        let key = (self.user.clone(), self.source);
        for tally in [a.sources.get_mut(&key), a.users.get_mut(&self.user)]
            .into_iter()
            .flatten()
        {
            tally.running = tally.running.saturating_sub(1);
        }
        if let Some(at) = now {
            let outcome = LoginOutcome {
                user: self.user.clone(),
                source: self.source,
                at,
                success,
            };
            a.count(&outcome);
            drop(guard);
            self.limiter.share(outcome);
        } else {
            a.forget_idle(&self.user, self.source);
        }
    }
}

impl Drop for LoginAttempt {
    fn drop(&mut self) {
        self.close(None, false);
    }
}

impl LoginLimiter {
    pub fn new(limits: Limits, trusted: TrustedProxies) -> LoginLimiter {
        LoginLimiter {
            limits,
            trusted,
            inner: Mutex::new(Attempts::default()),
            shared: Mutex::new(None),
        }
    }

    /// Several nodes: this node's login outcomes are sent to `to` from now on.
    pub fn share_with(&self, to: tokio::sync::mpsc::UnboundedSender<LoginOutcome>) {
        *self.shared.lock().unwrap_or_else(|e| e.into_inner()) = Some(to);
    }

    fn share(&self, outcome: LoginOutcome) {
        if let Some(to) = self
            .shared
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            let _ = to.send(outcome);
        }
    }

    /// Several nodes: counts a login outcome of another node as if it happened here.
    pub fn count_remote(&self, outcome: &LoginOutcome) {
        let window_ms = i64::from(self.limits.window_s) * 1000;
        let mut a = self.lock();
        a.sweep(outcome.at, window_ms);
        a.count(outcome);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Attempts> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The client address a request is counted against (see [`TrustedProxies`]).
    pub fn client_address(&self, peer: Option<SocketAddr>, headers: &HeaderMap) -> IpAddr {
        self.trusted.client_address(peer, headers)
    }

    /// Takes a place for one password check of `username` from `client`, or answers how many
    /// seconds to wait.
    pub fn begin(
        self: &Arc<Self>,
        username: &str,
        client: IpAddr,
        now: Timestamp,
    ) -> Result<LoginAttempt, u64> {
        let window_ms = i64::from(self.limits.window_s) * 1000;
        let user = username.to_lowercase();
        let source = source_key(client);
        let key = (user.clone(), source);
        let mut a = self.lock();
        a.sweep(now, window_ms);
        let tally = a.sources.entry(key.clone()).or_default();
        tally.prune(now, window_ms);
        if tally.used() >= self.limits.per_source as usize {
            let wait = tally.retry_after_s(now, window_ms);
            if tally.idle() {
                a.sources.remove(&key);
            }
            return Err(wait);
        }
        let known = a.known.get(&user).is_some_and(|k| {
            k.iter()
                .any(|(ip, t)| *ip == source && now.millis_since(*t) < KNOWN_FOR_MS)
        });
        let tally = a.users.entry(user.clone()).or_default();
        tally.prune(now, window_ms);
        if self.limits.per_user > 0 && !known && tally.used() >= self.limits.per_user as usize {
            let wait = tally.retry_after_s(now, window_ms);
            if tally.idle() {
                a.users.remove(&user);
            }
            if a.sources.get(&key).is_some_and(Tally::idle) {
                a.sources.remove(&key);
            }
            return Err(wait);
        }
        tally.running += 1;
        if let Some(t) = a.sources.get_mut(&key) {
            t.running += 1;
        }
        Ok(LoginAttempt {
            limiter: self.clone(),
            user,
            source,
            open: true,
        })
    }
}

impl Attempts {
    /// Counts a finished check: a failure against its user and address; a success forgives
    /// that address's failures and remembers it as the user's own.
    fn count(&mut self, o: &LoginOutcome) {
        let key = (o.user.clone(), o.source);
        if o.success {
            if let Some(t) = self.sources.get_mut(&key) {
                t.failures.clear();
            }
            let known = self.known.entry(o.user.clone()).or_default();
            known.retain(|(ip, _)| *ip != o.source);
            known.push((o.source, o.at));
            if known.len() > KNOWN_PER_USER {
                known.remove(0);
            }
        } else {
            for tally in [
                self.sources.entry(key).or_default(),
                self.users.entry(o.user.clone()).or_default(),
            ] {
                // In time order, also when another node's outcome arrives late.
                let at = tally.failures.partition_point(|t| *t <= o.at);
                tally.failures.insert(at, o.at);
            }
        }
        self.forget_idle(&o.user, o.source);
    }

    fn forget_idle(&mut self, user: &str, source: IpAddr) {
        let key = (user.to_owned(), source);
        if self.sources.get(&key).is_some_and(Tally::idle) {
            self.sources.remove(&key);
        }
        if self.users.get(user).is_some_and(Tally::idle) {
            self.users.remove(user);
        }
    }

    /// Once per window, forgets the tallies that have nothing left in it (names tried once and
    /// never again), and addresses not used for 30 days, so the maps stay small.
    fn sweep(&mut self, now: Timestamp, window_ms: i64) {
        if self
            .swept
            .is_some_and(|t| now.millis_since(t) < window_ms.max(1000))
        {
            return;
        }
        self.swept = Some(now);
        for t in self.sources.values_mut().chain(self.users.values_mut()) {
            t.prune(now, window_ms);
        }
        self.sources.retain(|_, t| !t.idle());
        self.users.retain(|_, t| !t.idle());
        self.known.retain(|_, k| {
            k.retain(|(_, t)| now.millis_since(*t) < KNOWN_FOR_MS);
            !k.is_empty()
        });
    }
}

/// What the limit counts as one address: an IPv4 address, or the /64 network of an IPv6 one
/// (one subscriber usually holds a whole /64).
fn source_key(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
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
    state: &Base,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<(AuthUser, bool), ApiError> {
    let Some((token, from_cookie)) = presented_token(headers, query) else {
        return Err(ApiError::unauthorized());
    };
    let token_hash = hash_token(&token);
    let now = state.clock.now();
    let (id, api_token) = if token.starts_with(API_TOKEN_PREFIX) {
        let Some(t) = state.store.token_use(&token_hash).await? else {
            return Err(ApiError::unauthorized());
        };
        if t.expires_at.is_some_and(|e| e <= now) {
            return Err(ApiError::unauthorized());
        }
        if t.last_used_at
            .is_none_or(|at| now.millis_since(at) >= TOKEN_USE_EVERY_MS)
        {
            // Only the first request of each minute writes; a failure costs the caller nothing.
            let since = Timestamp(now.0 - TOKEN_USE_EVERY_MS);
            if let Err(e) = state.store.touch_token(&t.id, now, since).await {
                tracing::warn!(error = %e, token = %t.id, "cannot record an integration token's use");
            }
        }
        (t.user_id, Some(t.id))
    } else {
        let session = state.store.session(&token_hash).await?;
        let Some((id, expires)) = session else {
            return Err(ApiError::unauthorized());
        };
        if expires <= now {
            return Err(ApiError::unauthorized());
        }
        (id, None)
    };
    let Some(role) = state.core.directory.role(&id) else {
        return Err(ApiError::unauthorized());
    };
    Ok((
        AuthUser {
            id,
            role,
            token_hash,
            api_token,
        },
        from_cookie,
    ))
}

/// Whether the session or integration token `user` came with is still stored (a websocket that
/// may have missed a revocation asks).
pub async fn still_stored(store: &switchboard_store::Store, user: &AuthUser) -> bool {
    if user.api_token.is_some() {
        matches!(store.token_use(&user.token_hash).await, Ok(Some(_)))
    } else {
        matches!(store.session(&user.token_hash).await, Ok(Some(_)))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn another_nodes_failures_count_here_and_its_success_forgives_the_address() {
        let limiter = Arc::new(LoginLimiter::new(
            Limits {
                per_source: 3,
                per_user: 50,
                window_s: 60,
            },
            TrustedProxies::parse("").unwrap(),
        ));
        let ip: IpAddr = "198.51.100.7".parse().unwrap();
        let (tx, mut shared) = tokio::sync::mpsc::unbounded_channel();
        limiter.share_with(tx);
        let at = |s: i64| Timestamp(1_000_000 + s * 1000);
        let failure = |s: i64| LoginOutcome {
            user: "ann".into(),
            source: ip,
            at: at(s),
            success: false,
        };
        // Two failures elsewhere (the later one arriving first), one here: the limit of three.
        limiter.count_remote(&failure(5));
        limiter.count_remote(&failure(2));
        limiter.begin("Ann", ip, at(6)).unwrap().failed(at(6));
        assert_eq!(
            shared.try_recv().unwrap(),
            failure(6),
            "this node's failure is shared"
        );
        // The oldest (at 2 s) leaves the 60 s window first: at 62 s, 55 s from now.
        assert_eq!(limiter.begin("ann", ip, at(7)).err(), Some(55));
        // A success on another node forgives the address.
        limiter.count_remote(&LoginOutcome {
            success: true,
            ..failure(8)
        });
        assert!(limiter.begin("ann", ip, at(9)).is_ok());
    }

    #[tokio::test]
    async fn passwords_verify_only_against_their_hash() {
        let hasher = PasswordHasher::new(1, 4, std::time::Duration::from_secs(30));
        let h = hasher.hash("s3cret-pass".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert_eq!(
            hasher.verify("s3cret-pass".into(), Some(h.clone())).await,
            Ok(true)
        );
        assert_eq!(hasher.verify("wrong".into(), Some(h)).await, Ok(false));
        assert_eq!(hasher.verify("s3cret-pass".into(), None).await, Ok(false));
    }

    #[tokio::test]
    async fn hashes_beyond_the_workers_and_the_queue_are_refused_at_once() {
        let hasher = Arc::new(PasswordHasher::new(
            1,
            1,
            std::time::Duration::from_secs(30),
        ));
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let (started_tx, started) = tokio::sync::oneshot::channel();
        // The one worker is held by a job until released.
        let running = tokio::spawn({
            let hasher = hasher.clone();
            async move {
                hasher
                    .run(move || {
                        let _ = started_tx.send(());
                        let _ = hold.recv();
                    })
                    .await
            }
        });
        started.await.unwrap();
        // One more waits in the queue; a third finds no room.
        let queued = tokio::spawn({
            let hasher = hasher.clone();
            async move { hasher.verify("x".into(), None).await }
        });
        while hasher.in_use() < 2 {
            tokio::task::yield_now().await;
        }
        assert_eq!(
            hasher.verify("y".into(), None).await,
            Err(Busy { retry_after_s: 30 })
        );
        release.send(()).unwrap();
        assert_eq!(running.await.unwrap(), Ok(()));
        assert_eq!(queued.await.unwrap(), Ok(false));
        assert_eq!(hasher.in_use(), 0);
    }

    #[tokio::test]
    async fn a_queued_hash_gives_up_after_the_wait() {
        let hasher = Arc::new(PasswordHasher::new(
            1,
            4,
            std::time::Duration::from_millis(50),
        ));
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let blocker = tokio::spawn({
            let hasher = hasher.clone();
            async move {
                hasher
                    .run(move || {
                        let _ = hold.recv();
                    })
                    .await
            }
        });
        while hasher.in_use() < 1 {
            tokio::task::yield_now().await;
        }
        assert_eq!(
            hasher.verify("x".into(), None).await,
            Err(Busy { retry_after_s: 1 })
        );
        release.send(()).unwrap();
        let _ = blocker.await;
    }

    fn limiter(per_source: u32, per_user: u32) -> Arc<LoginLimiter> {
        Arc::new(LoginLimiter::new(
            Limits {
                per_source,
                per_user,
                window_s: 60,
            },
            TrustedProxies::default(),
        ))
    }

    #[test]
    fn running_checks_count_against_the_limit() {
        let l = limiter(3, 0);
        let t = Timestamp(1_000_000);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let held: Vec<LoginAttempt> = (0..3).map(|_| l.begin("Ann", ip, t).unwrap()).collect();
        assert_eq!(
            l.begin("ann", ip, t).err(),
            Some(1),
            "three checks are running"
        );
        for a in held {
            a.failed(t);
        }
        assert_eq!(l.begin("ANN", ip, t.plus_secs(10)).err(), Some(50));
        assert!(l.begin("ann", ip, t.plus_secs(60)).is_ok());
        // A check that could not run is not counted.
        let l = limiter(1, 0);
        drop(l.begin("ann", ip, t).unwrap());
        assert!(l.begin("ann", ip, t).is_ok());
    }

    #[test]
    fn other_addresses_and_known_addresses_are_not_locked_out() {
        let l = limiter(2, 3);
        let t = Timestamp(1_000_000);
        let home: IpAddr = "10.0.0.1".parse().unwrap();
        let evil: IpAddr = "192.0.2.1".parse().unwrap();
        let evil2: IpAddr = "192.0.2.2".parse().unwrap();
        let elsewhere: IpAddr = "198.51.100.1".parse().unwrap();
        l.begin("ann", home, t).unwrap().succeeded(t);
        for _ in 0..2 {
            l.begin("ann", evil, t).unwrap().failed(t);
        }
        assert!(l.begin("ann", evil, t).is_err());
        l.begin("ann", evil2, t).unwrap().failed(t);
        // Three failures across addresses: strangers wait, ann's own address does not.
        assert!(l.begin("ann", evil2, t).is_err());
        assert!(l.begin("ann", elsewhere, t).is_err());
        l.begin("ann", home, t).unwrap().succeeded(t);
        // An IPv6 client is counted by its /64.
        let l = limiter(1, 0);
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2::ffff".parse().unwrap();
        l.begin("ann", a, t).unwrap().failed(t);
        assert!(l.begin("ann", b, t).is_err());
        assert!(l
            .begin("ann", "2001:db8:1:3::1".parse().unwrap(), t)
            .is_ok());
    }

    #[test]
    fn the_client_address_comes_from_trusted_proxies_only() {
        let peer = |s: &str| Some(SocketAddr::new(s.parse().unwrap(), 1234));
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            "6.6.6.6, 1.2.3.4, 10.0.0.9".parse().unwrap(),
        );
        let none = TrustedProxies::default();
        assert_eq!(
            none.client_address(peer("10.0.0.2"), &h).to_string(),
            "10.0.0.2"
        );
        let t = TrustedProxies::parse("10.0.0.0/8, ::1").unwrap();
        assert_eq!(
            t.client_address(peer("10.0.0.2"), &h).to_string(),
            "1.2.3.4"
        );
        assert_eq!(t.client_address(peer("::1"), &h).to_string(), "1.2.3.4");
        assert_eq!(
            t.client_address(peer("::ffff:10.1.1.1"), &h).to_string(),
            "1.2.3.4"
        );
        assert_eq!(
            t.client_address(peer("11.0.0.2"), &h).to_string(),
            "11.0.0.2"
        );
        h.insert("x-forwarded-for", "junk, 10.0.0.7".parse().unwrap());
        assert_eq!(
            t.client_address(peer("10.0.0.2"), &h).to_string(),
            "10.0.0.7"
        );
        assert_eq!(
            t.client_address(peer("10.0.0.2"), &HeaderMap::new())
                .to_string(),
            "10.0.0.2"
        );
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("proxy.local").is_err());
        assert_eq!(
            none.client_address(None, &h),
            IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)
        );
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
