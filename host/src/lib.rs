//! Trellis, a Matrix homeserver.
//!
//! Layering: [`api`] (HTTP handlers) calls [`service`] (the Matrix rules),
//! which calls the `trellis-storage` crate (all SQL). [`http`] holds the
//! request plumbing shared by handlers, [`router`] puts the routes and
//! layers together, and [`server`] runs listeners and shuts them down.

pub mod api;
pub mod cli;
pub mod config;
pub mod error;
pub mod http;
pub mod json;
pub mod logging;
pub mod metrics;
pub mod percent;
pub mod router;
pub mod server;
pub mod service;
pub mod signing_key;

pub use config::Config;
pub use server::{RunningServer, start};
