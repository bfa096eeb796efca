//! The runtime layer: what every part of the server stands on and that depends on nothing above
//! it — the core worker that owns the routing engine and commits every change (`core`), the
//! configuration, clocks (and the shutdown signal), ids, metrics, the one error type, live
//! fan-out (`hub`), typed locks, client addresses (`net`), the rule for stored text, the JSON
//! views of the nouns and the rows the core writes beside the engine's changes (`records`), who has
//! which interaction open (`viewers`, in memory only). Nothing here imports `services`, `http` or `app`
//! (ARCHITECTURE.md, "Layers").

pub mod clock;
pub mod cluster;
pub mod config;
pub mod core;
pub mod error;
pub mod hub;
pub mod ids;
pub mod locks;
pub mod metrics;
pub mod monitor;
pub mod net;
pub mod records;
pub mod text;
pub mod viewers;
pub mod views;

#[cfg(test)]
pub(crate) mod tests {
    /// Checks every `.rs` file under `dir` (recursively): each `crate::<module>` it names must be
    /// one of `allowed`. Returns how many files were read.
    pub(crate) fn check_imports(dir: &std::path::Path, allowed: &[&str]) -> usize {
        let mut checked = 0;
        for entry in std::fs::read_dir(dir).expect("read the source directory") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                checked += check_imports(&path, allowed);
                continue;
            }
            if path.extension().and_then(|e| e.to_str()) != Some("rs") {
                continue;
            }
            let src = std::fs::read_to_string(&path).expect("read");
            for (n, line) in src.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                for (i, _) in code.match_indices("crate::") {
                    let rest = &code[i + "crate::".len()..];
                    let module: String = rest
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    assert!(
                        module.is_empty() || allowed.contains(&module.as_str()),
                        "{}:{}: `crate::{module}` is a layer above this one",
                        path.display(),
                        n + 1
                    );
                }
            }
            checked += 1;
        }
        checked
    }

    /// The layering rule (ARCHITECTURE.md, "Layers"): a file of `runtime/` names no module of
    /// the crate outside `runtime` — not `services`, `http` or `app`. Read from the source tree,
    /// so a new file is checked too.
    #[test]
    fn runtime_imports_nothing_above_it() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/runtime");
        let checked = check_imports(&dir, &["runtime"]);
        assert!(
            checked >= 13,
            "only {checked} files of src/runtime were read"
        );
    }
}
