-- Report roll-ups (R-8.4), how PostgreSQL stores them (room in each page for updates, no parallel
-- workers; see the PostgreSQL migration of the same number). Nothing to change on SQLite: an
-- update rewrites a row where it is, and a query runs on one thread. Kept so that the numbering
-- stays aligned.
SELECT 1;
