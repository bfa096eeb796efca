//! The services layer: the logic several features share, and the background loops. Each
//! service is a struct holding exactly the handles it needs (cheap clones of the shared ones);
//! the HTTP layer extracts the one a handler needs (axum `FromRef`), and `app` hands each
//! background loop its own. Services stand on `runtime` and never import `http` or `app`
//! (ARCHITECTURE.md, "Layers").
//!
//! Field names are the same in every service (`core`, `store`, `clock`, `locks`, …), so a
//! function moves from one service to a wider one without changing its body.

pub mod audit;
pub mod auth;
pub mod contacts;
pub mod crm;
pub mod ingest;
pub mod interactions;
pub mod maintenance;
pub mod messaging;
pub mod monitor;
pub mod paging;
pub mod responses;
pub mod templates;
pub mod users;
pub mod viewing;
pub mod whatsapp;

use crate::runtime::clock::Clock;
use crate::runtime::core::Core;
use std::sync::Arc;
use switchboard_store::Store;

/// What most services read and change through: the core worker (every change, and the live
/// state), the store (reads) and the clock. Alone, it is the service of interactions as a
/// caller sees them ([`interactions`]), users ([`users`]) and sessions ([`auth::authenticate`]).
#[derive(Clone)]
pub struct Base {
    pub core: Core,
    pub store: Store,
    pub clock: Arc<dyn Clock>,
}

#[cfg(test)]
mod tests {
    /// The layering rule (ARCHITECTURE.md, "Layers"): a file of `services/` names no module of
    /// the crate above it (`http`, `app`). Read from the source tree, so a new file is checked.
    #[test]
    fn services_import_neither_http_nor_app() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/services");
        let checked = crate::runtime::tests::check_imports(&dir, &["runtime", "services"]);
        assert!(
            checked >= 14,
            "only {checked} files of src/services were read"
        );
    }
}
