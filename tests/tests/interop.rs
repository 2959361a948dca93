//! Interop with real Matrix software: Synapse's `register_new_matrix_user`
//! registers users through shared-secret registration, and matrix-nio logs
//! in, calls whoami, sets a display name and logs out.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use serde_json::{Value, json};
use trellis_tests::interop::{interop_dir, venv_bin};
use trellis_tests::{SHARED_SECRET, TestServer};

/// Runs a blocking command off the async runtime (the server is in-process).
async fn output(mut command: Command) -> std::process::Output {
    tokio::task::spawn_blocking(move || command.output().expect("run")).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn synapse_register_new_matrix_user() {
    let bin = tokio::task::spawn_blocking(venv_bin).await.unwrap();
    let server = TestServer::start().await;
    for (user, admin_flag) in [("plainuser", "--no-admin"), ("adminuser", "--admin")] {
        let mut command = Command::new(bin.join("register_new_matrix_user"));
        command.args(["-u", user, "-p", "interop-pass", admin_flag, "-k", SHARED_SECRET, &server.base_url]);
        let out = output(command).await;
        assert!(
            out.status.success(),
            "register_new_matrix_user failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let client = server.client();
    let login = |user: &str| json!({"type": "m.login.password", "user": user, "password": "interop-pass"});
    let (status, plain) = client.post("/_matrix/client/v3/login", &login("plainuser")).await;
    assert_eq!(status, 200, "{plain}");
    let plain = client.with_token(plain["access_token"].as_str().unwrap());
    assert_eq!(plain.get("/_synapse/admin/v1/registration_tokens").await.0, 403);
    let (_, admin) = client.post("/_matrix/client/v3/login", &login("adminuser")).await;
    let admin = client.with_token(admin["access_token"].as_str().unwrap());
    assert_eq!(admin.get("/_synapse/admin/v1/registration_tokens").await.0, 200);

    // A wrong secret is refused by the server (the tool exits non-zero).
    let mut command = Command::new(bin.join("register_new_matrix_user"));
    command.args(["-u", "intruder", "-p", "x", "--no-admin", "-k", "wrong-secret", &server.base_url]);
    assert!(!output(command).await.status.success());
    assert_eq!(client.get("/_matrix/client/v3/profile/@intruder:localhost").await.0, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matrix_nio_login_whoami_displayname_logout() {
    let bin = tokio::task::spawn_blocking(venv_bin).await.unwrap();
    let server = TestServer::start().await;
    server.register("niouser", "nio-pass").await;
    let mut command = Command::new(bin.join("python"));
    command.arg(interop_dir().join("nio_scenario.py")).args([&server.base_url, "@niouser:localhost", "nio-pass"]);
    let out = output(command).await;
    assert!(out.status.success(), "nio scenario crashed:\n{}", String::from_utf8_lossy(&out.stderr));
    let seen: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&out.stdout)));
    assert_eq!(seen["login"], "LoginResponse", "{seen}");
    assert_eq!(seen["user_id"], "@niouser:localhost");
    assert_eq!(seen["whoami"], "WhoamiResponse", "{seen}");
    assert_eq!(seen["whoami_user_id"], "@niouser:localhost");
    assert_eq!(seen["whoami_device_id"], seen["device_id"]);
    assert_eq!(seen["set_displayname"], "ProfileSetDisplayNameResponse", "{seen}");
    assert_eq!(seen["get_displayname"], "ProfileGetDisplayNameResponse", "{seen}");
    assert_eq!(seen["displayname"], "Nio Tester");
    assert_eq!(seen["logout"], "LogoutResponse", "{seen}");
    assert_eq!(seen["whoami_after_logout"], "WhoamiError", "{seen}");
    assert_eq!(seen["whoami_after_logout_status"], "M_UNKNOWN_TOKEN", "{seen}");
    // What nio saw matches the server's state.
    let (_, profile) = server.client().get("/_matrix/client/v3/profile/@niouser:localhost").await;
    assert_eq!(profile["displayname"], "Nio Tester");
}
