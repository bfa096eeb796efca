//! The HTTP layer's state: the handles a running server shares, and the sub-states handlers
//! extract from it (axum `FromRef`).

use crate::runtime::clock::Clock;
use crate::runtime::config::Config;
use crate::runtime::core::Core;
use crate::runtime::hub::Hub;
use crate::runtime::locks::KeyedLocks;
use crate::runtime::metrics::Metrics;
use crate::runtime::monitor::Today;
use crate::runtime::viewers::Viewers;
use crate::services::auth::{LoginLimiter, PasswordHasher};
use crate::services::crm::delivery::Delivery;
use crate::services::crm::Crm;
use crate::services::ingest::Ingest;
use crate::services::maintenance::Maintenance;
use crate::services::messaging::Messaging;
use crate::services::monitor::Monitor;
use crate::services::templates::TemplateSync;
use crate::services::viewing::Viewing;
use crate::services::whatsapp::media::{Blobs, MediaService};
use crate::services::whatsapp::outbox::Outbox;
use crate::services::whatsapp::webhook::Webhooks;
use crate::services::whatsapp::Channels;
use crate::services::Base;
use axum::extract::FromRef;
use std::sync::Arc;
use switchboard_store::Store;
use tokio::sync::{watch, Notify};

/// The shared handles of a running server, from which each handler extracts what it needs: a
/// service (`State<Messaging>`, `State<Base>`, …, built by [`FromRef`]) or one handle
/// (`State<Store>`, `State<Hub>`, …). Built once by `app`; handlers never take it whole.
#[derive(Clone)]
pub struct AppState {
    pub core: Core,
    pub store: Store,
    pub hub: Hub,
    pub metrics: Arc<Metrics>,
    pub clock: Arc<dyn Clock>,
    pub config: Arc<Config>,
    pub limiter: Arc<LoginLimiter>,
    /// Every argon2id hash (logins, new and changed passwords) runs here, bounded.
    pub hasher: Arc<PasswordHasher>,
    /// The server's locks, one per [`LockKey`] (what each protects, and the order rule).
    pub locks: Arc<KeyedLocks>,
    pub shutdown: watch::Receiver<bool>,
    /// Connected WhatsApp numbers.
    pub channels: Arc<Channels>,
    /// The WhatsApp Cloud API client (`whatsapp.graph_api_base`).
    pub graph: switchboard_channels::GraphClient,
    /// Wakes the outbox when a message was queued.
    pub outbox_wake: Arc<Notify>,
    /// Counts send attempts whose outcome is stored (for metrics and for tests to await).
    pub outbox_attempts: Arc<watch::Sender<u64>>,
    /// The media blob store (`media.dir`).
    pub blobs: Blobs,
    /// Wakes the media service when customer media was stored.
    pub media_wake: Arc<Notify>,
    /// The external CRM: lookup client, webhook configuration, the delivery service's wake-up.
    pub crm: Arc<Crm>,
    /// Today's figures per queue on the supervisor's board.
    pub today: Today,
    /// Wakes the template sync (a status webhook named a template not known yet).
    pub template_sync_wake: Arc<Notify>,
    /// Who has which interaction open, and who watches one (in memory only, R-8.10).
    pub viewers: Viewers,
}

impl AppState {
    /// The ingest service on these handles (the one entry of customer messages).
    pub fn ingest(&self) -> Ingest {
        Ingest::from_ref(self)
    }
}

/// One `FromRef` per sub-state: `$ty` from the named fields of [`AppState`].
macro_rules! sub_state {
    ($ty:ty { $($field:ident),* $(,)? }) => {
        impl FromRef<AppState> for $ty {
            fn from_ref(s: &AppState) -> $ty {
                Self { $($field: s.$field.clone()),* }
            }
        }
    };
}

sub_state!(Base { core, store, clock });
sub_state!(Viewing { core, viewers });
sub_state!(Ingest {
    core,
    store,
    clock,
    locks
});
sub_state!(Messaging {
    core,
    store,
    clock,
    locks,
    channels,
    blobs,
    outbox_wake
});
sub_state!(Webhooks {
    core,
    store,
    clock,
    locks,
    metrics,
    channels,
    media_wake,
    template_sync_wake
});
sub_state!(MediaService {
    core,
    store,
    clock,
    locks,
    channels,
    graph,
    blobs,
    media_wake,
    shutdown
});
sub_state!(Delivery {
    core,
    store,
    clock,
    metrics,
    crm,
    shutdown
});

