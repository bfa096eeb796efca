//! Configuration: a TOML file, then `SWITCHBOARD_<SECTION>__<KEY>` environment overrides.
//!
//! Secrets (the admin password) are read from the environment only and never logged; `Debug`
//! of [`Config`] holds nothing secret.

use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub whatsapp: WhatsappConfig,
    pub media: MediaConfig,
    pub crm: CrmConfig,
    pub reports: ReportsConfig,
}

/// `[reports]`: how reports and the supervisor's board count days.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ReportsConfig {
    /// The IANA time zone of report days and hours and of the board's "today" (`UTC`,
    /// `Europe/Berlin`, …).
    pub timezone: String,
}

impl Default for ReportsConfig {
    fn default() -> ReportsConfig {
        ReportsConfig {
            timezone: "UTC".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: String,
    /// Mark session cookies `Secure` (set when served behind TLS).
    pub secure_cookies: bool,
    /// How long a login session lasts, in hours.
    pub session_ttl_hours: u32,
    /// Password checks allowed per username and client address within `login_window_s`
    /// (running ones included); then 429 until the oldest failure leaves the window.
    pub login_max_failures: u32,
    pub login_window_s: u32,
    /// Password checks allowed per username from all addresses together within the window,
    /// except from addresses the user logged in from in the last 30 days; 0: no such limit.
    pub login_max_failures_per_user: u32,
    /// Reverse proxies whose `X-Forwarded-For` names the client (comma-separated addresses or
    /// networks, e.g. `127.0.0.1, 10.0.0.0/8`); empty: the peer address is the client.
    pub trusted_proxies: String,
    /// Password hashes (argon2id, 19 MiB each) run at once; 0: one per core.
    pub password_hash_workers: u32,
    /// Hashes that may wait for a worker; beyond, 503 with `Retry-After`.
    pub password_hash_queue: u32,
    /// How long a login or password change may wait for its hash, in milliseconds.
    pub password_hash_wait_ms: u32,
    /// How long live events are kept for replay, in hours.
    pub event_retention_hours: u32,
    /// How long audit log entries are kept, in days.
    pub audit_retention_days: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://path` (default) or `postgres://…`.
    pub url: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct WhatsappConfig {
    pub graph_api_base: String,
    /// Sends per second per number (WhatsApp's default throughput is 80).
    pub rate_per_second: u32,
    /// Messages to one customer allowed in a burst, then one every `pair_interval_ms`.
    pub pair_burst: u32,
    pub pair_interval_ms: u32,
    /// Timeout of one Graph API call, in seconds.
    pub request_timeout_s: u32,
    /// How often message templates are synced from each business account, in seconds (they
    /// are also synced at start-up); 0 turns the periodic sync off.
    pub template_sync_interval_s: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct MediaConfig {
    pub dir: String,
}

/// The external CRM: a lookup hook for the screen pop and signed event webhooks. Both
/// are off unless their URL is set. `Debug` leaves the token and the secret out.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct CrmConfig {
    /// URL template of the contact lookup, with `{phone}` standing for the customer's number
    /// (E.164 with `+`, percent-encoded), e.g. `https://crm.example/api/contacts?phone={phone}`.
    #[serde(deserialize_with = "opt_string")]
    pub lookup_url: Option<String>,
    /// How long a lookup may take before the local CRM is used instead, in milliseconds.
    pub lookup_timeout_ms: u32,
    /// Sent as `Authorization: Bearer <token>` with each lookup, if set.
    #[serde(deserialize_with = "opt_string")]
    pub lookup_token: Option<String>,
    /// Where events (`interaction.ended`, `contact.created`, `case.created`) are POSTed.
    #[serde(deserialize_with = "opt_string")]
    pub webhook_url: Option<String>,
    /// Key of the `X-Switchboard-Signature-256` HMAC; required with `webhook_url`.
    #[serde(deserialize_with = "opt_string")]
    pub webhook_secret: Option<String>,
    /// Attempts of one event before it is marked dead.
    pub webhook_max_attempts: u32,
    /// How long one delivery attempt may take, in milliseconds.
    pub webhook_timeout_ms: u32,
}

impl std::fmt::Debug for CrmConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CrmConfig")
            .field("lookup_url", &self.lookup_url)
            .field("lookup_timeout_ms", &self.lookup_timeout_ms)
            .field("lookup_token", &self.lookup_token.as_ref().map(|_| "<set>"))
            .field("webhook_url", &self.webhook_url)
            .field(
                "webhook_secret",
                &self.webhook_secret.as_ref().map(|_| "<set>"),
            )
            .field("webhook_max_attempts", &self.webhook_max_attempts)
            .field("webhook_timeout_ms", &self.webhook_timeout_ms)
            .finish()
    }
}

impl Default for CrmConfig {
    fn default() -> Self {
        CrmConfig {
            lookup_url: None,
            lookup_timeout_ms: 1500,
            lookup_token: None,
            webhook_url: None,
            webhook_secret: None,
            webhook_max_attempts: 20,
            webhook_timeout_ms: 10_000,
        }
    }
}

impl CrmConfig {
    /// An empty value means "not set" (so an environment variable can switch a hook off).
    fn normalize(&mut self) {
        for v in [
            &mut self.lookup_url,
            &mut self.lookup_token,
            &mut self.webhook_url,
            &mut self.webhook_secret,
        ] {
            if v.as_deref().is_some_and(|s| s.trim().is_empty()) {
                *v = None;
            }
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if let Some(url) = &self.lookup_url {
            if !url.contains("{phone}") {
                return Err(ConfigError::Invalid(
                    "crm.lookup_url must contain {phone} where the customer's number goes".into(),
                ));
            }
            check_http_url(
                "crm.lookup_url",
                &url.replace("{phone}", "%2B4915112345678"),
            )?;
        }
        if let Some(url) = &self.webhook_url {
            check_http_url("crm.webhook_url", url)?;
            if self.webhook_secret.is_none() {
                return Err(ConfigError::Invalid(
                    "crm.webhook_secret is required when crm.webhook_url is set \
                     (events are signed with it)"
                        .into(),
                ));
            }
        }
        for (name, v) in [
            ("crm.lookup_timeout_ms", self.lookup_timeout_ms),
            ("crm.webhook_max_attempts", self.webhook_max_attempts),
            ("crm.webhook_timeout_ms", self.webhook_timeout_ms),
        ] {
            if v == 0 {
                return Err(ConfigError::Invalid(format!("{name} must be at least 1")));
            }
        }
        Ok(())
    }
}

fn check_http_url(name: &str, url: &str) -> Result<(), ConfigError> {
    match reqwest::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Ok(()),
        _ => Err(ConfigError::Invalid(format!(
            "{name} '{url}' is not an http:// or https:// URL"
        ))),
    }
}

/// An optional string that also accepts a number or boolean as written (an environment value
/// made only of digits arrives as a TOML integer).
fn opt_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        S(String),
        I(i64),
        F(f64),
        B(bool),
    }
    Ok(Option::<Scalar>::deserialize(d)?.map(|v| match v {
        Scalar::S(s) => s,
        Scalar::I(i) => i.to_string(),
        Scalar::F(f) => f.to_string(),
        Scalar::B(b) => b.to_string(),
    }))
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:8080".into(),
            secure_cookies: false,
            session_ttl_hours: 12,
            login_max_failures: 5,
            login_window_s: 300,
            login_max_failures_per_user: 50,
            trusted_proxies: String::new(),
            password_hash_workers: 0,
            password_hash_queue: 32,
            password_hash_wait_ms: 5000,
            event_retention_hours: 24,
            audit_retention_days: 365,
        }
    }
}
impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: "sqlite://data/switchboard.db".into(),
        }
    }
}
impl Default for WhatsappConfig {
    fn default() -> Self {
        WhatsappConfig {
            graph_api_base: "https://graph.facebook.com/v21.0".into(),
            rate_per_second: 80,
            pair_burst: 45,
            pair_interval_ms: 6000,
            request_timeout_s: 10,
            template_sync_interval_s: 3600,
        }
    }
}
impl Default for MediaConfig {
    fn default() -> Self {
        MediaConfig {
            dir: "data/media".into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// Reads `path` (if given) and applies environment overrides from `vars`.
    pub fn load(
        path: Option<&Path>,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let text = match path {
            Some(p) => std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                path: p.display().to_string(),
                source,
            })?,
            None => String::new(),
        };
        Config::from_toml_and_env(&text, vars)
    }

