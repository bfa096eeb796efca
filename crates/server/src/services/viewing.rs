//! Who is viewing and silent watch: registering that a user has an
//! interaction open, and telling the interaction's readers when that changes.
//!
//! Agents see the other users who have an interaction open, but never a supervisor who only
//! watches it (one who is not an active participant: wins over for agents);
//! supervisors see everyone. Each group gets an `interaction.viewers` event
//! `{interaction_id, viewers: [{id, name, watching}]}` only when its own list changed, so a
//! watcher coming or going sends nothing to an agent. The registry lives in memory
//! ([`Viewers`]); only the events are stored, like every event. Several nodes: each node tells
//! the others who has an interaction open through it after each change (`Link::share_viewers`);
//! the node where it changed tells the readers, the others note what they were told.

use crate::runtime::cluster::ViewersChange;
use crate::runtime::core::{Attach, Core, ViewersEvent};
use crate::runtime::error::ApiError;
use crate::runtime::viewers::{Told, Viewers};
use serde_json::{json, Value};
use switchboard_domain::*;

/// The viewing service: the core (names, roles, participants; the events) and the registry.
#[derive(Clone)]
pub struct Viewing {
    pub core: Core,
    pub viewers: Viewers,
}

/// One viewer as the JSON of `interaction.viewers` names them.
#[derive(Debug, Clone, PartialEq)]
struct Viewer {
    id: AgentId,
    name: String,
    /// A supervisor who is not taking part: hidden from agents.
    watching: bool,
}

impl Viewer {
    fn json(&self) -> Value {
        json!({"id": self.id, "name": self.name, "watching": self.watching})
    }
}

/// The viewers of `interaction` as the engine knows the users now.
fn viewers_now(engine: &Engine, interaction: &InteractionId, ids: &[AgentId]) -> Vec<Viewer> {
    let it = engine.interaction(interaction);
    ids.iter()
        .filter_map(|id| {
            let a = engine.agent(id)?;
            let taking_part = it.is_some_and(|i| {
                i.participants
                    .iter()
                    .any(|p| &p.agent_id == id && p.state != ParticipantState::Done)
            });
            Some(Viewer {
                id: id.clone(),
                name: a.display_name.clone(),
                watching: engine.is_supervisor(id) && !taking_part,
            })
        })
        .collect()
}

fn list_json(interaction: &InteractionId, list: &[Viewer]) -> Value {
    json!({
        "interaction_id": interaction,
        "viewers": list.iter().map(Viewer::json).collect::<Vec<_>>(),
    })
}

impl Viewing {
    /// `user` opened `interaction` (registered while they have a live websocket); tells its
    /// readers if what they see changed. Answers the viewers as `user` sees them.
    pub async fn open(
        &self,
        user: &AgentId,
        interaction: &InteractionId,
    ) -> Result<Value, ApiError> {
        let _order = self.viewers.order.lock().await;
        if self.viewers.open(user, interaction) {
            self.share(interaction).await;
        }
        self.tell(interaction).await?;
        self.as_seen_by(user, interaction).await
    }

    /// `user` closed `interaction`; tells its readers if what they see changed.
    pub async fn close(&self, user: &AgentId, interaction: &InteractionId) -> Result<(), ApiError> {
        let _order = self.viewers.order.lock().await;
        if self.viewers.close(user, interaction) {
            self.share(interaction).await;
            self.tell(interaction).await?;
        }
        Ok(())
    }

    /// A websocket of `user` opened.
    pub fn connected(&self, user: &AgentId) {
        self.viewers.connected(user);
    }

    /// A websocket of `user` closed: with their last one, what they had open is closed.
    pub async fn disconnected(&self, user: &AgentId) {
        let _order = self.viewers.order.lock().await;
        for id in self.viewers.disconnected(user) {
            self.share(&id).await;
            if let Err(e) = self.tell(&id).await {
                tracing::warn!(error = %e.message, interaction = %id.as_str(), "viewers not told");
            }
        }
    }

    /// Tells `interaction`'s readers again if what they see changed without a viewer coming or
    /// going (a watching supervisor took it over and now takes part).
    pub async fn refresh(&self, interaction: &InteractionId) -> Result<(), ApiError> {
        let _order = self.viewers.order.lock().await;
        self.tell(interaction).await
    }

    /// Several nodes: tells the other nodes who has `interaction` open through this one.
    async fn share(&self, interaction: &InteractionId) {
        if let Some(link) = self.core.link() {
            link.share_viewers(interaction).await;
        }
    }

    /// Several nodes: follows the other nodes' changes of viewers until they stop coming.
    pub async fn follow_other_nodes(
        self,
        mut changes: tokio::sync::mpsc::UnboundedReceiver<ViewersChange>,
    ) {
        while let Some(c) = changes.recv().await {
            let _order = self.viewers.order.lock().await;
            let done = if c.tell {
                self.tell(&c.interaction).await
            } else {
                // The node where it changed told the readers: note what they were told.
                self.lists(&c.interaction)
                    .await
                    .map(|(now, _, _)| drop(self.viewers.tell(&c.interaction, now)))
            };
            if let Err(e) = done {
                tracing::warn!(error = %e.message, interaction = %c.interaction.as_str(), "viewers of another node not followed");
            }
        }
    }

    /// What agents and supervisors see of `interaction`'s viewers now: the ids, the agents'
    /// list and everyone.
    async fn lists(
        &self,
        interaction: &InteractionId,
    ) -> Result<(Told, Vec<Viewer>, Vec<Viewer>), ApiError> {
        let ids = self.viewers.of(interaction);
        let key = interaction.clone();
        let all = self
            .core
            .read(move |s| viewers_now(&s.engine, &key, &ids))
            .await?;
        let agents: Vec<Viewer> = all.iter().filter(|v| !v.watching).cloned().collect();
        let now = Told {
            agents: agents.iter().map(|v| v.id.clone()).collect(),
            supervisors: all.iter().map(|v| v.id.clone()).collect(),
        };
        Ok((now, agents, all))
    }

    /// Tells agents and supervisors about `interaction` when their list changed (called under
    /// `order`, so events follow the changes in order).
    async fn tell(&self, interaction: &InteractionId) -> Result<(), ApiError> {
        let (now, agents, all) = self.lists(interaction).await?;
        let before = self.viewers.tell(interaction, now.clone());
        let event = ViewersEvent {
            interaction: interaction.clone(),
            agents: (before.agents != now.agents).then(|| list_json(interaction, &agents)),
            supervisors: (before.supervisors != now.supervisors)
                .then(|| list_json(interaction, &all)),
        };
        if event.agents.is_none() && event.supervisors.is_none() {
            return Ok(());
        }
        self.core
            .store(Attach {
                viewers: vec![event],
                ..Attach::default()
            })
            .await
    }

    /// `{interaction_id, viewers}` of `interaction` as `user` sees them (agents never see a
    /// supervisor who only watches).
    pub async fn as_seen_by(
        &self,
        user: &AgentId,
        interaction: &InteractionId,
    ) -> Result<Value, ApiError> {
        let ids = self.viewers.of(interaction);
        let (key, me) = (interaction.clone(), user.clone());
        let list = self
            .core
            .read(move |s| {
                let all = viewers_now(&s.engine, &key, &ids);
                if s.engine.is_supervisor(&me) {
                    all
                } else {
                    all.into_iter().filter(|v| !v.watching).collect()
                }
            })
            .await?;
        Ok(list_json(interaction, &list))
    }
}
