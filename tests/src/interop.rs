//! Real third-party Matrix software for the interop tests: a Python
//! virtualenv with Synapse (for its `register_new_matrix_user` tool) and
//! matrix-nio, created on first use from `tests/interop/requirements.txt`,
//! and an npm install of matrix-js-sdk from `tests/interop/package.json`
//! and its lock file.
//!
//! The virtualenv lives in `TRELLIS_INTEROP_VENV` if set, else under the
//! Cargo target folder; `node_modules/` lives in `tests/interop/` (git
//! ignores it), or in the folder `TRELLIS_INTEROP_NODE_MODULES` names. Both
//! are built once and reused by later runs until their package lists change.
//! A missing Python, Node.js or npm, or a failed install, fails the tests
//! loudly: nothing is skipped.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The folder with `requirements.txt` and the client scripts.
pub fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("interop")
}

fn venv_dir() -> PathBuf {
    std::env::var_os("TRELLIS_INTEROP_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/interop-venv"))
}

/// The virtualenv's `bin/` folder, creating the environment if needed.
pub fn venv_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let venv = venv_dir();
        let requirements = interop_dir().join("requirements.txt");
        let wanted = std::fs::read_to_string(&requirements).expect("read requirements.txt");
        let stamp = venv.join("trellis-requirements.txt");
        if std::fs::read_to_string(&stamp).ok().as_deref() != Some(wanted.as_str()) {
            let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
            run(Command::new(&python).args(["-m", "venv", "--clear"]).arg(&venv), "create the interop virtualenv");
            let pip = venv.join("bin/pip");
            run(
                Command::new(&pip).args(["install", "--quiet", "--disable-pip-version-check", "-r"]).arg(&requirements),
                "install the interop requirements",
            );
            std::fs::write(&stamp, wanted).expect("write stamp");
        }
        venv.join("bin")
    })
}

fn run(command: &mut Command, what: &str) {
    let output = command.output().unwrap_or_else(|err| panic!("cannot {what}: {err}"));
    assert!(
        output.status.success(),
        "cannot {what}: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The npm project folder for matrix-js-sdk: `tests/interop` itself, or the
/// folder in `TRELLIS_INTEROP_NODE_MODULES` (the package files are copied
/// there and `node_modules/` is created inside it).
fn node_project_dir() -> PathBuf {
    std::env::var_os("TRELLIS_INTEROP_NODE_MODULES").map(PathBuf::from).unwrap_or_else(interop_dir)
}

/// The `node_modules/` folder with matrix-js-sdk, installed from
/// `tests/interop/package.json` and its lock file on first use (`npm ci`,
/// or `npm install` while there is no lock file yet). Reinstalled when the
/// package files change. Node and npm must be installed: their absence
/// fails the tests.
///
/// The JavaScript scenarios resolve matrix-js-sdk from the folder passed in
/// their `TRELLIS_NODE_MODULES` environment variable (see [`node_command`]).
pub fn node_modules() -> &'static Path {
    static MODULES: OnceLock<PathBuf> = OnceLock::new();
    MODULES.get_or_init(|| {
        run(Command::new(node()).arg("--version"), "run node (is Node.js installed?)");
        let source = interop_dir();
        let project = node_project_dir();
        std::fs::create_dir_all(&project).expect("create the npm project folder");
        let mut wanted = String::new();
        let mut has_lock = false;
        for file in ["package.json", "package-lock.json"] {
            match std::fs::read_to_string(source.join(file)) {
                Ok(text) => {
                    if project != source {
                        std::fs::write(project.join(file), &text).expect("copy the npm package files");
                    }
                    has_lock |= file == "package-lock.json";
                    wanted.push_str(&text);
                }
                Err(err) if file == "package-lock.json" && err.kind() == std::io::ErrorKind::NotFound => {}
                Err(err) => panic!("cannot read tests/interop/{file}: {err}"),
            }
        }
        let modules = project.join("node_modules");
        let stamp = modules.join(".trellis-stamp");
        if std::fs::read_to_string(&stamp).ok().as_deref() != Some(wanted.as_str()) {
            let npm = std::env::var("NPM").unwrap_or_else(|_| "npm".into());
            let verb = if has_lock { "ci" } else { "install" };
            run(
                Command::new(&npm)
                    .arg(verb)
                    .args(["--no-audit", "--no-fund", "--loglevel=error", "--prefix"])
                    .arg(&project),
                "install matrix-js-sdk with npm (is npm installed?)",
            );
            std::fs::write(&stamp, wanted).expect("write stamp");
        }
        modules
    })
}

fn node() -> String {
    std::env::var("NODE").unwrap_or_else(|_| "node".into())
}

/// A `node` command running `script` from `tests/interop`, with
/// `TRELLIS_NODE_MODULES` pointing at [`node_modules`].
pub fn node_command(script: &str) -> Command {
    let mut command = Command::new(node());
    command.arg(interop_dir().join(script)).env("TRELLIS_NODE_MODULES", node_modules());
    command
}
