//! The plugin runtime: loads WebAssembly components and runs them inside limits.
//!
//! A plugin is a component built against one released version of the WIT
//! package in `wit/`. Loading one compiles it (or reads the compiled artifact
//! from the on-disk cache), checks its imports against the capabilities the
//! admin granted, and prepares an `InstancePre`. Every callback then runs in a
//! fresh instance from wasmtime's pooling allocator, under an epoch deadline,
//! a memory limit and a per-plugin concurrency limit, so a plugin keeps state
//! only in its key-value store and a fault fails one call, never the server.
//!
//! The crate sits below the server's services: it calls back into them only
//! through [`PluginHost`], which the server implements.

mod bindings;
mod cache;
pub mod capabilities;
mod engine;
mod fault;
pub mod hooks;
pub mod host_api;
mod imports;
pub mod inspect;
mod loaded;
mod manager;
mod scheduler;
pub mod spec;
mod state;
pub mod stats;
pub mod versions;

pub use capabilities::Capabilities;
pub use engine::RuntimeOptions;
pub use fault::FailurePolicy;
pub use host_api::{
    ActionResult, IdentityProvider, MatrixError, PluginEvent, PluginHost, PluginRequest, PluginResponse, SsoFailure,
    SsoIdentity, SsoOutcome, StoredTimer,
};
pub use loaded::{Callback, LoadedPlugin};
pub use manager::{LoadReport, PluginManager};
pub use spec::{PluginKind, PluginSource, PluginSpec};
pub use stats::PluginSnapshot;
pub use versions::SUPPORTED_WIT_VERSIONS;
