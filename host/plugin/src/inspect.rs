//! Looking inside a component without a server: its WIT version, the roles
//! it exports and what each import needs from the admin. Used by
//! `trellis inspect-plugin`.

use crate::capabilities::{ImportNeed, classify_import};
use crate::versions;

/// What a component is made of.
#[derive(Debug, Clone)]
pub struct Inspection {
    /// The `trellis:plugin` version, or why there is no usable one.
    pub wit_version: Result<&'static str, String>,
    /// Exported interface names.
    pub exports: Vec<String>,
    /// Each import with what it needs.
    pub imports: Vec<(String, ImportNeed)>,
}

impl Inspection {
    /// The grants the component needs, as `capabilities` keys.
    pub fn needed_grants(&self) -> Vec<&'static str> {
        let mut grants: Vec<&'static str> = self
            .imports
            .iter()
            .filter_map(|(_, need)| match need {
                ImportNeed::Grant(key) => Some(*key),
                _ => None,
            })
            .collect();
        grants.sort_unstable();
        grants.dedup();
        grants
    }
}

/// Compiles the component with a plain engine and reads its interface.
pub fn inspect(bytes: &[u8]) -> anyhow::Result<Inspection> {
    let mut config = wasmtime::Config::new();
    config.wasm_component_model(true);
    let engine = wasmtime::Engine::new(&config)?;
    let component = wasmtime::component::Component::new(&engine, bytes)?;
    let component_type = component.component_type();
    let imports: Vec<String> = component_type.imports(&engine).map(|(name, _)| name.to_owned()).collect();
    let exports: Vec<String> = component_type.exports(&engine).map(|(name, _)| name.to_owned()).collect();
    let wit_version = versions::detect(imports.iter().chain(exports.iter()).map(String::as_str));
    let imports =
        imports.into_iter().map(|name| (classify_import(&name), name)).map(|(need, name)| (name, need)).collect();
    Ok(Inspection { wit_version, exports, imports })
}
