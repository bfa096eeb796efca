-- Switchboard schema, SQLite flavour. Append-only: never edit once applied; add 0002_*.sql.
-- Timestamps are BIGINT milliseconds since the Unix epoch; JSON is stored as TEXT.

-- Every user is an agent: login data and the agent's configuration and live state.
CREATE TABLE users (
    id                 TEXT    PRIMARY KEY NOT NULL,
    username           TEXT    NOT NULL UNIQUE,
    password_hash      TEXT    NOT NULL,
    display_name       TEXT    NOT NULL,
    role               TEXT    NOT NULL,
    capacity           BIGINT  NOT NULL,
    can_reject         BOOLEAN NOT NULL,
    queue_ids          TEXT    NOT NULL,
    presence           TEXT    NOT NULL,
    break_reason       TEXT,
    stop_new           BOOLEAN NOT NULL,
    presence_since     BIGINT  NOT NULL,
    last_idle_at       BIGINT  NOT NULL,
    disconnected_since BIGINT,
    deleted            BOOLEAN NOT NULL DEFAULT FALSE,
    created_at         BIGINT  NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT   PRIMARY KEY NOT NULL,
    user_id    TEXT   NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_user_id ON sessions (user_id);

CREATE TABLE queues (
    id         TEXT    PRIMARY KEY NOT NULL,
    name       TEXT    NOT NULL,
    doc        TEXT    NOT NULL,
    deleted    BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT  NOT NULL,
    updated_at BIGINT  NOT NULL
);

CREATE TABLE interactions (
    id              TEXT   PRIMARY KEY NOT NULL,
    state           TEXT   NOT NULL,
    queue_id        TEXT   NOT NULL,
    conversation_id TEXT   NOT NULL,
    channel_id      TEXT,
    owner_id        TEXT,
    created_at      BIGINT NOT NULL,
    accepted_at     BIGINT,
    ended_at        BIGINT,
    updated_at      BIGINT NOT NULL,
    doc             TEXT   NOT NULL
);
CREATE INDEX interactions_state ON interactions (state);
CREATE INDEX interactions_conversation_id ON interactions (conversation_id);
CREATE INDEX interactions_created_at ON interactions (created_at);

-- Every agent who ever was a participant of an interaction (rows are never removed).
CREATE TABLE interaction_participants (
    interaction_id TEXT NOT NULL,
    agent_id       TEXT NOT NULL,
    PRIMARY KEY (interaction_id, agent_id)
);
CREATE INDEX interaction_participants_agent_id ON interaction_participants (agent_id);

CREATE TABLE conversations (
    id              TEXT   PRIMARY KEY NOT NULL,
    channel_id      TEXT,
    wa_id           TEXT   NOT NULL,
    customer_name   TEXT,
    contact_id      TEXT,
    last_inbound_at BIGINT,
    last_agent_id   TEXT,
    created_at      BIGINT NOT NULL
);

-- Message ids are time-sortable: ORDER BY id is chronological.
CREATE TABLE messages (
    id              TEXT   PRIMARY KEY NOT NULL,
    conversation_id TEXT   NOT NULL,
    interaction_id  TEXT,
    direction       TEXT   NOT NULL,
    author_id       TEXT,
    kind            TEXT   NOT NULL,
    body            TEXT,
    payload         TEXT   NOT NULL,
    wa_message_id   TEXT   UNIQUE,
    status          TEXT   NOT NULL,
    error           TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX messages_interaction_id ON messages (interaction_id, id);
CREATE INDEX messages_conversation_id ON messages (conversation_id, id);

CREATE TABLE notes (
    id             TEXT   PRIMARY KEY NOT NULL,
    interaction_id TEXT   NOT NULL,
    author_id      TEXT   NOT NULL,
    body           TEXT   NOT NULL,
    created_at     BIGINT NOT NULL
);
CREATE INDEX notes_interaction_id ON notes (interaction_id);

-- Per-user event log for websocket resume.
CREATE TABLE events (
    user_id    TEXT   NOT NULL,
    seq        BIGINT NOT NULL,
    kind       TEXT   NOT NULL,
    data       TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, seq)
);
CREATE INDEX events_created_at ON events (created_at);

-- A single row (id = 1) holding the Settings JSON.
CREATE TABLE settings (
    id  INTEGER PRIMARY KEY NOT NULL,
    doc TEXT    NOT NULL
);
