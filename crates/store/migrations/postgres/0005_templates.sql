-- (PostgreSQL) WhatsApp message templates, synced from each business account (WABA) and kept with their
-- review status. One row per (waba_id, name, language); a template no longer listed by WhatsApp
-- is marked deleted (kept, so old messages still name it) and cannot be sent. `components` is
-- the Graph API's JSON as listed; `variable_map` is the admin's mapping of template variables to
-- contact fields (a JSON object).

CREATE TABLE templates (
    id               TEXT    PRIMARY KEY NOT NULL,
    channel_id       TEXT    NOT NULL,
    waba_id          TEXT    NOT NULL,
    wa_template_id   TEXT,
    name             TEXT    NOT NULL,
    language         TEXT    NOT NULL,
    category         TEXT    NOT NULL,
    status           TEXT    NOT NULL,
    parameter_format TEXT    NOT NULL,
    components       TEXT    NOT NULL,
    variable_map     TEXT    NOT NULL,
    rejected_reason  TEXT,
    deleted          BOOLEAN NOT NULL DEFAULT FALSE,
    synced_at        BIGINT  NOT NULL,
    created_at       BIGINT  NOT NULL,
    updated_at       BIGINT  NOT NULL
);
CREATE UNIQUE INDEX templates_waba_name_language ON templates (waba_id, name, language);
CREATE INDEX templates_wa_template_id ON templates (wa_template_id);
