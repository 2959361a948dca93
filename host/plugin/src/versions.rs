//! Which WIT package versions this host can run, and reading the version a
//! component was built against from its import and export names.

use std::collections::BTreeSet;

/// The WIT package every plugin interface belongs to.
pub const PACKAGE: &str = "trellis:plugin";

/// Released versions of `trellis:plugin` that this host runs.
pub const SUPPORTED_WIT_VERSIONS: &[&str] = &["0.1.0"];

/// The companion package for single sign-on providers, built on
/// `trellis:plugin`; optional in a component.
pub const SSO_PACKAGE: &str = "trellis:sso";

/// Released versions of `trellis:sso` that this host runs.
pub const SUPPORTED_SSO_VERSIONS: &[&str] = &["0.1.0"];

/// Refuses a component that uses a version of a companion package
/// (`trellis:sso`) this host does not run: otherwise its exports would be
/// silently ignored.
pub fn check_companions<'a>(names: impl Iterator<Item = &'a str>) -> Result<(), String> {
    for name in names {
        let Some(version) = name
            .strip_prefix(SSO_PACKAGE)
            .and_then(|rest| rest.strip_prefix('/'))
            .and_then(|rest| rest.split_once('@'))
        else {
            continue;
        };
        if !SUPPORTED_SSO_VERSIONS.contains(&version.1) {
            return Err(format!(
                "the component was built against {SSO_PACKAGE}@{}, but this server supports {SSO_PACKAGE}@{}; \
                 rebuild the plugin with a supported trellis-sdk",
                version.1,
                SUPPORTED_SSO_VERSIONS.join(", @")
            ));
        }
    }
    Ok(())
}

/// Splits `trellis:plugin/kv@0.1.0` into (`kv`, `0.1.0`). Names of other
/// packages (WASI) give `None`.
pub fn split_trellis_name(name: &str) -> Option<(&str, &str)> {
    let rest = name.strip_prefix(PACKAGE)?.strip_prefix('/')?;
    let (interface, version) = rest.split_once('@')?;
    Some((interface, version))
}

/// Picks the single `trellis:plugin` version a component uses. Components
/// mixing versions, or using one this host does not run, are refused with a
/// message naming both sides.
pub fn detect<'a>(names: impl Iterator<Item = &'a str>) -> Result<&'static str, String> {
    let found: BTreeSet<&str> = names.filter_map(split_trellis_name).map(|(_, version)| version).collect();
    let mut found = found.into_iter();
    let Some(version) = found.next() else {
        return Err(format!(
            "the component neither imports nor exports any `{PACKAGE}` interface; \
             it must be built against {PACKAGE}@{}",
            SUPPORTED_WIT_VERSIONS.join(" or @")
        ));
    };
    if let Some(other) = found.next() {
        return Err(format!(
            "the component mixes {PACKAGE}@{version} and {PACKAGE}@{other}; \
             a plugin must be built against one version"
        ));
    }
    SUPPORTED_WIT_VERSIONS.iter().copied().find(|supported| *supported == version).ok_or_else(|| {
        format!(
            "the component was built against {PACKAGE}@{version}, but this server supports \
             {PACKAGE}@{}; rebuild the plugin with a supported trellis-sdk",
            SUPPORTED_WIT_VERSIONS.join(", @")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_the_single_supported_version() {
        let names = ["wasi:cli/stderr@0.2.6", "trellis:plugin/log@0.1.0", "trellis:plugin/lifecycle@0.1.0"];
        assert_eq!(detect(names.into_iter()), Ok("0.1.0"));
    }

    #[test]
    fn refuses_unknown_versions_naming_both() {
        let names = ["trellis:plugin/log@0.9.0"];
        let error = detect(names.into_iter()).unwrap_err();
        assert!(error.contains("@0.9.0") && error.contains("@0.1.0"), "{error}");
    }

    #[test]
    fn companion_packages_must_be_a_supported_version() {
        assert!(check_companions(["trellis:sso/provider@0.1.0", "trellis:plugin/log@0.1.0"].into_iter()).is_ok());
        let error = check_companions(["trellis:sso/provider@0.4.0"].into_iter()).unwrap_err();
        assert!(error.contains("trellis:sso@0.4.0") && error.contains("@0.1.0"), "{error}");
        assert!(detect(["trellis:sso/provider@0.1.0", "trellis:plugin/log@0.1.0"].into_iter()).is_ok());
    }

    #[test]
    fn refuses_mixed_versions_and_foreign_components() {
        assert!(detect(["trellis:plugin/log@0.1.0", "trellis:plugin/kv@0.2.0"].into_iter()).is_err());
        assert!(detect(["wasi:cli/stderr@0.2.6"].into_iter()).is_err());
    }
}
