//! The runtime layer: what every part of the server stands on and that depends on nothing above
//! it — clocks, ids, metrics, the one error type, live fan-out (`hub`), typed locks, the rule for
//! stored text and the JSON views of the nouns. Nothing here imports `services`, `http` or `app`
//! (ARCHITECTURE.md, "Layers"); the core worker and configuration join it as the layering goes on.

pub mod clock;
pub mod error;
pub mod hub;
pub mod ids;
pub mod locks;
pub mod metrics;
pub mod text;
pub mod views;

#[cfg(test)]
mod tests {
    /// The layering rule (ARCHITECTURE.md, "Layers"): a file of `runtime/` names no module of
    /// the crate outside `runtime` — not `services`, `http` or `app`, nor any module that has not
    /// joined a layer yet. Read from the source tree, so a new file is checked too.
    #[test]
    fn runtime_imports_nothing_above_it() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/runtime");
        let mut checked = 0;
        for entry in std::fs::read_dir(&dir).expect("src/runtime") {
            let path = entry.expect("entry").path();
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
                        module.is_empty() || module == "runtime",
                        "{}:{}: the runtime layer imports `crate::{module}`, a layer above it",
                        path.display(),
                        n + 1
                    );
                }
            }
            checked += 1;
        }
        assert!(
            checked >= 9,
            "only {checked} files of src/runtime were read"
        );
    }
}
