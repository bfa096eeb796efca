//! Report facts: what happened, when, to whom, emitted by the engine as it happens.
//!
//! Each step's [`Changes::facts`](super::Changes::facts) lists, in order, the facts that reports
//! need, stamped with the step's `now`; the caller stores them in the same transaction as the
//! change they describe, so a report never replays events or scans messages. Facts are never
//! emitted by [`Engine::load`](super::Engine::load) (a restart changes nothing that happened) and
//! never by a refused command.
//!
//! The figures built from them are defined in ARCHITECTURE.md, "Report definitions"; each
//! variant below says which figure it feeds. This module must never compute a figure itself:
//! it only says what happened.

use super::Engine;
use crate::model::*;
use serde::Serialize;

/// One thing that happened, at the engine's `now` of the step that did it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fact {
    pub at: Timestamp,
    #[serde(flatten)]
    pub kind: FactKind,
}

/// How an offer came to be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OfferSource {
    /// Routed from the queue.
    Route,
    /// A returning customer offered first to their last agent.
    Sticky,
    /// Transferred to this agent by another.
    Transfer,
    /// An invitation to join a conference.
    Conference,
}

impl OfferSource {
    pub fn as_str(self) -> &'static str {
        match self {
            OfferSource::Route => "route",
            OfferSource::Sticky => "sticky",
            OfferSource::Transfer => "transfer",
            OfferSource::Conference => "conference",
        }
    }
}

/// How an offer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OfferOutcome {
    /// The agent accepted it ("accepted").
    Accepted,
    /// The agent rejected it ("rejected", R-2.7).
    Rejected,
    /// Its acceptance interval ran out ("missed", R-2.8).
    Missed,
    /// Taken back without the agent answering: they left `available`, lost their connection, or
    /// the conference invitation was cancelled. Counts as none of accepted, rejected, missed.
    Withdrawn,
}

impl OfferOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            OfferOutcome::Accepted => "accepted",
            OfferOutcome::Rejected => "rejected",
            OfferOutcome::Missed => "missed",
            OfferOutcome::Withdrawn => "withdrawn",
        }
    }
    pub fn parse(s: &str) -> Option<OfferOutcome> {
        match s {
            "accepted" => Some(OfferOutcome::Accepted),
            "rejected" => Some(OfferOutcome::Rejected),
            "missed" => Some(OfferOutcome::Missed),
            "withdrawn" => Some(OfferOutcome::Withdrawn),
            _ => None,
        }
    }
}

/// What happened. Interaction facts name the interaction; presence facts the agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "fact", rename_all = "snake_case")]
pub enum FactKind {
    /// A new interaction: a customer's first message (`outbound: false`; it counts as "offered"
    /// and as one message in) or an agent's outbound start (`outbound: true`, R-5.3: never
    /// offered, answered or measured against the SLA). `queue` is the queue it arrived in: every
    /// figure of the interaction counts for that queue, also after a transfer to another.
    /// `sla_response_s` is that queue's response target at arrival, kept with the interaction so a
    /// later change of the queue does not rewrite history.
    Arrived {
        interaction: InteractionId,
        queue: QueueId,
        channel: Option<String>,
        customer: Customer,
        contact_id: Option<String>,
        outbound: bool,
        sla_response_s: u32,
    },
    /// An offer to one agent ("offered" in that agent's figures).
    OfferMade {
        interaction: InteractionId,
        agent: AgentId,
        source: OfferSource,
    },
    /// An offer ended, accepted or not ("missed" and "rejected" count these).
    OfferEnded {
        interaction: InteractionId,
        agent: AgentId,
        outcome: OfferOutcome,
    },
    /// The interaction's first acceptance ("accepted"; its time minus the arrival is the speed
    /// of answer). Later accepts (of a transfer or a conference) are not this fact.
    Answered {
        interaction: InteractionId,
        agent: AgentId,
    },
    /// An agent's participation began (an accept, or an outbound start): the start of their
    /// handle time on it.
    Joined {
        interaction: InteractionId,
        agent: AgentId,
        role: ParticipantRole,
    },
    /// A customer message after the first (the first is counted by [`FactKind::Arrived`]).
    MessageIn { interaction: InteractionId },
    /// An agent's message. The first of the interaction is preceded by
    /// [`FactKind::FirstResponse`].
    MessageOut {
        interaction: InteractionId,
        agent: AgentId,
    },
    /// The interaction's first agent message (the first response time and the SLA use it).
    FirstResponse {
        interaction: InteractionId,
        agent: AgentId,
    },
    /// The owner transferred it ("transferred"); their participation goes to wrap-up.
    Transferred {
        interaction: InteractionId,
        from: AgentId,
        to: Target,
    },
    /// An agent ended the interaction.
    Ended {
        interaction: InteractionId,
        by: AgentId,
    },
    /// An agent's participation finished its wrap-up: with the code they chose (or none), or by
    /// the countdown (`by_countdown`, always without a code). `closing` is set for the
    /// participation of the owner who ended the interaction: its disposition is the
    /// interaction's.
    WrappedUp {
        interaction: InteractionId,
        agent: AgentId,
        disposition: Option<String>,
        by_countdown: bool,
        closing: bool,
    },
    /// Every participation finished wrap-up: the interaction is done ("handled").
    Completed { interaction: InteractionId },
    /// The agent's presence (or break reason) changed: a new interval of their timeline starts.
    Presence {
        agent: AgentId,
        presence: Presence,
        reason: Option<String>,
    },
}

impl Engine {
    /// Records a fact of this step.
    pub(super) fn fact(&mut self, at: Timestamp, kind: FactKind) {
        self.changes.facts.push(Fact { at, kind });
    }
}
