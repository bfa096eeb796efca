-- (PostgreSQL) The audit log (R-8.5): who changed what, when, with the values before and after.
-- A row is written in the same commit as the change it records (`Changeset::audit`), or on its
-- own for what changes nothing else (a failed login). Rows are never updated; old ones are pruned
-- by the retention setting. A page is read newest first by `(at, id)`, which orders every row
-- (ids are unique), so paging with a cursor never skips or repeats rows of equal time.
-- No foreign key on `actor_id`: the actor's name is kept beside it, and an entry outlives its user.
-- `id` and `action` compare bytewise (collation "C"), as on SQLite: the cursor and the prefix
-- filter (`action >= 'queue.' AND action < 'queue/'`) then mean the same on both backends and
-- use the indexes whatever the database's collation.

CREATE TABLE audit_log (
    id          TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    at          BIGINT  NOT NULL,
    actor_id    TEXT,
    actor_name  TEXT,
    action      TEXT COLLATE "C" NOT NULL,
    target_type TEXT    NOT NULL,
    target_id   TEXT    NOT NULL,
    before      TEXT,
    after       TEXT,
    client_addr TEXT
);
CREATE INDEX audit_log_at ON audit_log (at, id);
CREATE INDEX audit_log_actor ON audit_log (actor_id, at, id);
CREATE INDEX audit_log_action ON audit_log (action, at, id);
CREATE INDEX audit_log_target ON audit_log (target_id, at, id);