impl FromRef<AppState> for Outbox {
    fn from_ref(s: &AppState) -> Outbox {
        Outbox {
            core: s.core.clone(),
            store: s.store.clone(),
            clock: s.clock.clone(),
            locks: s.locks.clone(),
            channels: s.channels.clone(),
            graph: s.graph.clone(),
            blobs: s.blobs.clone(),
            whatsapp: s.config.whatsapp.clone(),
            metrics: s.metrics.clone(),
            outbox_wake: s.outbox_wake.clone(),
            outbox_attempts: s.outbox_attempts.clone(),
            shutdown: s.shutdown.clone(),
        }
    }
}

impl FromRef<AppState> for TemplateSync {
    fn from_ref(s: &AppState) -> TemplateSync {
        TemplateSync {
            store: s.store.clone(),
            locks: s.locks.clone(),
            clock: s.clock.clone(),
            channels: s.channels.clone(),
            graph: s.graph.clone(),
            template_sync_wake: s.template_sync_wake.clone(),
            shutdown: s.shutdown.clone(),
        }
    }
}

impl FromRef<AppState> for Monitor {
    fn from_ref(s: &AppState) -> Monitor {
        Monitor {
            core: s.core.clone(),
            store: s.store.clone(),
            clock: s.clock.clone(),
            today: s.today.clone(),
            timezone: s.config.reports.timezone.clone(),
        }
    }
}

impl FromRef<AppState> for Maintenance {
    fn from_ref(s: &AppState) -> Maintenance {
        Maintenance {
            store: s.store.clone(),
            clock: s.clock.clone(),
            event_retention_hours: s.config.server.event_retention_hours,
            audit_retention_days: s.config.server.audit_retention_days,
            shutdown: s.shutdown.clone(),
        }
    }
}

/// Single handles, for handlers that need one or two.
macro_rules! handle {
    ($ty:ty, $field:ident) => {
        impl FromRef<AppState> for $ty {
            fn from_ref(s: &AppState) -> $ty {
                s.$field.clone()
            }
        }
    };
}

handle!(Core, core);
handle!(Store, store);
handle!(Hub, hub);
handle!(Arc<Metrics>, metrics);
handle!(Arc<dyn Clock>, clock);
handle!(Arc<Config>, config);
handle!(Arc<LoginLimiter>, limiter);
handle!(Arc<PasswordHasher>, hasher);
handle!(Arc<KeyedLocks>, locks);
handle!(Arc<Channels>, channels);
handle!(Blobs, blobs);
handle!(Arc<Crm>, crm);

/// Declares a feature's state: a struct of exactly the handles its handlers use, extracted
/// from [`AppState`] by name (`State<AdminState>`), and the services it hands to shared logic
/// (`state.base()`, `state.messaging()`), made from the same handles.
macro_rules! feature_state {
    (
        $(#[$meta:meta])*
        $name:ident { $($field:ident : $ty:ty),* $(,)? }
        $(=> $($method:ident : $service:ident { $($sfield:ident),* $(,)? }),* $(,)?)?
    ) => {
        $(#[$meta])*
        #[derive(Clone)]
        pub struct $name {
            $(pub $field: $ty),*
        }

        impl axum::extract::FromRef<$crate::http::AppState> for $name {
            fn from_ref(s: &$crate::http::AppState) -> $name {
                $name { $($field: s.$field.clone()),* }
            }
        }

        $(impl $name {
            $(
                #[allow(dead_code)]
                pub fn $method(&self) -> $service {
                    $service { $($sfield: self.$sfield.clone()),* }
                }
            )*
        })?
    };
}
pub(crate) use feature_state;

/// The types a feature state names.
pub(crate) mod prelude {
    pub use crate::runtime::clock::Clock;
    pub use crate::runtime::config::Config;
    pub use crate::runtime::core::Core;
    pub use crate::runtime::hub::Hub;
    pub use crate::runtime::locks::KeyedLocks;
    pub use crate::runtime::metrics::Metrics;
    pub use crate::runtime::viewers::Viewers;
    pub use crate::services::auth::{LoginLimiter, PasswordHasher};
    pub use crate::services::crm::Crm;
    pub use crate::services::messaging::Messaging;
    pub use crate::services::templates::TemplateSync;
    pub use crate::services::viewing::Viewing;
    pub use crate::services::whatsapp::media::Blobs;
    pub use crate::services::whatsapp::Channels;
    pub use crate::services::Base;
    pub use std::sync::Arc;
    pub use switchboard_store::Store;
    pub use tokio::sync::{watch, Notify};
}
