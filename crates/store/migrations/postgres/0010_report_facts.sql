-- Reports (R-8.4): what reports need, written from the engine's facts in the commit that changes
-- an interaction or an agent, so a report never replays events or scans messages. Timestamps are
-- BIGINT milliseconds; flags are BIGINT 0/1 so that both backends sum them alike.

-- One row per interaction, its report columns updated as facts arrive.
CREATE TABLE report_interactions (
    id                      TEXT   PRIMARY KEY NOT NULL,
    queue_id                TEXT   NOT NULL,           -- the queue it arrived in
    channel_id              TEXT,
    customer_wa_id          TEXT   NOT NULL,
    customer_name           TEXT,
    contact_id              TEXT,                      -- the contact at arrival
    outbound                BIGINT NOT NULL DEFAULT 0, -- an agent's outbound start
    sla_ms                  BIGINT NOT NULL,           -- the queue's response target at arrival
    created_at              BIGINT NOT NULL,           -- arrival: the period it counts in
    accepted_at             BIGINT,                    -- first accept
    first_agent_id          TEXT,
    first_response_at       BIGINT,
    first_response_agent_id TEXT,
    ended_at                BIGINT,
    ended_by                TEXT,
    wrapped_up_at           BIGINT,                    -- every wrap-up done: handled
    disposition             TEXT,                      -- of the owner who ended it
    by_countdown            BIGINT NOT NULL DEFAULT 0,
    handle_ms               BIGINT,                    -- sum of its participations
    transfers               BIGINT NOT NULL DEFAULT 0,
    missed_offers           BIGINT NOT NULL DEFAULT 0,
    rejected_offers         BIGINT NOT NULL DEFAULT 0,
    messages_in             BIGINT NOT NULL DEFAULT 0,
    messages_out            BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX report_interactions_created ON report_interactions (created_at, id);
CREATE INDEX report_interactions_queue ON report_interactions (queue_id, created_at);
CREATE INDEX report_interactions_channel ON report_interactions (channel_id, created_at);
CREATE INDEX report_interactions_first_agent ON report_interactions (first_agent_id, created_at);

-- One row per offer. created_at, queue_id, channel_id are the interaction's (arrival), copied so
-- an agent's figures over a range read one index.
CREATE TABLE report_offers (
    interaction_id TEXT   NOT NULL,
    agent_id       TEXT   NOT NULL,
    offered_at     BIGINT NOT NULL,
    source         TEXT   NOT NULL,  -- route, sticky, transfer, conference
    outcome        TEXT,             -- accepted, rejected, missed, withdrawn; NULL while pending
    ended_at       BIGINT,
    created_at     BIGINT NOT NULL,
    queue_id       TEXT   NOT NULL,
    channel_id     TEXT,
    PRIMARY KEY (interaction_id, agent_id, offered_at)
);
CREATE INDEX report_offers_agent ON report_offers (agent_id, created_at);
CREATE INDEX report_offers_created ON report_offers (created_at);

-- One row per participation (an agent's accept until their wrap-up is done).
CREATE TABLE report_legs (
    interaction_id TEXT   NOT NULL,
    agent_id       TEXT   NOT NULL,
    joined_at      BIGINT NOT NULL,
    role           TEXT   NOT NULL,  -- owner, conference
    transferred    BIGINT NOT NULL DEFAULT 0,
    wrapped_up_at  BIGINT,
    disposition    TEXT,
    by_countdown   BIGINT NOT NULL DEFAULT 0,
    created_at     BIGINT NOT NULL,
    queue_id       TEXT   NOT NULL,
    channel_id     TEXT,
    PRIMARY KEY (interaction_id, agent_id, joined_at)
);
CREATE INDEX report_legs_agent ON report_legs (agent_id, created_at);
CREATE INDEX report_legs_created ON report_legs (created_at);

-- Agents' presence timelines: one row per interval, to_at NULL for the current one.
CREATE TABLE presence_intervals (
    agent_id TEXT   NOT NULL,
    from_at  BIGINT NOT NULL,
    to_at    BIGINT,
    presence TEXT   NOT NULL,
    reason   TEXT,
    PRIMARY KEY (agent_id, from_at)
);
-- The agent's current interval, closed by their next change.
CREATE INDEX presence_intervals_open ON presence_intervals (agent_id) WHERE to_at IS NULL;

-- Existing agents' timelines start with the presence they have now.
INSERT INTO presence_intervals (agent_id, from_at, to_at, presence, reason)
SELECT id, presence_since, NULL, presence, break_reason FROM users WHERE NOT deleted;
