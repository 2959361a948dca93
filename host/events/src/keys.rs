//! The server's signing key as ruma wants it.

use ruma::signatures::Ed25519KeyPair;

/// PKCS#8 v1 DER prefix for a raw 32-byte ed25519 seed (RFC 8410): ruma's
/// key pair is built from DER, while Synapse's key file holds the seed.
const PKCS8_ED25519_PREFIX: [u8; 16] =
    [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];

/// An ed25519 key pair with its key id version (`a_XyZ` in `ed25519:a_XyZ`).
pub struct ServerKey {
    pair: Ed25519KeyPair,
    version: String,
}

impl std::fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("ServerKey").field("version", &self.version).finish_non_exhaustive()
    }
}

impl ServerKey {
    /// Builds the key from a 32-byte seed and the key id version.
    pub fn from_seed(seed: &[u8; 32], version: &str) -> Result<Self, String> {
        let mut der = PKCS8_ED25519_PREFIX.to_vec();
        der.extend_from_slice(seed);
        let pair = Ed25519KeyPair::from_der(&der, version.to_owned()).map_err(|e| e.to_string())?;
        Ok(Self { pair, version: version.to_owned() })
    }

    /// The ruma key pair, for signing.
    pub fn pair(&self) -> &Ed25519KeyPair {
        &self.pair
    }

    /// `ed25519:<version>`.
    pub fn key_id(&self) -> String {
        format!("ed25519:{}", self.version)
    }

    /// The public key, unpadded standard base64.
    pub fn public_key_base64(&self) -> String {
        ruma::serde::Base64::<ruma::serde::base64::Standard, _>::new(self.pair.public_key().to_vec()).encode()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc8032_vector_one() {
        let seed: [u8; 32] = core::array::from_fn(|i| {
            u8::from_str_radix(
                &"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"[2 * i..2 * i + 2],
                16,
            )
            .unwrap()
        });
        let key = ServerKey::from_seed(&seed, "a_1").unwrap();
        assert_eq!(key.public_key_base64(), "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo");
        assert_eq!(key.key_id(), "ed25519:a_1");
    }
}
