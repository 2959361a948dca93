//! SAML 2.0 single sign-on through a real identity provider (the npm
//! `saml-idp`), end to end: the test plays the browser between Trellis and
//! the IdP and finishes like a Matrix client (`m.login.token`, whoami).
//! The negative cases tamper with what the IdP really signed, on its way
//! back to Trellis, and check that each is refused with a page and that no
//! account or session appears.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine as _;
use serde_json::{Value, json};
use trellis_tests::TestServer;
use trellis_tests::browser::{Browser, Page, query_param};
use trellis_tests::client::{assert_error, encode};
use trellis_tests::saml::{ACS_URL, SamlIdp, fixtures};

const APP: &str = "https://app.example/#/home";

fn config(idp: &SamlIdp, extra: &str) -> String {
    format!(
        "saml2_config:\n  sp_config:\n    metadata:\n      remote:\n        - url: \"{}\"\n    accepted_time_diff: 3\n{extra}\
         sso:\n  client_whitelist: [\"https://app.example/\"]\n",
        idp.metadata_url()
    )
}

/// A config whose metadata is a local file written from the IdP's own
/// metadata, with its certificate swapped for `cert` if given.
fn local_config(server_dir: &std::path::Path, idp: &SamlIdp, swap_cert: Option<&str>) -> String {
    let metadata = reqwest::blocking_get(&idp.metadata_url());
    let metadata = match swap_cert {
        Some(cert) => {
            let start = metadata.find("<X509Certificate>").unwrap() + "<X509Certificate>".len();
            let end = metadata.find("</X509Certificate>").unwrap();
            format!("{}{}{}", &metadata[..start], cert, &metadata[end..])
        }
        None => metadata,
    };
    let path = server_dir.join("idp-metadata.xml");
    std::fs::write(&path, metadata).unwrap();
    format!(
        "saml2_config:\n  sp_config:\n    metadata:\n      local: [\"{}\"]\n\
         sso:\n  client_whitelist: [\"https://app.example/\"]\n",
        path.display()
    )
}

/// Tiny blocking helper for set-up code that runs before a server exists.
mod reqwest {
    pub fn blocking_get(url: &str) -> String {
        let url = url.to_owned();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async { ::reqwest::get(&url).await.unwrap().text().await.unwrap() })
        })
        .join()
        .unwrap()
    }
}

/// What the IdP posts back: the SAMLResponse XML and the RelayState.
struct Posted {
    xml: String,
    relay_state: String,
}

/// Starts a sign-in at Trellis and signs in at the IdP as `uid`; returns
/// the response the IdP would post.
async fn sign_in_at_idp(server: &TestServer, browser: &Browser, uid: &str, groups: &str) -> Posted {
    let start = browser
        .get(&format!("{}/_matrix/client/v3/login/sso/redirect?redirectUrl={}", server.base_url, encode(APP)))
        .await;
    assert_eq!(start.status, 302, "{}", start.body);
    let idp_login = start.location.unwrap();
    assert!(query_param(&idp_login, "SAMLRequest").is_some(), "{idp_login}");
    let form = browser.get(&idp_login).await;
    assert_eq!(form.status, 200, "{}", form.body);
    let authn_request = form.input_value("_authnRequest").expect("the IdP's login form");
    let mut fields = SamlIdp::sign_in_fields(uid, &format!("{uid} Example"), groups);
    fields.push(("_authnRequest".into(), authn_request));
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let idp = SamlIdp::shared();
    let posted = browser.post_form(&format!("{}/signin", idp.url), &pairs).await;
    assert_eq!(posted.status, 200, "{}", posted.body);
    assert!(posted.body.contains(ACS_URL), "the IdP posts to our ACS: {}", posted.body);
    let encoded = posted.input_value("SAMLResponse").expect("SAMLResponse in the IdP's form");
    let xml = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(encoded).unwrap()).unwrap();
    Posted { xml, relay_state: posted.input_value("RelayState").unwrap_or_default() }
}

/// Posts a (possibly altered) response to Trellis's ACS.
async fn post_to_acs(server: &TestServer, xml: &str, relay_state: &str) -> Page {
    let encoded = base64::engine::general_purpose::STANDARD.encode(xml);
    Browser::new()
        .post_form(&server.local_url(ACS_URL), &[("SAMLResponse", &encoded), ("RelayState", relay_state)])
        .await
}

