//! Single sign-on through a real CAS server (django-mama-cas), end to end:
//! the test plays the browser, following every redirect by hand between
//! Trellis and the CAS server, and finishes like a Matrix client does
//! (`m.login.token`, then whoami).
//!
//! The CAS server sees Trellis at `public_baseurl` (`http://localhost/`),
//! as behind a reverse proxy; the browser here maps that address onto the
//! test server's real one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use trellis_tests::TestServer;
use trellis_tests::browser::{Browser, Page, html_unescape, query_param};
use trellis_tests::cas::CasServer;
use trellis_tests::client::{Client, assert_error, encode};

const APP: &str = "https://app.example/#/home";

fn config(cas: &CasServer, extra: &str) -> String {
    format!(
        "cas_config:\n  enabled: true\n  server_url: \"{}\"\n  displayname_attribute: full_name\n  idp_name: \"Example CAS\"\n{extra}\
         sso:\n  client_whitelist: [\"https://app.example/\"]\n",
        cas.url
    )
}

/// Signs in at the CAS login form the browser was sent to; returns the
/// service URL with the ticket that CAS redirects back to.
async fn sign_in_at_cas(browser: &Browser, cas_login_url: &str, username: &str, password: &str) -> String {
    let form = browser.get(cas_login_url).await;
    assert_eq!(form.status, 200, "CAS login form: {}", form.body);
    let csrf = form.input_value("csrfmiddlewaretoken").expect("CSRF token in the CAS form");
    let sent = browser
        .post_form(cas_login_url, &[("username", username), ("password", password), ("csrfmiddlewaretoken", &csrf)])
        .await;
    assert_eq!(sent.status, 302, "CAS login as {username}: {}", sent.body);
    let back = sent.location.expect("CAS redirects back to the service");
    assert!(back.contains("ticket=ST-"), "{back}");
    back
}

/// From `GET /login/sso/redirect` to the answer of Trellis's ticket
/// callback.
async fn cas_round_trip(server: &TestServer, path: &str, username: &str, password: &str) -> (Page, String) {
    let browser = Browser::new();
    let start = browser.get(&format!("{}{path}", server.base_url)).await;
    assert_eq!(start.status, 302, "start: {}", start.body);
    let cas_login = start.location.expect("redirect to CAS");
    let callback = sign_in_at_cas(&browser, &cas_login, username, password).await;
    (browser.get(&server.local_url(&callback)).await, callback)
}

fn login_path(redirect_url: &str) -> String {
    format!("/_matrix/client/v3/login/sso/redirect?redirectUrl={}", encode(redirect_url))
}

/// Exchanges a login token like a client: `POST /login` with `m.login.token`.
async fn exchange(server: &TestServer, token: &str) -> (u16, Value) {
    server.client().post("/_matrix/client/v3/login", &json!({"type": "m.login.token", "token": token})).await
}

async fn logged_in(server: &TestServer, token: &str) -> Client {
    let (status, body) = exchange(server, token).await;
    assert_eq!(status, 200, "{body}");
    server.client().with_token(body["access_token"].as_str().unwrap())
}

/// A full login as `username`, returning the client.
async fn login_via_cas(server: &TestServer, username: &str, password: &str) -> Client {
    let (page, _) = cas_round_trip(server, &login_path(APP), username, password).await;
    assert_eq!(page.status, 302, "{}", page.body);
    let location = page.location.unwrap();
    logged_in(server, &query_param(&location, "loginToken").unwrap()).await
}

