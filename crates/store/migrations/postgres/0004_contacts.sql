-- The built-in CRM (SPEC §4, §5): contacts with several E.164 numbers, cases (saved chat logs),
-- the contact of each interaction, and the full-text index of messages.

CREATE TABLE contacts (
    id          TEXT   PRIMARY KEY NOT NULL,
    name        TEXT   NOT NULL,
    first_name  TEXT,
    last_name   TEXT,
    email       TEXT,
    fields      TEXT   NOT NULL DEFAULT '{}',
    merged_into TEXT,
    created_by  TEXT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX contacts_name ON contacts (lower(name) text_pattern_ops);
CREATE INDEX contacts_email ON contacts (lower(email) text_pattern_ops);

CREATE TABLE contact_phones (
    contact_id TEXT   NOT NULL,
    number     TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (contact_id, number)
);
CREATE INDEX contact_phones_number ON contact_phones (number);

ALTER TABLE interactions ADD COLUMN contact_id TEXT;
CREATE INDEX interactions_contact_id ON interactions (contact_id, created_at);

CREATE TABLE cases (
    id              TEXT   PRIMARY KEY NOT NULL,
    state           TEXT   NOT NULL,
    contact_id      TEXT,
    interaction_id  TEXT   NOT NULL UNIQUE,
    conversation_id TEXT   NOT NULL,
    queue_id        TEXT,
    subject         TEXT,
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

-- Full-text search over message bodies ('simple': no language-specific stemming, since
-- customers write in any language).
-- The vector is stored, so that a search that walks the newest messages tests each row cheaply.
ALTER TABLE messages ADD COLUMN body_tsv tsvector
    GENERATED ALWAYS AS (to_tsvector('simple', COALESCE(body, ''))) STORED;
CREATE INDEX messages_body_fts ON messages USING GIN (body_tsv);
