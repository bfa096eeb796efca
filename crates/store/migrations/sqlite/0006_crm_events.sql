-- External CRM: the durable queue of signed event webhooks (`interaction.ended`, `contact.created`,
-- `case.created`, …). A row is inserted in the same commit as the change it reports and delivered
-- oldest first (`seq`, which follows commit order: the core worker is the single writer). `body` is
-- the exact JSON sent, built once at the first attempt, so every retry sends identical bytes.

CREATE TABLE crm_events (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT    NOT NULL UNIQUE,
    kind            TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    body            TEXT,
    state           TEXT    NOT NULL,
    attempts        BIGINT  NOT NULL,
    next_attempt_at BIGINT  NOT NULL,
    last_error      TEXT,
    created_at      BIGINT  NOT NULL,
    delivered_at    BIGINT,
    updated_at      BIGINT  NOT NULL
);
CREATE INDEX crm_events_state ON crm_events (state, seq);
