-- Full-text search covers the first 100,000 characters of a message body (crate::text's
-- SEARCH_PREFIX_CHARS in the server): a tsvector holds at most 1 MB of words, and a longer
-- text of distinct words (a customer may send one) was refused, with its whole group commit.
-- 100,000 characters are at most 400 KB of words, well inside the limit whatever the script.
DROP INDEX messages_body_fts;
ALTER TABLE messages DROP COLUMN body_tsv;
ALTER TABLE messages ADD COLUMN body_tsv tsvector
    GENERATED ALWAYS AS (to_tsvector('simple', left(COALESCE(body, ''), 100000))) STORED;
CREATE INDEX messages_body_fts ON messages USING GIN (body_tsv);
