//! A real `switchboard serve` child process for the tests of this binary: started on a free
//! port with nothing from the caller's environment, polled until ready, killed when dropped.

use anyhow::{bail, Context};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A `switchboard serve` child process, killed (SIGKILL) when dropped.
pub struct Serve {
    pub child: Child,
    pub base: String,
    log: PathBuf,
}

impl Serve {
    /// Starts `switchboard serve` on `database_url` in `dir` (its log `dir/<name>.log`), with
    /// the first admin's password `admin_password`, on a free port.
    pub fn start(
        database_url: &str,
        dir: &Path,
        name: &str,
        admin_password: &str,
    ) -> anyhow::Result<Serve> {
        Serve::start_with(database_url, dir, name, admin_password, &[])
    }

    /// [`start`](Self::start) with more environment variables (e.g. `SWITCHBOARD_CLUSTER__…`).
    pub fn start_with(
        database_url: &str,
        dir: &Path,
        name: &str,
        admin_password: &str,
        env: &[(String, String)],
    ) -> anyhow::Result<Serve> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let log = dir.join(format!("{name}.log"));
        // The server logs to stdout: both go to the log file.
        let logfile = std::fs::File::create(&log)?;
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchboard"));
        cmd.arg("serve");
        // Nothing from the caller's environment may change the server under test.
        for (k, _) in std::env::vars() {
            if k.starts_with("SWITCHBOARD_") {
                cmd.env_remove(k);
            }
        }
        let child = cmd
            .env("SWITCHBOARD_DATABASE__URL", database_url)
            .env("SWITCHBOARD_SERVER__LISTEN", format!("127.0.0.1:{port}"))
            .env("SWITCHBOARD_ADMIN_PASSWORD", admin_password)
            .env("SWITCHBOARD_MEDIA__DIR", dir.join("media"))
            .env("SWITCHBOARD_LOG", "warn")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::from(logfile.try_clone()?))
            .stderr(logfile)
            .spawn()
            .context("cannot start switchboard serve")?;
        Ok(Serve {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        })
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Polls `/readyz` (bounded: the process needs a moment to open the database and listen).
    pub async fn ready(&mut self, http: &reqwest::Client) -> anyhow::Result<()> {
        for _ in 0..600 {
            if let Some(status) = self.child.try_wait()? {
                bail!("switchboard serve exited with {status}:\n{}", self.log());
            }
            if let Ok(r) = http.get(format!("{}/readyz", self.base)).send().await {
                if r.status().is_success() {
                    return Ok(());
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("switchboard serve not ready after 30 s:\n{}", self.log())
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no shutdown, no flush, nothing in flight finishes.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        self.kill();
    }
}
