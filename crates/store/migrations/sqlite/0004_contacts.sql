-- The built-in CRM (SPEC §4, §5): contacts with several E.164 numbers, cases (saved chat logs),
-- the contact of each interaction, and the full-text index of messages.

CREATE TABLE contacts (
    id          TEXT   PRIMARY KEY NOT NULL,
    name        TEXT   NOT NULL,
    first_name  TEXT,
    last_name   TEXT,
    email       TEXT,
    -- A JSON object of custom fields.
    fields      TEXT   NOT NULL DEFAULT '{}',
    -- Set when this contact was merged into another one; such a contact is no longer listed.
    merged_into TEXT,
    created_by  TEXT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX contacts_name ON contacts (name COLLATE NOCASE);
CREATE INDEX contacts_email ON contacts (email COLLATE NOCASE);

-- Numbers in E.164 with the leading '+'.
CREATE TABLE contact_phones (
    contact_id TEXT   NOT NULL,
    number     TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (contact_id, number)
);
CREATE INDEX contact_phones_number ON contact_phones (number);

ALTER TABLE interactions ADD COLUMN contact_id TEXT;
CREATE INDEX interactions_contact_id ON interactions (contact_id, created_at);

-- One case per interaction at most: saving a transcript early opens it, the wrap-up closes it.
CREATE TABLE cases (
    id              TEXT   PRIMARY KEY NOT NULL,
    state           TEXT   NOT NULL,
    contact_id      TEXT,
    interaction_id  TEXT   NOT NULL UNIQUE,
    conversation_id TEXT   NOT NULL,
    queue_id        TEXT,
    subject         TEXT,
    -- JSON: the agents with their role, times, disposition and wrap-up note.
    agents          TEXT   NOT NULL DEFAULT '[]',
    disposition_code TEXT,
    initiated_at    BIGINT NOT NULL,
    accepted_at     BIGINT,
    ended_at        BIGINT,
    created_by      TEXT,
    created_at      BIGINT NOT NULL,
    closed_at       BIGINT,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX cases_contact_id ON cases (contact_id, created_at);
CREATE INDEX cases_unassigned ON cases (created_at) WHERE contact_id IS NULL;

-- Full-text search over message bodies (external content: the text lives in `messages`).
CREATE VIRTUAL TABLE messages_fts USING fts5 (
    body,
    content = 'messages',
    content_rowid = 'rowid',
    tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO messages_fts (rowid, body) SELECT rowid, body FROM messages WHERE body IS NOT NULL;
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages WHEN new.body IS NOT NULL BEGIN
    INSERT INTO messages_fts (rowid, body) VALUES (new.rowid, new.body);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages WHEN old.body IS NOT NULL BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.rowid, old.body);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF body ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body)
        SELECT 'delete', old.rowid, old.body WHERE old.body IS NOT NULL;
    INSERT INTO messages_fts (rowid, body) SELECT new.rowid, new.body WHERE new.body IS NOT NULL;
END;
