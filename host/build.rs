//! Builds the first-party plugins (experimental MSC features, single
//! sign-on providers) for
//! wasm32-wasip2 and embeds them, so the server binary carries them and an
//! admin only flips a flag.

use std::path::PathBuf;

/// First-party plugins: (package, constant name).
const FIRST_PARTY: &[(&str, &str)] =
    &[("msc4140", "MSC4140"), ("msc4155", "MSC4155"), ("msc4293", "MSC4293"), ("cas", "CAS"), ("saml", "SAML")];

fn main() {
    let root = trellis_guest_build::repository_root();
    for watched in ["plugins", "sdk", "wit"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    println!("cargo:rerun-if-env-changed=CARGO_TARGET_DIR");
    let packages: Vec<&str> = FIRST_PARTY.iter().map(|(package, _)| *package).collect();
    let dir = match trellis_guest_build::build_installing_target(&packages) {
        Ok(dir) => dir,
        Err(error) => {
            println!("cargo:warning=could not build the first-party plugins");
            panic!("{error}");
        }
    };
    let mut code = String::new();
    for (package, constant) in FIRST_PARTY {
        let path = trellis_guest_build::component_path(&dir, package);
        code.push_str(&format!(
            "/// The `{package}` component.\npub const {constant}: &[u8] = include_bytes!({:?});\n",
            path.display().to_string()
        ));
    }
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default()).join("first_party_plugins.rs");
    if let Err(error) = std::fs::write(&out, code) {
        panic!("cannot write {}: {error}", out.display());
    }
}