    /// Parses TOML text and applies `SWITCHBOARD_<SECTION>__<KEY>` overrides.
    pub fn from_toml_and_env(
        text: &str,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut root: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| ConfigError::Invalid(e.to_string()))?;
        for (k, v) in vars {
            let Some(rest) = k.strip_prefix("SWITCHBOARD_") else {
                continue;
            };
            let Some((section, key)) = rest.split_once("__") else {
                continue;
            };
            let (section, key) = (section.to_ascii_lowercase(), key.to_ascii_lowercase());
            if !matches!(
                section.as_str(),
                "server" | "database" | "whatsapp" | "media" | "crm" | "reports"
            ) {
                continue;
            }
            let value = parse_env_value(&v);
            let table = root
                .entry(section.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            match table {
                toml::Value::Table(t) => {
                    t.insert(key, value);
                }
                _ => return Err(ConfigError::Invalid(format!("[{section}] must be a table"))),
            }
        }
        let mut cfg: Config = toml::Value::Table(root)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Invalid(e.to_string()))?;
        cfg.crm.normalize();
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.server.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(ConfigError::Invalid(format!(
                "server.listen '{}' is not an address like 127.0.0.1:8080",
                self.server.listen
            )));
        }
        let url = &self.database.url;
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            return Err(ConfigError::Invalid(
                "database.url must start with sqlite:// or postgres://".into(),
            ));
        }
        if self.server.login_max_failures == 0 || self.server.login_window_s == 0 {
            return Err(ConfigError::Invalid(
                "server.login_max_failures and server.login_window_s must be at least 1".into(),
            ));
        }
        if let Err(e) = crate::runtime::net::TrustedProxies::parse(&self.server.trusted_proxies) {
            return Err(ConfigError::Invalid(format!("server.trusted_proxies: {e}")));
        }
        if self.server.password_hash_wait_ms == 0 {
            return Err(ConfigError::Invalid(
                "server.password_hash_wait_ms must be at least 1".into(),
            ));
        }
        if self.server.session_ttl_hours == 0 {
            return Err(ConfigError::Invalid(
                "server.session_ttl_hours must be at least 1".into(),
            ));
        }
        if switchboard_store::report_day_of(
            switchboard_domain::Timestamp(0),
            &self.reports.timezone,
        )
        .is_err()
        {
            return Err(ConfigError::Invalid(format!(
                "reports.timezone '{}' is not a time zone name like UTC or Europe/Berlin",
                self.reports.timezone
            )));
        }
        self.crm.validate()
    }
}

