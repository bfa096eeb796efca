-- One sequence for every event stream (each user's and the supervisors' shared one): the
-- oldest number still kept is read by its own index when a socket replays.
CREATE INDEX events_seq ON events (seq);
