//! Who has which interaction open and who watches one silently: kept in
//! memory only, never stored and never an engine change.
//!
//! A user views an interaction while they have at least one live websocket: registering without
//! one registers nothing, and when a user's last socket closes everything they had open is
//! forgotten. The registry also remembers the last lists told to agents and to supervisors for
//! each interaction, so an event goes out only when what its readers see changed (a silent
//! watcher coming or going never reaches an agent).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use switchboard_domain::{AgentId, InteractionId};

/// What the readers of `interaction.viewers` were last told about one interaction: the agents'
/// list and the supervisors' list (user ids, in order).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Told {
    pub agents: Vec<AgentId>,
    pub supervisors: Vec<AgentId>,
}

#[derive(Default)]
struct Registry {
    /// Open websockets per user.
    sockets: HashMap<AgentId, usize>,
    /// Who has each interaction open.
    open: HashMap<InteractionId, BTreeSet<AgentId>>,
    /// What each user has open.
    by_user: HashMap<AgentId, BTreeSet<InteractionId>>,
    told: HashMap<InteractionId, Told>,
    /// Several nodes: who has each interaction open through each other node (as that node
    /// last said).
    remote: HashMap<InteractionId, HashMap<String, BTreeSet<AgentId>>>,
}

/// The shared registry (cheap to clone). `order` serializes the services that turn a change into
/// an event, so events about one interaction are committed in the order of the changes.
#[derive(Clone, Default)]
pub struct Viewers {
    inner: Arc<Mutex<Registry>>,
    pub order: Arc<tokio::sync::Mutex<()>>,
}

impl Viewers {
    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A websocket of `user` opened.
    pub fn connected(&self, user: &AgentId) {
        *self.lock().sockets.entry(user.clone()).or_insert(0) += 1;
    }

    /// A websocket of `user` closed; when it was their last, everything they had open is
    /// forgotten and those interactions are returned.
    pub fn disconnected(&self, user: &AgentId) -> Vec<InteractionId> {
        let mut r = self.lock();
        let left = match r.sockets.get_mut(user) {
            Some(n) => {
                *n = n.saturating_sub(1);
                *n
            }
            None => 0,
        };
        if left > 0 {
            return Vec::new();
        }
        r.sockets.remove(user);
        let ids: Vec<InteractionId> = r
            .by_user
            .remove(user)
            .map(|s| s.into_iter().collect())
            .unwrap_or_default();
        for id in &ids {
            remove_viewer(&mut r.open, id, user);
        }
        ids
    }

    /// Whether `user` has a live websocket.
    pub fn is_connected(&self, user: &AgentId) -> bool {
        connected_now(&self.lock(), user)
    }

    /// `user` opened `interaction`; registered only while they have a live websocket. True when
    /// this registered something new.
    pub fn open(&self, user: &AgentId, interaction: &InteractionId) -> bool {
        let mut r = self.lock();
        if !connected_now(&r, user) {
            return false;
        }
        r.by_user
            .entry(user.clone())
            .or_default()
            .insert(interaction.clone());
        r.open
            .entry(interaction.clone())
            .or_default()
            .insert(user.clone())
    }

    /// `user` closed `interaction`; true when they had it open.
    pub fn close(&self, user: &AgentId, interaction: &InteractionId) -> bool {
        let mut r = self.lock();
        let had = r
            .by_user
            .get_mut(user)
            .is_some_and(|s| s.remove(interaction));
        if r.by_user.get(user).is_some_and(|s| s.is_empty()) {
            r.by_user.remove(user);
        }
        remove_viewer(&mut r.open, interaction, user);
        had
    }

    /// Who has `interaction` open, in id order (several nodes: through any node).
    pub fn of(&self, interaction: &InteractionId) -> Vec<AgentId> {
        let r = self.lock();
        let mut all: BTreeSet<&AgentId> = r.open.get(interaction).into_iter().flatten().collect();
        for ids in r
            .remote
            .get(interaction)
            .into_iter()
            .flat_map(|n| n.values())
        {
            all.extend(ids);
        }
        all.into_iter().cloned().collect()
    }

