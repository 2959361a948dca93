//! The HTML pages of single sign-on, rendered with minijinja (Jinja2 syntax,
//! as Synapse's templates). Every value is HTML-escaped. An admin can
//! replace any page by putting a file of the same name into
//! `sso.custom_template_directory`; a broken replacement stops start-up
//! instead of breaking logins later.

use std::path::Path;

use anyhow::Context as _;
use minijinja::{AutoEscape, Environment};
use serde::Serialize;

/// The built-in pages, by file name.
const BUILT_IN: &[(&str, &str)] = &[
    ("_style.html", include_str!("templates/_style.html")),
    ("sso_error.html", include_str!("templates/sso_error.html")),
    ("sso_account_deactivated.html", include_str!("templates/sso_account_deactivated.html")),
    ("sso_login_idp_picker.html", include_str!("templates/sso_login_idp_picker.html")),
    ("sso_redirect_confirm.html", include_str!("templates/sso_redirect_confirm.html")),
    ("sso_auth_confirm.html", include_str!("templates/sso_auth_confirm.html")),
    ("sso_auth_success.html", include_str!("templates/sso_auth_success.html")),
    ("sso_auth_bad_user.html", include_str!("templates/sso_auth_bad_user.html")),
    ("sso_auth_account_details.html", include_str!("templates/sso_auth_account_details.html")),
];

/// The page set, ready to render.
#[derive(Debug)]
pub struct Templates {
    env: Environment<'static>,
}

impl Templates {
    /// The built-in pages, each replaced by a file of the same name in
    /// `custom_dir` if there is one.
    pub fn load(custom_dir: Option<&Path>) -> anyhow::Result<Self> {
        let mut env = Environment::new();
        // Escape everything, whatever the file is called.
        env.set_auto_escape_callback(|_| AutoEscape::Html);
        for (name, built_in) in BUILT_IN {
            let custom = match custom_dir {
                Some(dir) => match std::fs::read_to_string(dir.join(name)) {
                    Ok(text) => Some(text),
                    Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
                    Err(error) => {
                        return Err(error).with_context(|| format!("reading {}", dir.join(name).display()));
                    }
                },
                None => None,
            };
            match custom {
                Some(text) => env
                    .add_template_owned(*name, text)
                    .with_context(|| format!("the custom template {name} does not parse"))?,
                None => env.add_template(name, built_in).with_context(|| format!("built-in template {name}"))?,
            }
        }
        Ok(Self { env })
    }

    /// Renders a page. A template error (say, a custom page using a missing
    /// filter) is logged and gives a plain page, never a stack trace.
    pub fn render(&self, name: &str, context: impl Serialize) -> String {
        match self.env.get_template(name).and_then(|template| template.render(context)) {
            Ok(html) => html,
            Err(error) => {
                tracing::error!(template = name, "cannot render single sign-on page: {error:#}");
                "<!DOCTYPE html><title>Error</title><p>This page could not be shown. \
                 Please tell the server administrator.</p>"
                    .to_owned()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn escapes_every_value() {
        let templates = Templates::load(None).unwrap();
        let html = templates.render(
            "sso_error.html",
            json!({"error_description": "<script>alert(1)</script>", "server_name": "a\"b", "error": "x"}),
        );
        assert!(html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"), "{html}");
        assert!(!html.contains("<script>alert"));
    }

    #[test]
    fn custom_directory_replaces_pages_and_bad_ones_fail_early() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("sso_error.html"), "Custom: {{ error_description }}").unwrap();
        let templates = Templates::load(Some(dir.path())).unwrap();
        assert_eq!(templates.render("sso_error.html", json!({"error_description": "<b>"})), "Custom: &lt;b&gt;");
        assert!(templates.render("sso_account_deactivated.html", json!({})).contains("deactivated"));
        std::fs::write(dir.path().join("sso_error.html"), "{% if %}").unwrap();
        assert!(Templates::load(Some(dir.path())).is_err());
    }
}
