//! Host-side bindings, one module per supported WIT version.
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