    /// Who has `interaction` open through this node's websockets, in id order.
    pub fn local_of(&self, interaction: &InteractionId) -> Vec<AgentId> {
        self.lock()
            .open
            .get(interaction)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Several nodes: who has `interaction` open through `node` now (as it says). True when
    /// that changed what this node knew.
    pub fn set_remote(&self, node: &str, interaction: &InteractionId, ids: Vec<AgentId>) -> bool {
        let mut r = self.lock();
        let ids: BTreeSet<AgentId> = ids.into_iter().collect();
        let nodes = r.remote.entry(interaction.clone()).or_default();
        let changed = if ids.is_empty() {
            nodes.remove(node).is_some()
        } else {
            nodes.insert(node.to_owned(), ids.clone()) != Some(ids)
        };
        if nodes.is_empty() {
            r.remote.remove(interaction);
        }
        changed
    }

    /// Several nodes: forgets what `node` had open (it stopped, restarted or went silent);
    /// returns those interactions.
    pub fn forget_node(&self, node: &str) -> Vec<InteractionId> {
        let mut r = self.lock();
        let mut gone = Vec::new();
        r.remote.retain(|id, nodes| {
            if nodes.remove(node).is_some() {
                gone.push(id.clone());
            }
            !nodes.is_empty()
        });
        gone
    }

    /// Several nodes: the other nodes this node knows viewers of.
    pub fn remote_nodes(&self) -> BTreeSet<String> {
        self.lock()
            .remote
            .values()
            .flat_map(|n| n.keys().cloned())
            .collect()
    }

    /// Records what readers are told now about `interaction` and returns what they were told
    /// before.
    pub fn tell(&self, interaction: &InteractionId, now: Told) -> Told {
        let mut r = self.lock();
        if now == Told::default() {
            r.told.remove(interaction).unwrap_or_default()
        } else {
            r.told.insert(interaction.clone(), now).unwrap_or_default()
        }
    }
}

fn connected_now(r: &Registry, user: &AgentId) -> bool {
    r.sockets.get(user).is_some_and(|n| *n > 0)
}

fn remove_viewer(
    open: &mut HashMap<InteractionId, BTreeSet<AgentId>>,
    id: &InteractionId,
    user: &AgentId,
) {
    if let Some(s) = open.get_mut(id) {
        s.remove(user);
        if s.is_empty() {
            open.remove(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> AgentId {
        AgentId(s.into())
    }
    fn i(s: &str) -> InteractionId {
        InteractionId(s.into())
    }

    #[test]
    fn viewing_lasts_while_a_socket_is_open() {
        let v = Viewers::default();
        assert!(!v.open(&a("ann"), &i("x")), "no socket, nothing registered");
        assert!(v.of(&i("x")).is_empty());
        v.connected(&a("ann"));
        v.connected(&a("ann"));
        v.connected(&a("bob"));
        assert!(v.open(&a("ann"), &i("x")));
        assert!(!v.open(&a("ann"), &i("x")), "already open");
        assert!(v.open(&a("bob"), &i("x")));
        assert_eq!(v.of(&i("x")), [a("ann"), a("bob")]);
        assert!(
            v.disconnected(&a("ann")).is_empty(),
            "one tab of two closed"
        );
        assert_eq!(v.of(&i("x")), [a("ann"), a("bob")]);
        assert_eq!(v.disconnected(&a("ann")), [i("x")]);
        assert_eq!(v.of(&i("x")), [a("bob")]);
        assert!(v.close(&a("bob"), &i("x")));
        assert!(!v.close(&a("bob"), &i("x")));
        assert!(v.of(&i("x")).is_empty());
        assert!(!v.is_connected(&a("ann")));
    }

    #[test]
    fn viewers_through_other_nodes_count_until_their_node_is_forgotten() {
        let v = Viewers::default();
        v.connected(&a("ann"));
        assert!(v.open(&a("ann"), &i("x")));
        assert!(v.set_remote("n2", &i("x"), vec![a("bob"), a("ann")]));
        assert!(
            !v.set_remote("n2", &i("x"), vec![a("ann"), a("bob")]),
            "same set"
        );
        assert!(v.set_remote("n3", &i("x"), vec![a("cid")]));
        assert_eq!(v.of(&i("x")), [a("ann"), a("bob"), a("cid")]);
        assert_eq!(v.local_of(&i("x")), [a("ann")]);
        assert!(v.set_remote("n3", &i("x"), vec![]));
        assert_eq!(v.of(&i("x")), [a("ann"), a("bob")]);
        assert!(v.set_remote("n2", &i("y"), vec![a("bob")]));
        assert_eq!(v.remote_nodes().into_iter().collect::<Vec<_>>(), ["n2"]);
        let mut gone = v.forget_node("n2");
        gone.sort();
        assert_eq!(gone, [i("x"), i("y")]);
        assert_eq!(v.of(&i("x")), [a("ann")]);
        assert!(v.of(&i("y")).is_empty());
        assert!(v.remote_nodes().is_empty());
    }

    #[test]
    fn tell_returns_what_was_told_before() {
        let v = Viewers::default();
        let t = Told {
            agents: vec![a("ann")],
            supervisors: vec![a("ann"), a("sue")],
        };
        assert_eq!(v.tell(&i("x"), t.clone()), Told::default());
        assert_eq!(v.tell(&i("x"), Told::default()), t);
        assert_eq!(v.tell(&i("x"), Told::default()), Told::default());
    }
}