async fn exchange(server: &TestServer, token: &str) -> (u16, Value) {
    server.client().post("/_matrix/client/v3/login", &json!({"type": "m.login.token", "token": token})).await
}

async fn user_id_after(server: &TestServer, page: &Page) -> String {
    assert_eq!(page.status, 302, "{}", page.body);
    let token = query_param(page.location.as_ref().unwrap(), "loginToken").unwrap();
    let (status, body) = exchange(server, &token).await;
    assert_eq!(status, 200, "{body}");
    body["user_id"].as_str().unwrap().to_owned()
}

/// A refused sign-in: a page, no redirect, and no account for `uid`.
async fn assert_refused(server: &TestServer, page: &Page, status: u16, uid: &str) {
    assert_eq!(page.status, status, "{}", page.body);
    assert!(page.location.is_none());
    assert!(page.body.contains("<html"), "an HTML page: {}", page.body);
    let profile = server.client().get(&format!("/_matrix/client/v3/profile/@{uid}:localhost")).await;
    assert_eq!(profile.0, 404, "no account was made for {uid}");
}

#[tokio::test]
async fn saml_login_end_to_end() {
    let idp = SamlIdp::shared();
    let mut server = TestServer::start_with(&config(idp, "")).await;
    let (_, flows) = server.client().get("/_matrix/client/v3/login").await;
    let sso = flows["flows"].as_array().unwrap().iter().find(|f| f["type"] == "m.login.sso").cloned().unwrap();
    assert_eq!(sso["identity_providers"], json!([{"id": "saml", "name": "SAML"}]));

    // The SP metadata names our entity id and ACS.
    let metadata = Browser::new().get(&format!("{}/_synapse/client/saml2/metadata.xml", server.base_url)).await;
    assert_eq!(metadata.status, 200);
    assert!(
        metadata.body.contains("entityID=\"http://localhost/_synapse/client/saml2/metadata.xml\""),
        "{}",
        metadata.body
    );
    assert!(metadata.body.contains(ACS_URL));
    // A GET on the ACS is an error page, not a crash.
    let get = Browser::new().get(&server.local_url(ACS_URL)).await;
    assert_eq!(get.status, 405, "{}", get.body);

    let browser = Browser::new();
    let posted = sign_in_at_idp(&server, &browser, "alice", "").await;
    let page = post_to_acs(&server, &posted.xml, &posted.relay_state).await;
    assert!(page.location.as_deref().unwrap_or_default().starts_with("https://app.example/?loginToken="));
    assert_eq!(user_id_after(&server, &page).await, "@alice:localhost");
    let (_, profile) = server.client().get("/_matrix/client/v3/profile/@alice:localhost").await;
    assert_eq!(profile["displayname"], "alice Example");

    // Replaying the same response: its request is used up.
    let replay = post_to_acs(&server, &posted.xml, &posted.relay_state).await;
    assert_eq!(replay.status, 401, "{}", replay.body);
    assert!(replay.location.is_none());

    // An outstanding request survives a restart of the server.
    let posted = sign_in_at_idp(&server, &Browser::new(), "alice", "").await;
    server.restart().await;
    let page = post_to_acs(&server, &posted.xml, &posted.relay_state).await;
    assert_eq!(user_id_after(&server, &page).await, "@alice:localhost", "the same account again");
}