/// An environment value: TOML scalars (numbers, booleans) keep their type; anything else is a
/// string.
fn parse_env_value(v: &str) -> toml::Value {
    if let Ok(b) = v.parse::<bool>() {
        return toml::Value::Boolean(b);
    }
    if let Ok(i) = v.parse::<i64>() {
        return toml::Value::Integer(i);
    }
    toml::Value::String(v.to_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn defaults_match_the_contract() {
        let c = Config::from_toml_and_env("", Vec::new()).unwrap();
        assert_eq!(c.server.listen, "127.0.0.1:8080");
        assert_eq!(c.database.url, "sqlite://data/switchboard.db");
        assert_eq!(
            c.whatsapp.graph_api_base,
            "https://graph.facebook.com/v21.0"
        );
        assert_eq!(c.media.dir, "data/media");
    }

    #[test]
    fn environment_overrides_the_file() {
        let text = "[server]\nlisten = \"127.0.0.1:9000\"\n[database]\nurl = \"sqlite://x.db\"\n";
        let env = vec![
            (
                "SWITCHBOARD_SERVER__LISTEN".to_owned(),
                "0.0.0.0:7000".to_owned(),
            ),
            (
                "SWITCHBOARD_SERVER__SECURE_COOKIES".to_owned(),
                "true".to_owned(),
            ),
            ("SWITCHBOARD_MEDIA__DIR".to_owned(), "/tmp/m".to_owned()),
            (
                "SWITCHBOARD_ADMIN_PASSWORD".to_owned(),
                "ignored".to_owned(),
            ),
            ("HOME".to_owned(), "/root".to_owned()),
        ];
        let c = Config::from_toml_and_env(text, env).unwrap();
        assert_eq!(c.server.listen, "0.0.0.0:7000");
        assert!(c.server.secure_cookies);
        assert_eq!(c.database.url, "sqlite://x.db");
        assert_eq!(c.media.dir, "/tmp/m");
    }

    #[test]
    fn invalid_values_are_refused_with_a_reason() {
        let err = Config::from_toml_and_env("[server]\nlisten = \"nope\"\n", Vec::new())
            .unwrap_err()
            .to_string();
        assert!(err.contains("server.listen"), "{err}");
        let err = Config::from_toml_and_env("[server]\nlisen = \"x\"\n", Vec::new())
            .unwrap_err()
            .to_string();
        assert!(err.contains("lisen"), "{err}");
        let err = Config::from_toml_and_env("[database]\nurl = \"mysql://x\"\n", Vec::new())
            .unwrap_err()
            .to_string();
        assert!(err.contains("database.url"), "{err}");
    }

    #[test]
    fn login_limits_and_trusted_proxies_are_checked_at_start() {
        let c = Config::from_toml_and_env("", Vec::new()).unwrap();
        assert_eq!(c.server.login_max_failures, 5);
        assert_eq!(c.server.login_max_failures_per_user, 50);
        assert_eq!(c.server.trusted_proxies, "");
        assert_eq!(c.server.password_hash_workers, 0);
        let env = vec![(
            "SWITCHBOARD_SERVER__TRUSTED_PROXIES".to_owned(),
            "127.0.0.1, 10.0.0.0/8, ::1".to_owned(),
        )];
        assert!(Config::from_toml_and_env("", env).is_ok());
        for bad in [
            "[server]\ntrusted_proxies = \"proxy.local\"\n",
            "[server]\ntrusted_proxies = \"10.0.0.0/40\"\n",
        ] {
            let err = Config::from_toml_and_env(bad, Vec::new())
                .unwrap_err()
                .to_string();
            assert!(err.contains("server.trusted_proxies"), "{err}");
        }
        let err = Config::from_toml_and_env("[server]\nlogin_max_failures = 0\n", Vec::new())
            .unwrap_err()
            .to_string();
        assert!(err.contains("server.login_max_failures"), "{err}");
    }

    #[test]
    fn crm_hooks_are_off_by_default_and_set_from_the_environment() {
        let c = Config::from_toml_and_env("", Vec::new()).unwrap();
        assert_eq!(c.crm, CrmConfig::default());
        assert!(c.crm.lookup_url.is_none() && c.crm.webhook_url.is_none());
        assert_eq!(c.crm.lookup_timeout_ms, 1500);
        assert_eq!(c.crm.webhook_max_attempts, 20);
        let env = vec![
            (
                "SWITCHBOARD_CRM__WEBHOOK_URL".to_owned(),
                "https://crm.example/hooks".to_owned(),
            ),
            // Digits only: arrives as a number, still a secret string.
            (
                "SWITCHBOARD_CRM__WEBHOOK_SECRET".to_owned(),
                "12345678".to_owned(),
            ),
            (
                "SWITCHBOARD_CRM__LOOKUP_URL".to_owned(),
                "http://crm.example/contacts?phone={phone}".to_owned(),
            ),
            (
                "SWITCHBOARD_CRM__LOOKUP_TIMEOUT_MS".to_owned(),
                "700".to_owned(),
            ),
        ];
        let c = Config::from_toml_and_env("", env).unwrap();
        assert_eq!(
            c.crm.webhook_url.as_deref(),
            Some("https://crm.example/hooks")
        );
        assert_eq!(c.crm.webhook_secret.as_deref(), Some("12345678"));
        assert_eq!(c.crm.lookup_timeout_ms, 700);
        let debug = format!("{c:?}");
        assert!(!debug.contains("12345678"), "{debug}");
        // An empty value switches a hook off.
        let env = vec![("SWITCHBOARD_CRM__WEBHOOK_URL".to_owned(), String::new())];
        let c = Config::from_toml_and_env(
            "[crm]\nwebhook_url = \"https://x.example\"\nwebhook_secret = \"s\"\n",
            env,
        )
        .unwrap();
        assert!(c.crm.webhook_url.is_none());
    }

    #[test]
    fn crm_settings_are_checked_at_start() {
        let err = Config::from_toml_and_env(
            "[crm]\nwebhook_url = \"https://crm.example/h\"\n",
            Vec::new(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("crm.webhook_secret is required"), "{err}");
        let err = Config::from_toml_and_env(
            "[crm]\nlookup_url = \"https://crm.example/c\"\n",
            Vec::new(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("{phone}"), "{err}");
        let err =
            Config::from_toml_and_env("[crm]\nlookup_url = \"ftp://x/{phone}\"\n", Vec::new())
                .unwrap_err()
                .to_string();
        assert!(err.contains("crm.lookup_url"), "{err}");
        let err = Config::from_toml_and_env(
            "[crm]\nwebhook_url = \"https://crm.example/h\"\nwebhook_secret = \"s\"\nwebhook_max_attempts = 0\n",
            Vec::new(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("crm.webhook_max_attempts"), "{err}");
    }
}
