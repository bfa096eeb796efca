-- Report roll-ups (R-8.4), how PostgreSQL stores them. Room in each page for the new version
-- of a row that a commit updates, so the update stays on the row's page (a heap-only update: no
-- index entry written) and the rows of one bucket, written side by side by the commits of its
-- hour, stay side by side: a summary reads a few pages per bucket instead of one page per row.
-- Pages written from now on keep a third free; existing rows move to such pages as they are
-- updated.
ALTER TABLE report_rollups SET (fillfactor = 65);
ALTER TABLE report_agent_rollups SET (fillfactor = 65);
ALTER TABLE report_rollup_dispositions SET (fillfactor = 65);
ALTER TABLE report_agent_rollup_dispositions SET (fillfactor = 65);

-- A summary reads a few thousand roll-up rows: no parallel workers for them (on a small machine
-- their start costs more than the scan).
ALTER TABLE report_rollups SET (parallel_workers = 0);
ALTER TABLE report_agent_rollups SET (parallel_workers = 0);
ALTER TABLE report_rollup_dispositions SET (parallel_workers = 0);
ALTER TABLE report_agent_rollup_dispositions SET (parallel_workers = 0);
