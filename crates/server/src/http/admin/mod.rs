//! Administration (role admin): queues, agents and global settings with break reasons,
//! one module per noun.
//!
//! Every change goes through the core service like any other state change, so routing sees it
//! at once and it is durable before the answer.

mod agents;
mod queues;
mod settings;

use super::state::feature_state;
#[allow(unused_imports)]
use super::state::prelude::*;
use super::Endpoint;
use crate::runtime::core::Attach;

feature_state! {
    /// The admin endpoints' handles.
    AdminState {
    core: Core,
    store: Store,
    clock: Arc<dyn Clock>,
    hub: Hub,
    hasher: Arc<PasswordHasher>,
    channels: Arc<Channels>,
    } => base: Base { core, store, clock }
}

pub fn endpoints() -> Vec<Endpoint> {
    let mut v = queues::endpoints();
    v.extend(agents::endpoints());
    v.extend(settings::endpoints());
    v
}

/// The rows of an admin change: its audit entry.
fn audited(entry: switchboard_store::AuditRecord) -> Attach {
    Attach {
        audit: vec![entry],
        ..Attach::default()
    }
}
