//! Compiled components kept on disk, keyed by the engine's configuration and
//! the component's bytes, so that a restart does not compile again.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Compiles `bytes`, or loads the artifact compiled earlier for the same
/// bytes and engine configuration. Returns the component and whether it came
/// from the cache.
pub fn load_or_compile(engine: &Engine, cache_dir: Option<&Path>, bytes: &[u8]) -> anyhow::Result<(Component, bool)> {
    let Some(dir) = cache_dir else {
        return Ok((Component::new(engine, bytes)?, false));
    };
    let path = artifact_path(engine, dir, bytes);
    if path.exists() {
        match deserialize(engine, &path) {
            Ok(component) => return Ok((component, true)),
            Err(error) => tracing::warn!(path = %path.display(), %error, "ignoring unusable compiled plugin"),
        }
    }
    let component = Component::new(engine, bytes)?;
    if let Err(error) = store(&path, &component) {
        tracing::warn!(path = %path.display(), %error, "could not cache compiled plugin");
    }
    Ok((component, false))
}

fn artifact_path(engine: &Engine, dir: &Path, bytes: &[u8]) -> PathBuf {
    let mut engine_hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut engine_hasher);
    let mut digest = Sha256::new();
    digest.update(engine_hasher.finish().to_le_bytes());
    digest.update(env!("CARGO_PKG_VERSION").as_bytes());
    digest.update(bytes);
    dir.join(format!("{}.cwasm", hex::encode(digest.finalize())))
}

#[allow(unsafe_code)]
fn deserialize(engine: &Engine, path: &Path) -> anyhow::Result<Component> {
    // SAFETY: wasmtime requires the file to be an artifact that wasmtime
    // itself serialized. Only `store` below writes into the cache folder,
    // with a name derived from the engine configuration and the source
    // bytes, and it renames complete files into place so a crash cannot
    // leave a truncated artifact. wasmtime also checks the header and the
    // engine compatibility before using it.
    Ok(unsafe { Component::deserialize_file(engine, path) }?)
}

fn store(path: &Path, component: &Component) -> anyhow::Result<()> {
    let bytes = component.serialize()?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let partial = path.with_extension(format!("partial-{}", std::process::id()));
    std::fs::write(&partial, bytes)?;
    std::fs::rename(&partial, path)?;
    Ok(())
}
