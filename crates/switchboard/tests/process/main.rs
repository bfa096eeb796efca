//! Tests of the `switchboard` binary as a process: a crash in the middle of a webhook burst, a
//! burst of logins against the memory bound, the demo as a newcomer meets it, and the load
//! generator's smoke run. One test binary (one link) for all of them.

mod cluster;
mod crash;
mod demo;
mod load;
mod login_burst;
mod serve;
