//! A real SAML identity provider for the single sign-on tests: the npm
//! package `saml-idp` (installed with the interop Node modules, with
//! `samlp` pinned by an npm override), started once per test binary on
//! 127.0.0.1 and killed when the tests exit, like the CAS server.
//!
//! It signs with the test-only key in `tests/fixtures/saml/` and expects
//! the service provider at `http://localhost/` (the tests' `public_baseurl`).
//! Its login form takes the user's attributes from the POST, so each test
//! says who signs in: see [`SamlIdp::sign_in_fields`].

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};

use crate::interop::node_modules;
use crate::peers::{free_port, wait_until_listening};

/// The service provider entity id the IdP puts in its audience.
pub const SP_ENTITY_ID: &str = "http://localhost/_synapse/client/saml2/metadata.xml";

/// Where the IdP posts responses (as the tests' `public_baseurl` sees it).
pub const ACS_URL: &str = "http://localhost/_synapse/client/saml2/authn_response";

/// The running IdP.
#[derive(Debug)]
pub struct SamlIdp {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    _dir: tempfile::TempDir,
    _guard: Mutex<Child>,
}

/// The attributes the IdP describes; values come from each sign-in.
const ATTRIBUTES: &str = "module.exports = {\n\
  user: { userName: 'nobody@example.com', nameIdFormat: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress', uid: 'nobody' },\n\
  metadata: [\n\
    { id: 'uid', optional: false, displayName: 'User id', description: 'uid', multiValue: false },\n\
    { id: 'displayName', optional: true, displayName: 'Display name', description: 'name', multiValue: false },\n\
    { id: 'email', optional: true, displayName: 'E-mail', description: 'mail', multiValue: false },\n\
    { id: 'groups', optional: true, displayName: 'Groups', description: 'groups', multiValue: false },\n\
  ],\n\
};\n";

/// The folder with the test keys.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/saml")
}

impl SamlIdp {
    /// The IdP of this test binary, started on first use.
    pub fn shared() -> &'static SamlIdp {
        static IDP: OnceLock<SamlIdp> = OnceLock::new();
        IDP.get_or_init(SamlIdp::start)
    }

    fn start() -> SamlIdp {
        let modules = node_modules();
        let dir = tempfile::tempdir().expect("tempdir for the IdP");
        let config = dir.path().join("idp-config.js");
        std::fs::write(&config, ATTRIBUTES).expect("write the IdP config");
        let port = free_port();
        let node = std::env::var("NODE").unwrap_or_else(|_| "node".into());
        let script = format!(
            "\"{node}\" \"{run}\" --host 127.0.0.1 --port {port} --acsUrl {ACS_URL} --audience {SP_ENTITY_ID} \
             --issuer urn:example:idp --cert \"{cert}\" --key \"{key}\" --configFile \"{config}\" \
             >idp.log 2>&1 & child=$!; read _; kill $child",
            run = modules.join("saml-idp/bin/run.js").display(),
            cert = fixtures().join("idp-cert.pem").display(),
            key = fixtures().join("idp-key.pem").display(),
            config = config.display(),
        );
        let guard = Command::new("sh")
            .args(["-c", &script])
            .current_dir(dir.path())
            .stdin(Stdio::piped())
            .spawn()
            .expect("start saml-idp");
        wait_until_listening("saml-idp", port, &dir.path().join("idp.log"));
        SamlIdp { url: format!("http://127.0.0.1:{port}"), _dir: dir, _guard: Mutex::new(guard) }
    }

    /// The IdP's metadata URL.
    pub fn metadata_url(&self) -> String {
        format!("{}/metadata", self.url)
    }

    /// The `/signin` form fields for a user: every attribute, every time
    /// (the IdP keeps one shared profile between sign-ins).
    pub fn sign_in_fields(uid: &str, display_name: &str, groups: &str) -> Vec<(String, String)> {
        vec![
            ("userName".into(), format!("{uid}@example.com")),
            ("nameIdFormat".into(), "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress".into()),
            ("uid".into(), uid.into()),
            ("displayName".into(), display_name.into()),
            ("email".into(), format!("{uid}@example.com")),
            ("groups".into(), groups.into()),
        ]
    }
}
