-- Full-text search covers the first 100,000 characters of a message body (crate::text's
-- SEARCH_PREFIX_CHARS in the server): a tsvector holds at most 1 MB of words, and a longer
-- text of distinct words (a customer may send one) was refused, with its whole group commit.
-- (1 MB of short distinct words makes a tsvector of about 1.5 MB.) 100,000 characters make at
-- most about 600 KB of tsvector, whatever the script, well inside the limit.
DROP INDEX messages_body_fts;
ALTER TABLE messages DROP COLUMN body_tsv;
ALTER TABLE messages ADD COLUMN body_tsv tsvector
    GENERATED ALWAYS AS (to_tsvector('simple', left(COALESCE(body, ''), 100000))) STORED;
CREATE INDEX messages_body_fts ON messages USING GIN (body_tsv);
