//! # trellis-sdk
//!
//! Write plugins for the Trellis homeserver in Rust. A plugin is a
//! WebAssembly component: build it with
//! `cargo build --target wasm32-wasip2 --release`, list the `.wasm` file
//! under `modules:` in `homeserver.yaml`, and grant it the capabilities it
//! needs.
//!
//! A plugin is a type that implements [`Plugin`] and any of the role traits
//! ([`SpamChecker`], [`ThirdPartyRules`], [`PasswordAuth`],
//! [`AccountValidity`], [`AccountHooks`], [`HttpRoutes`], [`SsoProvider`]). Every role method
//! has a default that tells the server "not implemented", so you override
//! only what you need. Register the type with [`plugin!`], naming the roles
//! it implements:
//!
//! ```no_run
//! use trellis_sdk::{Event, Plugin, SpamChecker, Verdict, MatrixError};
//!
//! struct NoShouting;
//!
//! impl Plugin for NoShouting {}
//!
//! impl SpamChecker for NoShouting {
//!     fn check_event_for_spam(event: &Event) -> Verdict {
//!         match event.body() {
//!             Some(body) if body.chars().count() >= 8 && body == body.to_uppercase() => {
//!                 Verdict::Deny(MatrixError::forbidden("please do not shout"))
//!             }
//!             _ => Verdict::Allow,
//!         }
//!     }
//! }
//!
//! trellis_sdk::plugin!(NoShouting, roles: [SpamChecker]);
//! ```
//!
//! The server makes a fresh instance for every call, so statics do not keep
//! state between calls: keep state in [`kv`]. Host functions (the modules
//! [`rooms`], [`kv`], [`http`], [`accounts`], [`timers`]) work only when the
//! admin granted the matching capability; the server refuses to load a
//! plugin that uses an interface it was not granted.
#![deny(missing_docs)]

// The generated bindings name this crate by its path, also from inside it.
extern crate self as trellis_sdk;

#[doc(hidden)]
#[allow(missing_docs, unsafe_code, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "trellis:sso/sso-module",
        generate_all,
        pub_export_macro: true,
        export_macro_name: "__export_world",
        default_bindings_module: "trellis_sdk::bindings",
        runtime_path: "trellis_sdk::__wit_bindgen::rt",
    });
}

#[doc(hidden)]
pub use wit_bindgen as __wit_bindgen;

pub mod accounts;
pub mod config;
#[doc(hidden)]
pub mod export;
pub mod http;
pub mod ids;
pub mod kv;
pub mod localpart;
pub mod log;
mod roles;
pub mod rooms;
pub mod sso;
pub mod timers;
mod types;
pub mod url;

pub use roles::{
    AccountHooks, AccountValidity, AuthResult, EventDecision, Expiry, HttpRoutes, PasswordAuth, Plugin, Ratelimit,
    SpamChecker, SsoProvider, ThirdPartyRules,
};
pub use serde_json::{Value, json};
pub use types::{Event, Handled, MatrixError, Request, Response, Verdict};
