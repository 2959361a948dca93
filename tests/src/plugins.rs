//! Plugins for tests: the guest workspace (examples, fixtures, first-party
//! plugins) is built once per test run and shared by every test.

use std::path::PathBuf;
use std::sync::OnceLock;

/// Every guest package the tests load.
const PACKAGES: &[&str] = &[
    "fixture-hooks",
    "fixture-noop",
    "fixture-probe",
    "fixture-faulty",
    "fixture-future-wit",
    "template",
    "spam-filter",
    "auto-accept-invites",
    "welcome-message",
    "message-stats",
];

/// The folder holding the built `.wasm` files.
pub fn wasm_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| match trellis_guest_build::build(PACKAGES) {
        Ok(dir) => dir,
        Err(error) => panic!("{error}"),
    })
    .clone()
}

/// The component file of a guest package, e.g. `spam-filter`.
pub fn wasm(package: &str) -> String {
    trellis_guest_build::component_path(&wasm_dir(), package).display().to_string()
}

/// A compiled-plugin cache shared by all test servers: compiling a
/// component with a debug build of Cranelift takes seconds, loading the
/// cached artifact a millisecond.
pub fn shared_cache_dir() -> PathBuf {
    let target = trellis_guest_build::guest_target_dir();
    target.parent().map_or_else(|| target.clone(), std::path::Path::to_path_buf).join("test-plugin-cache")
}
