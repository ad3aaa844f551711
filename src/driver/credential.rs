//! BMC credentials: `oob.credential` is a reference resolved when a driver needs it —
//! `env:NAME` (an environment variable) or `file:/path` (the file's first line) — or, for
//! Drydock compatibility, a literal (validate warns about it). The value is returned to the
//! driver only; errors name the reference, never a value.

use crate::driver::{DriverError, Secret};

/// The credential's value.
pub fn resolve(secret: &Secret) -> Result<String, DriverError> {
    let Some(s) = secret.expose() else {
        return Err(DriverError::Permanent(
            "the BMC credential is a literal that the saved plan withheld; apply the design, or a plan made in this run".into(),
        ));
    };
    if let Some(name) = s.strip_prefix("env:") {
        return std::env::var(name).map_err(|_| {
            DriverError::Permanent(format!("the BMC credential reference `env:{name}` names an environment variable that is not set"))
        });
    }
    if let Some(path) = s.strip_prefix("file:") {
        let text = std::fs::read_to_string(path).map_err(|e| {
            DriverError::Permanent(format!(
                "the BMC credential reference `file:{path}` cannot be read: {e}"
            ))
        })?;
        return Ok(text.lines().next().unwrap_or("").to_string());
    }
    Ok(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_and_literals() {
        // SAFETY: the variable name is unique to this test.
        unsafe { std::env::set_var("DRYDOCK_TEST_CREDENTIAL_1", "s3cret") };
        assert_eq!(
            resolve(&Secret::new("env:DRYDOCK_TEST_CREDENTIAL_1")).unwrap(),
            "s3cret"
        );
        let e = resolve(&Secret::new("env:DRYDOCK_TEST_CREDENTIAL_UNSET")).unwrap_err();
        assert!(e.to_string().contains("env:DRYDOCK_TEST_CREDENTIAL_UNSET"));
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("pw"), "filepw\n").unwrap();
        assert_eq!(
            resolve(&Secret::new(format!(
                "file:{}",
                d.path().join("pw").display()
            )))
            .unwrap(),
            "filepw"
        );
        assert_eq!(resolve(&Secret::new("literal")).unwrap(), "literal");
        assert_eq!(
            format!("{:?}", Secret::new("literal")),
            "Secret(<redacted>)"
        );
    }
}
