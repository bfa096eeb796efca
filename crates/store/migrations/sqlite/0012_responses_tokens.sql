-- Standard responses (R-3.8) and integration tokens (R-9.1).
--
-- A response is global when `queue_ids` (a JSON array of queue ids) is empty, otherwise it
-- belongs to those queues. Its shortcut is unique among responses that can be seen together;
-- the server checks that (scopes overlap), so there is no unique index on it.
CREATE TABLE responses (
    id         TEXT   PRIMARY KEY NOT NULL,
    title      TEXT   NOT NULL,
    text       TEXT   NOT NULL,
    category   TEXT,
    shortcut   TEXT,
    queue_ids  TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- An integration token acts as its user. Only the SHA-256 of the token is kept; a deleted row
-- is a revoked token. `last_used_at` is written at most once a minute per token.
CREATE TABLE api_tokens (
    id           TEXT   PRIMARY KEY NOT NULL,
    name         TEXT   NOT NULL,
    user_id      TEXT   NOT NULL REFERENCES users (id),
    token_hash   TEXT   NOT NULL UNIQUE,
    created_by   TEXT,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,
    last_used_at BIGINT
);
CREATE INDEX api_tokens_user_id ON api_tokens (user_id);
