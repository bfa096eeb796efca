//! Refused commands change nothing.

use crate::support::*;
use switchboard_domain::*;

// ----- Refused commands ----------------------------------------------------------------------------------

/// A refused command changes nothing (every error path): the state dumped before and after is
/// identical and no change is reported.
#[test]
fn refused_commands_change_nothing() {
    let mut cc = busy_center();
    let now = s(7);
    let cases: Vec<(Command, &str)> = vec![
        (
            Command::Accept {
                agent: aid("a2"),
                interaction: iid("i1"),
            },
            "not_found",
        ),
        (
            Command::Reject {
                agent: aid("a1"),
                interaction: iid("i1"),
            },
            "reject_not_permitted",
        ),
        (
            Command::Reject {
                agent: aid("a2"),
                interaction: iid("i2"),
            },
            "offer_not_pending",
        ),
        (
            Command::End {
                agent: aid("a2"),
                interaction: iid("i3"),
            },
            "not_active",
        ),
        (wrap_up_cmd("a2", "i2", None, None), "not_in_wrap_up"),
        (invite("a2", "i2", to_agent("a1")), "agent_at_capacity"),
        (invite("a2", "i2", to_agent("a2")), "conference_with_self"),
        (
            Command::ConferenceEnd {
                agent: aid("a2"),
                interaction: iid("i2"),
            },
            "no_conference",
        ),
        (
            Command::MarkRead {
                agent: aid("a1"),
                interaction: iid("i2"),
            },
            "not_found",
        ),
        (reply_cmd("a2", "i3"), "not_active"),
        (Command::DeleteAgent(aid("a2")), "agent_busy"),
        (Command::DeleteQueue(qid("q1")), "queue_in_use"),
        (Command::DeleteQueue(qid("nope")), "not_found"),
        (Command::Connected { agent: aid("nope") }, "not_found"),
        (
            Command::SetStopNew {
                agent: aid("nope"),
                stop_new: true,
            },
            "not_found",
        ),
        (Command::Inbound(msg("i9", "c9", "nope")), "unknown_queue"),
        (Command::Inbound(msg("i2", "c9", "q1")), "duplicate_id"),
        (
            Command::UpsertQueue(Queue {
                priority: 0,
                ..queue("q1")
            }),
            "invalid_priority",
        ),
        (
            Command::UpsertQueue(Queue {
                disposition_required: true,
                ..queue("q1")
            }),
            "disposition_required_without_codes",
        ),
        (
            Command::UpdateSettings(Settings {
                transcript_interactions_count: 0,
                ..Settings::default()
            }),
            "invalid_transcript_interactions_count",
        ),
    ];
    for (cmd, code) in cases {
        refused(&mut cc.e, cmd, now, code);
    }
    cc.check(now);
}