#[tokio::test]
async fn cas_login_creates_an_account_and_finds_it_again() {
    let cas = CasServer::shared();
    let server = TestServer::start_with(&config(cas, "")).await;

    let (status, flows) = server.client().get("/_matrix/client/v3/login").await;
    assert_eq!(status, 200);
    let flows = flows["flows"].as_array().unwrap();
    let sso = flows.iter().find(|f| f["type"] == "m.login.sso").expect("m.login.sso offered");
    assert_eq!(sso["identity_providers"], json!([{"id": "cas", "name": "Example CAS"}]));
    assert!(flows.iter().any(|f| f["type"] == "m.login.cas"));
    assert!(flows.iter().any(|f| f["type"] == "m.login.token"));

    let (page, _) = cas_round_trip(&server, &login_path(APP), "alice", "alicepass").await;
    assert_eq!(page.status, 302, "{}", page.body);
    let location = page.location.unwrap();
    assert!(location.starts_with("https://app.example/?loginToken="), "{location}");
    assert!(location.ends_with("#/home"), "the fragment stays last: {location}");
    let token = query_param(&location, "loginToken").unwrap();
    let alice = logged_in(&server, &token).await;
    assert_eq!(alice.user_id().await, "@alice:localhost");
    let (_, profile) = alice.get("/_matrix/client/v3/profile/@alice:localhost").await;
    assert_eq!(profile["displayname"], "Alice Liddell");

    // A login token works once.
    assert_error(&exchange(&server, &token).await, 403, "M_FORBIDDEN");

    // The second login finds the same account through its CAS identity.
    let again = login_via_cas(&server, "alice", "alicepass").await;
    assert_eq!(again.user_id().await, "@alice:localhost");

    // The legacy CAS entry point leads to the same place.
    let legacy = format!("/_matrix/client/v3/login/cas/redirect?redirectUrl={}", encode(APP));
    let (page, _) = cas_round_trip(&server, &legacy, "alice", "alicepass").await;
    assert_eq!(page.status, 302);
    let token = query_param(&page.location.unwrap(), "loginToken").unwrap();
    assert_eq!(logged_in(&server, &token).await.user_id().await, "@alice:localhost");
}

#[tokio::test]
async fn a_client_off_the_whitelist_gets_a_confirmation_page() {
    let cas = CasServer::shared();
    let server = TestServer::start_with(&config(cas, "")).await;
    let elsewhere = "https://other.example/callback?x=<b>";
    let (page, _) = cas_round_trip(&server, &login_path(elsewhere), "bob", "bobpass").await;
    assert_eq!(page.status, 200, "no automatic redirect: {}", page.body);
    assert!(page.location.is_none());
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    assert!(page.body.contains("other.example"), "{}", page.body);
    assert!(!page.body.contains("<b>"), "values are escaped");
    // The page's button carries the token to the named client.
    let href_at = page.body.find("href=\"").unwrap() + "href=\"".len();
    let href = html_unescape(&page.body[href_at..href_at + page.body[href_at..].find('"').unwrap()]);
    assert!(href.starts_with("https://other.example/callback?x=<b>&loginToken="), "{href}");
    let token = query_param(&href, "loginToken").unwrap();
    assert_eq!(logged_in(&server, &token).await.user_id().await, "@bob:localhost");
}

#[tokio::test]
async fn bad_redirect_urls_and_unknown_providers_are_refused() {
    let cas = CasServer::shared();
    let server = TestServer::start_with(&config(cas, "")).await;
    let client = server.client();
    assert_error(&client.get("/_matrix/client/v3/login/sso/redirect").await, 400, "M_MISSING_PARAM");
    let scripted = login_path("javascript:alert(document.cookie)");
    assert_error(&client.get(&scripted).await, 400, "M_INVALID_PARAM");
    assert_error(&client.get(&login_path("/relative")).await, 400, "M_INVALID_PARAM");
    let unknown = format!("/_matrix/client/v3/login/sso/redirect/nope?redirectUrl={}", encode(APP));
    assert_error(&client.get(&unknown).await, 404, "M_NOT_FOUND");

    // Without a CAS section, no SSO is offered and CAS routes are gone.
    let plain = TestServer::start().await;
    let (_, flows) = plain.client().get("/_matrix/client/v3/login").await;
    assert!(!flows["flows"].as_array().unwrap().iter().any(|f| f["type"] == "m.login.sso"));
    let legacy = format!("/_matrix/client/v3/login/cas/redirect?redirectUrl={}", encode(APP));
    assert_error(&plain.client().get(&legacy).await, 404, "M_UNRECOGNIZED");
}

