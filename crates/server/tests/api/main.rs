//! HTTP and websocket tests against the real server (SQLite, and PostgreSQL when
//! `SWITCHBOARD_TEST_POSTGRES_URL` is set).
#![allow(clippy::unwrap_used)]

mod audit;
mod auth;
mod concurrency;
mod conform;
mod contacts;
mod crm;
mod desk;
mod errors;
mod flow;
mod fuzz;
mod input;
mod live;
mod matrix;
mod media;
mod monitor;
mod ops;
mod playback;
mod reports;
mod restart;
mod rows;
mod supervisor;
mod support;
mod templates;
mod transcript;
mod watch;
mod whatsapp;
