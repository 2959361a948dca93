//! The `trellis` binary as an admin uses it: generate-config, run,
//! register-user, signals and config errors.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_trellis");

fn trellis(args: &[&str], cwd: &Path) -> std::process::Output {
    Command::new(BIN).args(args).current_dir(cwd).output().expect("run trellis")
}

/// A server process whose stderr is read line by line on a thread.
struct Server {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Server {
    fn spawn(args: &[&str], cwd: &Path) -> Self {
        let mut child = Command::new(BIN)
            .args(args)
            .current_dir(cwd)
            .env("TRELLIS_LOG_LEVEL", "info")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn trellis");
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, lines, seen: Vec::new() }
    }

    /// Waits for a log line containing `needle` and returns it.
    fn wait_for(&mut self, needle: &str) -> String {
        loop {
            match self.lines.recv_timeout(Duration::from_secs(30)) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!("no log line with {needle:?}; saw:\n{}", self.seen.join("\n")),
            }
        }
    }

    /// The bound address from the "listening" log line.
    fn address(&mut self) -> String {
        let line = self.wait_for("listening");
        let start = line.find("address=").expect("address field") + "address=".len();
        line[start..].split_whitespace().next().unwrap().to_owned()
    }

    fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        for _ in 0..200 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.child.kill().ok();
        panic!("server did not stop within 10 s of SIGTERM");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

#[test]
fn generate_config_writes_a_loadable_config_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("homeserver.yaml");
    let args = ["generate-config", "--server-name", "example.org", "--data-dir", "data", "--output", "homeserver.yaml"];
    let out = trellis(&args, dir.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("server_name: \"example.org\""), "{text}");
    let key = std::fs::read_to_string(dir.path().join("data/example.org.signing.key")).unwrap();
    assert!(key.starts_with("ed25519 a_"), "{key}");
    let loaded = trellis::config::parse(&text).unwrap();
    assert!(loaded.ignored_keys.is_empty());
    let secret = loaded.config.registration_shared_secret.unwrap();
    assert!(secret.len() >= 32);

    let again = trellis(&args, dir.path());
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("refusing to overwrite"));
    assert_eq!(std::fs::read_to_string(&config).unwrap(), text, "the file must be untouched");

    // Fresh secrets each time.
    let other = trellis(
        &["generate-config", "--server-name", "example.org", "--data-dir", "data2", "--output", "b.yaml"],
        dir.path(),
    );
    assert!(other.status.success());
    let other = trellis::config::parse(&std::fs::read_to_string(dir.path().join("b.yaml")).unwrap()).unwrap();
    assert_ne!(other.config.registration_shared_secret.as_deref(), Some(secret.as_str()));
}

#[test]
fn bad_config_fails_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.yaml"), "server_name: x.org\nlisteners:\n  - port: eighty\n").unwrap();
    let out = trellis(&["run", "--config", "bad.yaml"], dir.path());
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("listeners[0].port"), "{stderr}");

    std::fs::write(dir.path().join("bad2.yaml"), "server_name: x.org\nenable_registration: true\n").unwrap();
    let out = trellis(&["run", "-c", "bad2.yaml"], dir.path());
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("enable_registration"));

    let out = trellis(&["run", "-c", "missing.yaml"], dir.path());
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.yaml"));
}

