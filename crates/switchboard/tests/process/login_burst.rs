//! Password hashing under a burst of logins (R-9.1, R-10.1): 500 concurrent logins with unknown
//! usernames are fired at a real `switchboard serve` process (SQLite). Each login costs an
//! argon2id hash of 19 MiB; the server runs at most `password_hash_workers` (the number of
//! cores) at once and refuses the overflow with 503 and `Retry-After`. The process's peak
//! resident memory (`VmHWM` of /proc/<pid>/status) stays under
//!
//! ```text
//! resident memory before the burst + workers × 20 MiB + 64 MiB
//! ```
//!
//! (one argon2 block array per worker, plus room for 500 open connections and their requests),
//! `/healthz` answers within 2 s throughout, and the memory is given back afterwards.
//! A monitor reads the process's memory every 10 ms during the burst and kills it as soon as
//! the bound is passed, so a regression fails fast instead of taking the machine's memory.

use serde_json::json;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::serve::Serve;

const ADMIN_PASSWORD: &str = "burst-admin-pass-123";
const LOGINS: usize = 500;
const MIB: u64 = 1024 * 1024;

/// A field of /proc/<pid>/status in bytes (`VmRSS`, `VmHWM`).
fn status_bytes(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|l| l.starts_with(&format!("{field}:")))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_logins_keeps_memory_bounded_and_health_answering() {
    let dir =
        std::env::temp_dir().join(format!("switchboard-burst-{:016x}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let db = format!("sqlite://{}/db", dir.display());
    let mut serve = Serve::start(&db, &dir, "serve", ADMIN_PASSWORD).expect("start");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .expect("client");
    serve.ready(&http).await.expect("ready");
    let pid = serve.child.id();

    // One login first, so the baseline includes what any server that has served a login holds.
    let r = http
        .post(format!("{}/api/v1/auth/login", serve.base))
        .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .expect("admin login");
    assert_eq!(r.status().as_u16(), 200);
    let baseline = status_bytes(pid, "VmRSS").expect("VmRSS");
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    let bound = baseline + workers * 20 * MIB + 64 * MIB;
    eprintln!(
        "baseline {} MiB, {workers} workers, bound {} MiB",
        baseline / MIB,
        bound / MIB
    );

    // The monitor: the highest resident memory seen, and a kill as soon as it passes the bound.
    let done = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(AtomicU64::new(baseline));
    let monitor = {
        let (done, seen) = (done.clone(), seen.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                let Some(rss) = status_bytes(pid, "VmRSS") else {
                    return;
                };
                seen.fetch_max(rss, Ordering::Relaxed);
                if rss > bound {
                    let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };

    // /healthz is asked every 100 ms while the burst runs; each answer must come within 2 s.
    let health = {
        let (done, http, base) = (done.clone(), http.clone(), serve.base.clone());
        tokio::spawn(async move {
            let mut answers = 0u32;
            let mut slowest = Duration::ZERO;
            while !done.load(Ordering::Relaxed) {
                let t = Instant::now();
                let r = http
                    .get(format!("{base}/healthz"))
                    .timeout(Duration::from_secs(2))
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status().is_success() => {}
                    other => {
                        return Err(format!(
                            "/healthz did not answer within 2 s during the burst: {:?}",
                            other.map(|r| r.status())
                        ))
                    }
                }
                answers += 1;
                slowest = slowest.max(t.elapsed());
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Ok((answers, slowest))
        })
    };

    let started = Instant::now();
    let logins = (0..LOGINS).map(|i| {
        let (http, base) = (http.clone(), serve.base.clone());
        tokio::spawn(async move {
            let r = http
                .post(format!("{base}/api/v1/auth/login"))
                .json(&json!({"username": format!("nobody-{i}"), "password": "not-a-password"}))
                .send()
                .await
                .map_err(|e| e.to_string())?;
            let status = r.status().as_u16();
            let retry = r.headers().get("retry-after").is_some();
            Ok::<_, String>((status, retry))
        })
    });
    let answers = futures_util::future::join_all(logins).await;
    let took = started.elapsed();
    done.store(true, Ordering::Relaxed);
    let _ = monitor.join();
    let peak = status_bytes(pid, "VmHWM");
    let health = health.await.expect("health task");

    let peak = peak.unwrap_or_else(|| {
        panic!(
            "the server died during the burst (killed above {} MiB, last seen {} MiB)",
            bound / MIB,
            seen.load(Ordering::Relaxed) / MIB
        )
    });
    let (mut checked, mut busy) = (0, 0);
    for a in answers {
        match a.expect("login task") {
            Ok((401, _)) => checked += 1,
            Ok((503, true)) => busy += 1,
            other => panic!("a login answers 401, or 503 with Retry-After: {other:?}"),
        }
    }
    eprintln!(
        "{LOGINS} logins in {took:?}: {checked} checked (401), {busy} refused busy (503); \
         peak {} MiB (baseline {} MiB)",
        peak / MIB,
        baseline / MIB
    );
    assert!(
        peak <= bound,
        "peak resident memory {} MiB over the bound {} MiB",
        peak / MIB,
        bound / MIB
    );
    assert!(checked >= workers, "some logins were checked: {checked}");
    let (answers, slowest) = health.expect("healthz");
    eprintln!("/healthz answered {answers} times, slowest {slowest:?}");
    assert!(answers >= 1);

    // Memory is given back: once idle, at most the workers' blocks stay above the baseline.
    let mut after = 0;
    for _ in 0..50 {
        after = status_bytes(pid, "VmRSS").expect("VmRSS");
        if after <= baseline + workers * 20 * MIB + 16 * MIB {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("resident after the burst: {} MiB", after / MIB);
    assert!(
        after <= baseline + workers * 20 * MIB + 16 * MIB,
        "resident memory after the burst {} MiB (baseline {} MiB)",
        after / MIB,
        baseline / MIB
    );
    drop(serve);
    let _ = std::fs::remove_dir_all(&dir);
}