#[tokio::test]
async fn tampered_responses_are_refused() {
    let idp = SamlIdp::shared();
    let server = TestServer::start_with(&config(idp, "")).await;

    // Unsigned: every signature removed.
    let posted = sign_in_at_idp(&server, &Browser::new(), "bob", "").await;
    let mut unsigned = posted.xml.clone();
    while let Some(start) = unsigned.find("<Signature ") {
        let end = start + unsigned[start..].find("</Signature>").unwrap() + "</Signature>".len();
        unsigned.replace_range(start..end, "");
    }
    let page = post_to_acs(&server, &unsigned, &posted.relay_state).await;
    assert_refused(&server, &page, 401, "bob").await;
    assert!(page.body.contains("not signed"), "{}", page.body);

    // A changed NameID, and a changed attribute.
    let posted = sign_in_at_idp(&server, &Browser::new(), "bob", "").await;
    let renamed = posted.xml.replace(">bob@example.com</saml:NameID>", ">mallory@example.com</saml:NameID>");
    assert_ne!(renamed, posted.xml);
    assert_refused(&server, &post_to_acs(&server, &renamed, &posted.relay_state).await, 401, "bob").await;
    let posted = sign_in_at_idp(&server, &Browser::new(), "bob", "").await;
    let promoted = posted.xml.replace(">bob</saml:AttributeValue>", ">admin</saml:AttributeValue>");
    assert_ne!(promoted, posted.xml);
    assert_refused(&server, &post_to_acs(&server, &promoted, &posted.relay_state).await, 401, "admin").await;

    // A changed digest value.
    let posted = sign_in_at_idp(&server, &Browser::new(), "bob", "").await;
    let at = posted.xml.find("<DigestValue>").unwrap() + "<DigestValue>".len();
    let mut digest = posted.xml.clone();
    let flipped = if &digest[at..at + 1] == "A" { "B" } else { "A" };
    digest.replace_range(at..at + 1, flipped);
    assert_refused(&server, &post_to_acs(&server, &digest, &posted.relay_state).await, 401, "bob").await;

    // Signature wrapping: an unsigned assertion for someone else beside the
    // signed one.
    let posted = sign_in_at_idp(&server, &Browser::new(), "bob", "").await;
    let start = posted.xml.find("<saml:Assertion ").unwrap();
    let end = posted.xml.find("</saml:Assertion>").unwrap() + "</saml:Assertion>".len();
    let mut evil = posted.xml[start..end].replace(">bob</saml:AttributeValue>", ">admin</saml:AttributeValue>");
    while let Some(s) = evil.find("<Signature ") {
        let e = s + evil[s..].find("</Signature>").unwrap() + "</Signature>".len();
        evil.replace_range(s..e, "");
    }
    let evil = evil.replacen("ID=\"", "ID=\"evil", 1);
    let wrapped = format!("{}{evil}{}", &posted.xml[..start], &posted.xml[start..]);
    let page = post_to_acs(&server, &wrapped, &posted.relay_state).await;
    assert_refused(&server, &page, 401, "admin").await;
    assert_refused(&server, &page, 401, "bob").await;

    // A response to a request this server never made (it was made by
    // another server): unknown InResponseTo.
    let other = TestServer::start_with(&config(idp, "")).await;
    let posted = sign_in_at_idp(&other, &Browser::new(), "bob", "").await;
    let page = post_to_acs(&server, &posted.xml, &posted.relay_state).await;
    assert_refused(&server, &page, 401, "bob").await;
    assert!(page.body.contains("does not answer a request"), "{}", page.body);

    // Garbage and a DTD.
    let page = post_to_acs(&server, "<!DOCTYPE x [<!ENTITY e \"e\">]><x>&e;</x>", "").await;
    assert_eq!(page.status, 401, "{}", page.body);
}

#[tokio::test]
async fn wrong_certificate_wrong_audience_and_missing_attributes_are_refused() {
    let idp = SamlIdp::shared();
    // Trellis trusts another certificate than the one the IdP signs with.
    let dir = tempfile::tempdir().unwrap();
    let other_pem = std::fs::read_to_string(fixtures().join("other-cert.pem")).unwrap();
    let other_cert: String = other_pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let server = TestServer::start_with(&local_config(dir.path(), idp, Some(&other_cert))).await;
    let posted = sign_in_at_idp(&server, &Browser::new(), "carol", "").await;
    let page = post_to_acs(&server, &posted.xml, &posted.relay_state).await;
    assert_refused(&server, &page, 401, "carol").await;
    assert!(page.body.contains("does not verify"), "{}", page.body);

    // The same metadata with the right certificate, from a local file.
    let good = TestServer::start_with(&local_config(dir.path(), idp, None)).await;
    let posted = sign_in_at_idp(&good, &Browser::new(), "carol", "").await;
    let page = post_to_acs(&good, &posted.xml, &posted.relay_state).await;
    assert_eq!(user_id_after(&good, &page).await, "@carol:localhost");

    // This server calls itself something else: the audience is wrong.
    let renamed = TestServer::start_with(&config(idp, "    entityid: \"https://other.example/sp\"\n")).await;
    let posted = sign_in_at_idp(&renamed, &Browser::new(), "carol", "").await;
    let page = post_to_acs(&renamed, &posted.xml, &posted.relay_state).await;
    assert_refused(&renamed, &page, 401, "carol").await;
    assert!(page.body.contains("another service"), "{}", page.body);

    // Attribute requirements.
    let strict = TestServer::start_with(&config(
        idp,
        "  attribute_requirements:\n    - attribute: groups\n      one_of: [\"staff\", \"admins\"]\n",
    ))
    .await;
    let posted = sign_in_at_idp(&strict, &Browser::new(), "dave", "visitors").await;
    let page = post_to_acs(&strict, &posted.xml, &posted.relay_state).await;
    assert_refused(&strict, &page, 403, "dave").await;
    let posted = sign_in_at_idp(&strict, &Browser::new(), "dave", "staff").await;
    let page = post_to_acs(&strict, &posted.xml, &posted.relay_state).await;
    assert_eq!(user_id_after(&strict, &page).await, "@dave:localhost");
}

