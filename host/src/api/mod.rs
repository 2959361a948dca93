//! HTTP handlers: thin functions that parse the request, call a service and
//! shape the response. One file per endpoint family.

pub mod admin;
pub mod client;
pub mod misc;
pub mod plugins;
