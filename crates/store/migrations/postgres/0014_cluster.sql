-- Several nodes sharing this database (R-11.3).
-- The router lease: one row. The node holding an unexpired lease runs the routing engine; every
-- commit it makes checks its epoch here in the same transaction. Times are milliseconds since
-- the Unix epoch by the database's clock, so the nodes' clocks do not matter.
CREATE TABLE router_lease (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    holder TEXT NOT NULL,
    epoch BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
INSERT INTO router_lease (id, holder, epoch, expires_at) VALUES (1, '', 0, 0);

-- The nodes that have run, for GET /api/v1/cluster.
CREATE TABLE cluster_nodes (
    id TEXT PRIMARY KEY,
    started_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);

-- Results of commands forwarded to the router, by the id their sender gave, so that a retry
-- after a fail-over answers the stored result instead of applying the command twice.
CREATE TABLE cluster_commands (
    id TEXT PRIMARY KEY,
    result TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX cluster_commands_created ON cluster_commands (created_at);