#[tokio::test]
async fn existing_accounts_are_grandfathered_by_uid() {
    let idp = SamlIdp::shared();
    let server = TestServer::start_with(&config(idp, "")).await;
    let erin = server.register("erin", "erin-password-1").await;
    let posted = sign_in_at_idp(&server, &Browser::new(), "erin", "").await;
    let page = post_to_acs(&server, &posted.xml, &posted.relay_state).await;
    assert_eq!(user_id_after(&server, &page).await, "@erin:localhost");
    // SAML users re-authenticate through the IdP for UIA; erin also has a password.
    let (status, challenge) = erin.post("/_matrix/client/v3/account/deactivate", &json!({})).await;
    assert_eq!(status, 401);
    assert_eq!(challenge["flows"], json!([{"stages": ["m.login.password"]}, {"stages": ["m.login.sso"]}]));
    assert_error(
        &server.client().get("/_matrix/client/v3/login/cas/redirect?redirectUrl=x").await,
        404,
        "M_UNRECOGNIZED",
    );
}

/// Signs `uid` in at `server` with this display name, all the way to the
/// login token.
async fn full_sign_in(server: &TestServer, uid: &str, display_name: &str) -> Page {
    let idp = SamlIdp::shared();
    let browser = Browser::new();
    let start = browser
        .get(&format!("{}/_matrix/client/v3/login/sso/redirect?redirectUrl={}", server.base_url, encode(APP)))
        .await;
    let form = browser.get(&start.location.unwrap()).await;
    let mut fields = SamlIdp::sign_in_fields(uid, display_name, "");
    fields.push(("_authnRequest".into(), form.input_value("_authnRequest").unwrap()));
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let posted = browser.post_form(&format!("{}/signin", idp.url), &pairs).await;
    let encoded = posted.input_value("SAMLResponse").unwrap();
    let xml = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(encoded).unwrap()).unwrap();
    post_to_acs(server, &xml, &posted.input_value("RelayState").unwrap_or_default()).await
}

async fn display_name_of(server: &TestServer, user_id: &str) -> Value {
    server.client().get(&format!("/_matrix/client/v3/profile/{user_id}")).await.1["displayname"].clone()
}

#[tokio::test]
async fn display_names_follow_the_idp_only_when_asked() {
    let idp = SamlIdp::shared();
    let keeping = TestServer::start_with(&config(idp, "")).await;
    assert_eq!(full_sign_in(&keeping, "frank", "Frank One").await.status, 302);
    assert_eq!(full_sign_in(&keeping, "frank", "Frank Two").await.status, 302);
    assert_eq!(display_name_of(&keeping, "@frank:localhost").await, "Frank One", "set when the account was made");

    let syncing = TestServer::start_with(&format!("{}  update_profile_information: true\n", config(idp, ""))).await;
    assert_eq!(full_sign_in(&syncing, "frank", "Frank One").await.status, 302);
    assert_eq!(full_sign_in(&syncing, "frank", "Frank Two").await.status, 302);
    assert_eq!(display_name_of(&syncing, "@frank:localhost").await, "Frank Two", "updated at every login");
}

#[tokio::test]
async fn a_sign_in_that_outlives_saml_session_lifetime_is_refused() {
    let idp = SamlIdp::shared();
    let server = TestServer::start_with(&config(idp, "  saml_session_lifetime: 1s\n")).await;
    let posted = sign_in_at_idp(&server, &Browser::new(), "gina", "").await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let page = post_to_acs(&server, &posted.xml, &posted.relay_state).await;
    assert_refused(&server, &page, 401, "gina").await;
}