#[tokio::test]
async fn replayed_tickets_and_tickets_for_another_service_are_refused() {
    let cas = CasServer::shared();
    let server = TestServer::start_with(&config(cas, "")).await;
    let (first, callback) = cas_round_trip(&server, &login_path(APP), "carol", "carolpass").await;
    assert_eq!(first.status, 302);

    // The same ticket again: CAS says INVALID_TICKET, the user sees a page.
    let replay = Browser::new().get(&server.local_url(&callback)).await;
    assert_eq!(replay.status, 401, "{}", replay.body);
    assert!(replay.body.contains("INVALID_TICKET"), "{}", replay.body);
    assert!(replay.location.is_none());

    // A ticket CAS issued to another application (say, a wiki whose
    // operator replays its users' tickets here) is for another service.
    let browser = Browser::new();
    let wiki_login = format!("{}/login?service={}", cas.url, encode("http://127.0.0.1:9/wiki/"));
    let wiki_callback = sign_in_at_cas(&browser, &wiki_login, "carol", "carolpass").await;
    let ticket = query_param(&wiki_callback, "ticket").unwrap();
    let forged =
        format!("{}/_matrix/client/v3/login/cas/ticket?redirectUrl={}&ticket={ticket}", server.base_url, encode(APP));
    let refused = browser.get(&forged).await;
    assert_eq!(refused.status, 401, "{}", refused.body);
    assert!(refused.body.contains("INVALID_SERVICE"), "{}", refused.body);

    // No ticket at all.
    let bare = browser.get(&format!("{}/_matrix/client/v3/login/cas/ticket?redirectUrl=x", server.base_url)).await;
    assert_eq!(bare.status, 400, "{}", bare.body);
}

#[tokio::test]
async fn required_attributes_registration_and_numeric_ids_follow_the_config() {
    let cas = CasServer::shared();
    let extra = "  required_attributes:\n    is_staff: \"True\"\n    email: null\n";
    let server = TestServer::start_with(&config(cas, extra)).await;
    let (refused, _) = cas_round_trip(&server, &login_path(APP), "bob", "bobpass").await;
    assert_eq!(refused.status, 403, "bob is not staff: {}", refused.body);
    assert!(refused.body.contains("not authorised"), "{}", refused.body);
    assert_eq!(login_via_cas(&server, "alice", "alicepass").await.user_id().await, "@alice:localhost");

    // No registration through CAS: only existing accounts, linked by name.
    let closed = TestServer::start_with(&config(cas, "  enable_registration: false\n")).await;
    let (refused, _) = cas_round_trip(&closed, &login_path(APP), "dave", "davepass").await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    closed.register("erin", "erin-password-1").await;
    assert_eq!(login_via_cas(&closed, "erin", "erinpass").await.user_id().await, "@erin:localhost");

    // All-digit CAS names need allow_numeric_ids, and then get the prefix.
    let (refused, _) = cas_round_trip(&closed, &login_path(APP), "12345", "numpass").await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    // (This server also speaks CAS 3: tickets are checked at /p3/serviceValidate.)
    let numeric = TestServer::start_with(&config(
        cas,
        "  allow_numeric_ids: true\n  numeric_ids_prefix: \"n\"\n  protocol_version: 3\n",
    ))
    .await;
    assert_eq!(login_via_cas(&numeric, "12345", "numpass").await.user_id().await, "@n12345:localhost");
}

