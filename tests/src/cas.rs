//! A real CAS server for the single sign-on tests: django-mama-cas (PyPI),
//! installed into the interop virtualenv from `tests/interop/requirements.txt`
//! and started once per test binary on 127.0.0.1.
//!
//! The server is a child of a small shell that kills it when the test
//! process goes away (its stdin closes), so no CAS server outlives the
//! tests even though Rust never drops statics.
//!
//! Users (`username` / `password`, first and last name, staff flag):
//! `alice` / `alicepass` (Alice Liddell, staff), `bob` / `bobpass` (Bob
//! Builder), `carol` / `carolpass`, `dave` / `davepass`, `erin` / `erinpass`
//! and the all-digit `12345` / `numpass`. Attributes are released through
//! mama-cas's `user_name_attributes` and `user_model_attributes` callbacks
//! (`full_name`, `is_staff` as `True`/`False`, `email`, ...).

use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};

use crate::interop::venv_bin;
use crate::peers::{free_port, wait_until_listening};

/// A running CAS server.
#[derive(Debug)]
pub struct CasServer {
    /// `http://127.0.0.1:PORT`, the `cas_config.server_url`.
    pub url: String,
    _project: tempfile::TempDir,
    _guard: Mutex<Child>,
}

const SETTINGS: &str = r#"
import os
BASE_DIR = os.path.dirname(os.path.abspath(__file__))
SECRET_KEY = 'trellis-tests-only'
DEBUG = False
ALLOWED_HOSTS = ['127.0.0.1', 'localhost']
INSTALLED_APPS = [
    'django.contrib.auth', 'django.contrib.contenttypes', 'django.contrib.sessions',
    'django.contrib.messages', 'django.contrib.staticfiles', 'mama_cas',
]
MIDDLEWARE = [
    'django.contrib.sessions.middleware.SessionMiddleware',
    'django.middleware.csrf.CsrfViewMiddleware',
    'django.contrib.auth.middleware.AuthenticationMiddleware',
    'django.contrib.messages.middleware.MessageMiddleware',
]
ROOT_URLCONF = 'urls'
TEMPLATES = [{
    'BACKEND': 'django.template.backends.django.DjangoTemplates',
    'APP_DIRS': True,
    'OPTIONS': {'context_processors': [
        'django.template.context_processors.request',
        'django.contrib.auth.context_processors.auth',
        'django.contrib.messages.context_processors.messages',
    ]},
}]
DATABASES = {'default': {'ENGINE': 'django.db.backends.sqlite3', 'NAME': os.path.join(BASE_DIR, 'cas.sqlite3')}}
STATIC_URL = '/static/'
USE_TZ = True
MAMA_CAS_SERVICES = [{
    'SERVICE': r'^http://(localhost|127\.0\.0\.1)(:\d+)?/',
    'CALLBACKS': ['mama_cas.callbacks.user_name_attributes', 'mama_cas.callbacks.user_model_attributes'],
}]
"#;

const URLS: &str = "from django.urls import include, path\nurlpatterns = [path('', include('mama_cas.urls'))]\n";

const MANAGE: &str = "import os, sys\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'settings')\n\
from django.core.management import execute_from_command_line\nexecute_from_command_line(sys.argv)\n";

const USERS: &str = "from django.contrib.auth.models import User\n\
User.objects.create_user('alice', 'alice@example.com', 'alicepass', first_name='Alice', last_name='Liddell', is_staff=True)\n\
User.objects.create_user('bob', 'bob@example.com', 'bobpass', first_name='Bob', last_name='Builder')\n\
User.objects.create_user('carol', 'carol@example.com', 'carolpass', first_name='Carol')\n\
User.objects.create_user('dave', 'dave@example.com', 'davepass', first_name='Dave')\n\
User.objects.create_user('erin', 'erin@example.com', 'erinpass', first_name='Erin')\n\
User.objects.create_user('12345', 'num@example.com', 'numpass')\n";

impl CasServer {
    /// The CAS server of this test binary, started on first use.
    pub fn shared() -> &'static CasServer {
        static SERVER: OnceLock<CasServer> = OnceLock::new();
        SERVER.get_or_init(CasServer::start)
    }

    fn start() -> CasServer {
        let python = venv_bin().join("python");
        let project = tempfile::tempdir().expect("tempdir for the CAS project");
        for (file, text) in [("settings.py", SETTINGS), ("urls.py", URLS), ("manage.py", MANAGE)] {
            std::fs::write(project.path().join(file), text).expect("write the CAS project");
        }
        let manage = |args: &[&str]| {
            let output = Command::new(&python)
                .arg("manage.py")
                .args(args)
                .current_dir(project.path())
                .output()
                .expect("run manage.py");
            assert!(
                output.status.success(),
                "manage.py {args:?} failed:\n{}\n{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        };
        manage(&["migrate", "--noinput"]);
        manage(&["shell", "-c", USERS]);
        let port = free_port();
        // `read` returns when the test process exits and closes the pipe.
        let script = format!(
            "\"{python}\" manage.py runserver 127.0.0.1:{port} --noreload >cas.log 2>&1 & \
             child=$!; read _; kill $child",
            python = python.display()
        );
        let guard = Command::new("sh")
            .args(["-c", &script])
            .current_dir(project.path())
            .stdin(Stdio::piped())
            .spawn()
            .expect("start the CAS server");
        let url = format!("http://127.0.0.1:{port}");
        wait_until_listening("the CAS server", port, &project.path().join("cas.log"));
        CasServer { url, _project: project, _guard: Mutex::new(guard) }
    }
}
