//! Host-side bindings, one module per supported WIT package version.
//!
//! Released WIT versions are frozen, so each keeps its own generated module
//! for as long as the host supports it; the rest of the crate converts
//! between these types and the version-neutral ones in `host_api`.

/// Bindings for `trellis:plugin@0.1.0`.
pub mod v0_1 {
    wasmtime::component::bindgen!({
        path: "../../wit/trellis-plugin-0.1.0",
        world: "module",
        imports: { default: async | trappable },
        exports: { default: async },
    });
}

/// Bindings for `trellis:sso@0.1.0`, which builds on `trellis:plugin@0.1.0`:
/// only the `provider` export is new, so every `trellis:plugin` interface
/// reuses the types and host traits of [`v0_1`].
pub mod sso_v0_1 {
    wasmtime::component::bindgen!({
        path: "../../wit/trellis-sso-0.1.0",
        world: "sso-module",
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            "trellis:plugin/types": super::v0_1::trellis::plugin::types,
            "trellis:plugin/log": super::v0_1::trellis::plugin::log,
            "trellis:plugin/config": super::v0_1::trellis::plugin::config,
            "trellis:plugin/kv": super::v0_1::trellis::plugin::kv,
            "trellis:plugin/room-read": super::v0_1::trellis::plugin::room_read,
            "trellis:plugin/room-write": super::v0_1::trellis::plugin::room_write,
            "trellis:plugin/accounts": super::v0_1::trellis::plugin::accounts,
            "trellis:plugin/http-client": super::v0_1::trellis::plugin::http_client,
            "trellis:plugin/timers": super::v0_1::trellis::plugin::timers,
        },
    });
}
