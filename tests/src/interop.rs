//! Real third-party Matrix software for the interop tests: a Python
//! virtualenv with Synapse (for its `register_new_matrix_user` tool) and
//! matrix-nio, created on first use from `tests/interop/requirements.txt`.
//!
//! The virtualenv lives in `TRELLIS_INTEROP_VENV` if set, else under the
//! Cargo target folder, so that it is built once and reused by later runs.
//! A missing Python or a failed install fails the tests loudly: nothing is
//! skipped.

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
