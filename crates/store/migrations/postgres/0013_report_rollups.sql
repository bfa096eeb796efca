-- Report roll-ups (R-8.4): the sums of the report tables per UTC hour (span 3600000), UTC day
-- (86400000) and week of 7 UTC days (604800000) of arrival, queue and channel ('' for none; the
-- per-interaction rows also once for all queues and channels, both '*'), kept by the same commit
-- that writes the facts, so a summary over whole hours reads a few rows per hour instead of
-- every interaction. `bucket` is created_at / span. `n` is how many report rows a row sums (a
-- group is listed when it is above 0). The columns are those of the figures in
-- ARCHITECTURE.md, "Report definitions"; `sla_late` counts first responses past the target (an
-- interaction still without one past its target depends on the time of asking and is counted
-- from report_interactions). The rows are filled from existing report rows when this migration
-- is applied (see reports.rs, `rollup_rebuild_sql`).

-- Per interaction, for the summary's rows and totals.
CREATE TABLE report_rollups (
    span        BIGINT NOT NULL,
    bucket      BIGINT NOT NULL,
    queue_id    TEXT   NOT NULL,
    channel_id  TEXT   NOT NULL,
    n           BIGINT NOT NULL DEFAULT 0,
    offered     BIGINT NOT NULL DEFAULT 0,
    accepted    BIGINT NOT NULL DEFAULT 0,
    missed      BIGINT NOT NULL DEFAULT 0,
    rejected    BIGINT NOT NULL DEFAULT 0,
    handled     BIGINT NOT NULL DEFAULT 0,
    transferred BIGINT NOT NULL DEFAULT 0,
    handle_ms   BIGINT NOT NULL DEFAULT 0,
    answered    BIGINT NOT NULL DEFAULT 0,
    answer_ms   BIGINT NOT NULL DEFAULT 0,
    responded   BIGINT NOT NULL DEFAULT 0,
    response_ms BIGINT NOT NULL DEFAULT 0,
    sla_met     BIGINT NOT NULL DEFAULT 0,
    sla_late    BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (span, bucket, queue_id, channel_id)
);

-- Per agent: their offers, their participations and what they answered first.
CREATE TABLE report_agent_rollups (
    span        BIGINT NOT NULL,
    bucket      BIGINT NOT NULL,
    agent_id    TEXT   NOT NULL,
    queue_id    TEXT   NOT NULL,
    channel_id  TEXT   NOT NULL,
    n           BIGINT NOT NULL DEFAULT 0,
    offered     BIGINT NOT NULL DEFAULT 0,
    accepted    BIGINT NOT NULL DEFAULT 0,
    missed      BIGINT NOT NULL DEFAULT 0,
    rejected    BIGINT NOT NULL DEFAULT 0,
    handled     BIGINT NOT NULL DEFAULT 0,
    transferred BIGINT NOT NULL DEFAULT 0,
    handle_ms   BIGINT NOT NULL DEFAULT 0,
    answered    BIGINT NOT NULL DEFAULT 0,
    answer_ms   BIGINT NOT NULL DEFAULT 0,
    responded   BIGINT NOT NULL DEFAULT 0,
    response_ms BIGINT NOT NULL DEFAULT 0,
    sla_met     BIGINT NOT NULL DEFAULT 0,
    sla_late    BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (span, bucket, agent_id, queue_id, channel_id)
);
CREATE INDEX report_agent_rollups_agent ON report_agent_rollups (agent_id, span, bucket);

-- Handled interactions by disposition key.
CREATE TABLE report_rollup_dispositions (
    span        BIGINT NOT NULL,
    bucket      BIGINT NOT NULL,
    queue_id    TEXT   NOT NULL,
    channel_id  TEXT   NOT NULL,
    disposition TEXT   NOT NULL,
    n           BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (span, bucket, queue_id, channel_id, disposition)
);

-- Agents' completed participations by disposition key.
CREATE TABLE report_agent_rollup_dispositions (
    span        BIGINT NOT NULL,
    bucket      BIGINT NOT NULL,
    agent_id    TEXT   NOT NULL,
    queue_id    TEXT   NOT NULL,
    channel_id  TEXT   NOT NULL,
    disposition TEXT   NOT NULL,
    n           BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (span, bucket, agent_id, queue_id, channel_id, disposition)
);
CREATE INDEX report_agent_rollup_dispositions_agent
    ON report_agent_rollup_dispositions (agent_id, span, bucket);

-- Inbound interactions still without a first response: the SLA figure of a summary counts those
-- past their target at the time of asking from here alone (every column it reads is in it).
CREATE INDEX report_interactions_unanswered
    ON report_interactions (created_at, sla_ms, queue_id, channel_id, first_agent_id, outbound,
                            first_response_at)
    WHERE outbound = 0 AND first_response_at IS NULL;
