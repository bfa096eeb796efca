//! `switchboard load` end to end, small: it sets up server, simulator, channel and bots, runs
//! every phase and prints the table (SQLite only; it is a smoke test, not a benchmark).

use std::process::Command;

#[test]
fn load_generator_runs_every_phase_and_prints_the_table() {
    let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args([
            "load",
            "--seconds",
            "1",
            "--customers",
            "20",
            "--agents",
            "2",
            "--batch",
            "4",
            "--concurrency",
            "4",
            "--reply-every",
            "5",
        ])
        .env("SWITCHBOARD_LOG", "warn")
        .output()
        .expect("run switchboard load");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    for row in [
        "warm-up: POST -> offer.created",
        "baseline: no-op POST",
        "inbound messages durable",
        "POST -> message.created",
        "outbound burst: sends accepted by the simulator",
        "outbound sends during the measured phase",
        "ratio inbound msgs/s",
    ] {
        assert!(stdout.contains(row), "no '{row}' in:\n{stdout}");
    }
    assert!(!stdout.contains("problems:"), "{stdout}");
}
