-- (PostgreSQL) WhatsApp channel: connected numbers, the durable outbox, statuses that arrived before their
-- message's WhatsApp id was known, and webhook parts kept raw (rejected or of other fields).

CREATE TABLE channels (
    id                   TEXT    PRIMARY KEY NOT NULL,
    kind                 TEXT    NOT NULL,
    phone_number_id      TEXT    NOT NULL,
    display_phone_number TEXT    NOT NULL,
    waba_id              TEXT,
    access_token         TEXT    NOT NULL,
    app_secret           TEXT    NOT NULL,
    verify_token         TEXT    NOT NULL,
    queue_id             TEXT    NOT NULL,
    deleted              BOOLEAN NOT NULL DEFAULT FALSE,
    created_at           BIGINT  NOT NULL,
    updated_at           BIGINT  NOT NULL
);
CREATE UNIQUE INDEX channels_phone_number_id ON channels (phone_number_id) WHERE NOT deleted;

-- One row per outbound message until WhatsApp accepted it or refused it for good.
CREATE TABLE outbox (
    message_id      TEXT   PRIMARY KEY NOT NULL,
    channel_id      TEXT   NOT NULL,
    recipient       TEXT   NOT NULL,
    request         TEXT   NOT NULL,
    state           TEXT   NOT NULL,
    attempts        BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
CREATE INDEX outbox_recipient ON outbox (channel_id, recipient, message_id);

CREATE TABLE pending_statuses (
    wa_message_id TEXT   NOT NULL,
    status        TEXT   NOT NULL,
    payload       TEXT   NOT NULL,
    received_at   BIGINT NOT NULL,
    PRIMARY KEY (wa_message_id, status)
);

CREATE TABLE webhook_raw (
    id          TEXT   PRIMARY KEY NOT NULL,
    channel_id  TEXT,
    reason      TEXT   NOT NULL,
    body        TEXT   NOT NULL,
    received_at BIGINT NOT NULL
);
