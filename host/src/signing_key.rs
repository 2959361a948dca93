//! The server's ed25519 signing key file, in Synapse's format: one line
//! `ed25519 <key id> <unpadded base64 of the 32-byte seed>`, so a key file
//! can move between Synapse and Trellis. Events and federation requests are
//! signed with it once rooms and federation land.

use std::io::Write as _;
use std::path::Path;

use anyhow::{Context, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use rand::RngCore as _;

/// A parsed key file line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKey {
    /// Key id, e.g. `a_Xyz1`.
    pub key_id: String,
    /// The 32-byte ed25519 seed.
    pub seed: [u8; 32],
}

/// Creates a key file with a new random key. Refuses to overwrite.
pub fn generate(path: &Path) -> anyhow::Result<SigningKey> {
    let mut seed = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut seed);
    let mut id_bytes = [0u8; 3];
    rand::rngs::OsRng.fill_bytes(&mut id_bytes);
    let key_id = format!("a_{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id_bytes));
    let key = SigningKey { key_id, seed };
    let line = format!("ed25519 {} {}\n", key.key_id, STANDARD_NO_PAD.encode(key.seed));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).with_context(|| format!("cannot create signing key file {}", path.display()))?;
    file.write_all(line.as_bytes())?;
    Ok(key)
}

/// Reads the first key of a key file.
pub fn load(path: &Path) -> anyhow::Result<SigningKey> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read signing key {}", path.display()))?;
    let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or_default();
    let parts: Vec<&str> = line.split_whitespace().collect();
    let [algorithm, key_id, encoded] = parts.as_slice() else {
        bail!("signing key {} is not of the form `ed25519 <id> <base64>`", path.display());
    };
    if *algorithm != "ed25519" {
        bail!("signing key {}: unsupported algorithm {algorithm:?}", path.display());
    }
    let bytes = STANDARD_NO_PAD
        .decode(encoded.trim_end_matches('='))
        .with_context(|| format!("signing key {}: bad base64", path.display()))?;
    let seed: [u8; 32] =
        bytes.try_into().map_err(|_| anyhow::anyhow!("signing key {}: seed must be 32 bytes", path.display()))?;
    Ok(SigningKey { key_id: (*key_id).to_owned(), seed })
}

/// A random key that lives only in memory.
pub fn ephemeral() -> SigningKey {
    let mut seed = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut seed);
    SigningKey { key_id: "a_temp".to_owned(), seed }
}

/// Loads the key, creating the file first if it does not exist.
pub fn load_or_generate(path: &Path) -> anyhow::Result<SigningKey> {
    if path.exists() {
        load(path)
    } else {
        tracing::info!(path = %path.display(), "generating a new signing key");
        generate(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_no_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.signing.key");
        let key = generate(&path).unwrap();
        assert_eq!(load(&path).unwrap(), key);
        assert!(generate(&path).is_err(), "must not overwrite");
        assert!(key.key_id.starts_with("a_"));
    }

    #[test]
    fn reads_synapse_key_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("synapse.key");
        std::fs::write(&path, "ed25519 a_AbCd nMNGLAvoZJMeVd3SKcbVqeQXqr+0+RW8q7Ii/wHqkv8\n").unwrap();
        let key = load(&path).unwrap();
        assert_eq!(key.key_id, "a_AbCd");
    }
}