#[tokio::test]
async fn sso_only_users_reauthenticate_at_cas_for_user_interactive_auth() {
    let cas = CasServer::shared();
    let server = TestServer::start_with(&config(cas, "")).await;
    let alice = login_via_cas(&server, "alice", "alicepass").await;
    let second = login_via_cas(&server, "alice", "alicepass").await;
    let (_, whoami) = second.get("/_matrix/client/v3/account/whoami").await;
    let device = whoami["device_id"].as_str().unwrap().to_owned();
    let delete_path = format!("/_matrix/client/v3/devices/{}", encode(&device));

    // The challenge offers SSO (and not a password: alice has none).
    let (status, challenge) = alice.delete(&delete_path, Some(&json!({}))).await;
    assert_eq!(status, 401);
    assert_eq!(challenge["flows"], json!([{"stages": ["m.login.sso"]}]));
    let session = challenge["session"].as_str().unwrap().to_owned();
    let fallback =
        format!("{}/_matrix/client/v3/auth/m.login.sso/fallback/web?session={}", server.base_url, encode(&session));

    // Submitting the stage before the fallback page is done fails.
    let early = json!({"auth": {"type": "m.login.sso", "session": session}});
    assert_eq!(alice.delete(&delete_path, Some(&early)).await.0, 401);

    // Someone else at CAS cannot confirm it.
    let browser = Browser::new();
    let page = browser.get(&fallback).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let start = browser.get(&continue_link(&server, &page)).await;
    assert_eq!(start.status, 302);
    let callback = sign_in_at_cas(&browser, &start.location.unwrap(), "bob", "bobpass").await;
    assert!(callback.contains("session="), "{callback}");
    let wrong = browser.get(&server.local_url(&callback)).await;
    assert_eq!(wrong.status, 403, "{}", wrong.body);
    assert_eq!(alice.delete(&delete_path, Some(&json!({"auth": {"session": session}}))).await.0, 401);

    // Alice herself can.
    let browser = Browser::new();
    let page = browser.get(&fallback).await;
    let start = browser.get(&continue_link(&server, &page)).await;
    let callback = sign_in_at_cas(&browser, &start.location.unwrap(), "alice", "alicepass").await;
    let done = browser.get(&server.local_url(&callback)).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("authDone"), "the page tells the client: {}", done.body);
    let (status, body) = alice.delete(&delete_path, Some(&json!({"auth": {"session": session}}))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(second.get("/_matrix/client/v3/account/whoami").await.0, 401, "the device is gone");
}

/// The first button of a page, mapped onto the test server.
fn continue_link(server: &TestServer, page: &Page) -> String {
    let at = page.body.find("href=\"").expect("a link on the page") + "href=\"".len();
    server.local_url(&html_unescape(&page.body[at..at + page.body[at..].find('"').unwrap()]))
}

#[tokio::test]
async fn new_users_can_pick_their_user_name() {
    let cas = CasServer::shared();
    let server = TestServer::start_with(&format!("{}  always_pick_username: true\n", config(cas, ""))).await;
    server.register("frank", "frank-password-1").await;
    let browser = Browser::new();
    let start = browser.get(&format!("{}{}", server.base_url, login_path(APP))).await;
    let callback = sign_in_at_cas(&browser, &start.location.unwrap(), "carol", "carolpass").await;
    let back = browser.get(&server.local_url(&callback)).await;
    assert_eq!(back.status, 302, "{}", back.body);
    assert_eq!(back.location.as_deref(), Some("/_synapse/client/pick_username/account_details"));
    assert!(back.header("set-cookie").unwrap().contains("HttpOnly"));
    let picker = format!("{}/_synapse/client/pick_username", server.base_url);

    let form = browser.get(&format!("{picker}/account_details")).await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert_eq!(form.input_value("username").as_deref(), Some("carol"), "the CAS name is suggested");

    let check = |name: &str| format!("{picker}/check?username={name}");
    assert_eq!(browser.get(&check("frank")).await.body, r#"{"available":false}"#);
    assert_eq!(browser.get(&check("Bad%20Name")).await.body, r#"{"available":false}"#);
    assert_eq!(browser.get(&check("carol2")).await.body, r#"{"available":true}"#);
    // Without the session cookie, nothing is answered.
    assert_eq!(Browser::new().get(&check("carol2")).await.status, 403);

    let taken = browser.post_form(&format!("{picker}/account_details"), &[("username", "frank")]).await;
    assert_eq!(taken.status, 400, "{}", taken.body);
    assert!(taken.body.contains("already taken"), "{}", taken.body);

    let chosen = browser
        .post_form(&format!("{picker}/account_details"), &[("username", "carol2"), ("use_display_name", "true")])
        .await;
    assert_eq!(chosen.status, 302, "{}", chosen.body);
    let token = query_param(&chosen.location.unwrap(), "loginToken").unwrap();
    let carol = logged_in(&server, &token).await;
    assert_eq!(carol.user_id().await, "@carol2:localhost");
    let (_, profile) = carol.get("/_matrix/client/v3/profile/@carol2:localhost").await;
    assert_eq!(profile["displayname"], "Carol");
    // The session is used up.
    let again = browser.post_form(&format!("{picker}/account_details"), &[("username", "carol3")]).await;
    assert_eq!(again.status, 400);
    // And the next CAS login goes straight to the picked account.
    assert_eq!(login_via_cas(&server, "carol", "carolpass").await.user_id().await, "@carol2:localhost");
}