#[tokio::test]
async fn run_register_user_and_graceful_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let out = trellis(
        &["generate-config", "--server-name", "localhost", "--data-dir", "data", "--output", "hs.yaml", "--port", "0"],
        dir.path(),
    );
    assert!(out.status.success());
    // A Synapse key Trellis does not implement: logged as ignored, not fatal.
    let mut text = std::fs::read_to_string(dir.path().join("hs.yaml")).unwrap();
    text.push_str("report_stats: false\n");
    std::fs::write(dir.path().join("hs.yaml"), text).unwrap();

    let out = Command::new(BIN)
        .args(["register-user", "-c", "hs.yaml", "-u", "Admin", "-p", "s3cret", "--admin"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("@admin:localhost"));

    let mut server = Server::spawn(&["run", "-c", "hs.yaml"], dir.path());
    server.wait_for("report_stats");
    let address = server.address();
    let http = reqwest::Client::new();
    let login = http
        .post(format!("http://{address}/_matrix/client/v3/login"))
        .json(&serde_json::json!({"type": "m.login.password", "user": "admin", "password": "s3cret"}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let token = login.json::<serde_json::Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned();
    let tokens = http
        .get(format!("http://{address}/_synapse/admin/v1/registration_tokens"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(tokens.status(), 200, "register-user --admin must make an admin");

    let status = server.terminate();
    assert!(status.success(), "SIGTERM must end in a clean exit, got {status}");
    server.wait_for("shutdown complete");
}

#[tokio::test]
async fn zero_setup_run_creates_config_and_serves_on_8008() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::spawn(&["run"], dir.path());
    let address = server.address();
    assert_eq!(address, "127.0.0.1:8008");
    let config = std::fs::read_to_string(dir.path().join("data/homeserver.yaml")).unwrap();
    assert!(config.contains("localhost:8008"));
    assert!(dir.path().join("data/homeserver.db").exists());
    let versions = reqwest::get(format!("http://{address}/_matrix/client/versions")).await.unwrap();
    assert_eq!(versions.status(), 200);
    assert!(server.terminate().success());
}

#[tokio::test]
async fn sighup_reloads_plugins_and_keeps_them_when_the_config_is_broken() {
    let dir = tempfile::tempdir().unwrap();
    let out = trellis(
        &["generate-config", "--server-name", "localhost", "--data-dir", "data", "--output", "hs.yaml", "--port", "0"],
        dir.path(),
    );
    assert!(out.status.success());
    let mut server = Server::spawn(&["run", "-c", "hs.yaml"], dir.path());
    let address = server.address();
    let features = || async {
        let versions = reqwest::get(format!("http://{address}/_matrix/client/versions")).await.unwrap();
        versions.json::<serde_json::Value>().await.unwrap()["unstable_features"].clone()
    };
    assert!(features().await.get("org.matrix.msc4140").is_none());
    let hup = |pid: u32| assert!(Command::new("kill").args(["-HUP", &pid.to_string()]).status().unwrap().success());

    let config = dir.path().join("hs.yaml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("msc4140_enabled: false", "msc4140_enabled: true")).unwrap();
    hup(server.child.id());
    server.wait_for("plugins reloaded");
    assert_eq!(features().await["org.matrix.msc4140"], true);

    // A broken config is refused; the running plugins stay.
    std::fs::write(&config, "server_name: [not, valid").unwrap();
    hup(server.child.id());
    server.wait_for("plugin reload failed");
    assert_eq!(features().await["org.matrix.msc4140"], true);
    assert!(server.terminate().success());
}

#[test]
fn inspect_plugin_shows_what_a_component_needs() {
    let dir = trellis_guest_build::build(&["welcome-message", "fixture-future-wit"]).unwrap();
    let welcome = trellis_guest_build::component_path(&dir, "welcome-message");
    let out = Command::new(BIN).arg("inspect-plugin").arg(&welcome).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("WIT: trellis:plugin@0.1.0"), "{text}");
    assert!(text.contains("lifecycle") && text.contains("third-party-rules"), "{text}");
    assert!(text.contains("needs capabilities.kv") && text.contains("needs capabilities.room_write"), "{text}");
    assert!(text.contains("Capabilities to grant: {kv: true, room_write: true}"), "{text}");

    let future = trellis_guest_build::component_path(&dir, "fixture-future-wit");
    let out = Command::new(BIN).arg("inspect-plugin").arg(&future).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("not loadable") && text.contains("@0.9.0"), "{text}");

    let junk = tempfile::NamedTempFile::new().unwrap();
    let out = Command::new(BIN).arg("inspect-plugin").arg(junk.path()).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a WebAssembly component"));
}
