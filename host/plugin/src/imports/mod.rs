//! The host side of the WIT interfaces plugins import, one file each.
//!
//! Every function checks the plugin's grant (and any narrowing of it) before
//! calling the server through `PluginHost`, and keeps its waiting time off the
//! guest's deadline. A refused capability is answered as the interface's own
//! error where it has one; where it has none, the call traps.

mod accounts;
mod config;
mod convert;
mod http;
mod kv;
mod log;
mod rooms;
pub(crate) mod timers;

use wasmtime::component::{HasSelf, Linker};

use crate::bindings::v0_1;
use crate::state::StoreState;

pub use convert::{event_to_wit, matrix_error_from_wit, request_to_wit, response_from_wit};
pub use timers::now_ms;

impl v0_1::trellis::plugin::types::Host for StoreState {}

/// A linker with WASI and every `trellis:plugin` interface. Imports that a
/// plugin was not granted are refused before it is ever linked.
pub fn linker(engine: &wasmtime::Engine) -> anyhow::Result<Linker<StoreState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    v0_1::Module::add_to_linker::<StoreState, HasSelf<StoreState>>(&mut linker, |state| state)?;
    Ok(linker)
}

/// Traps the call: used when a plugin reaches past its grant at run time.
fn refused(what: impl std::fmt::Display) -> wasmtime::Error {
    wasmtime::Error::msg(format!("capability refused: {what}"))
}
