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

/// What a driver's errors must never carry: the resolved secret, and the forms a peer may
/// echo it in (`user:password`, its base64 as in a Basic `Authorization` header, URL-encoded).
/// Every error leaving a driver that used a secret goes through [`Scrub::error`]: a BMC that
/// echoes the login in its error page does not put the password into output, logs or journal.
pub struct Scrub {
    needles: Vec<String>,
}

/// How a scrubbed secret reads in a message.
pub const REDACTED: &str = "(redacted)";

impl Scrub {
    pub fn new(account: &str, password: &str) -> Scrub {
        let mut needles = Vec::new();
        if !password.is_empty() {
            let pair = format!("{account}:{password}");
            needles.push(base64(pair.as_bytes()));
            needles.push(pair);
            needles.push(base64(password.as_bytes()));
            needles.push(url_encoded(password));
            needles.push(password.to_string());
        }
        // Longest first, so a form that contains another is replaced whole.
        needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
        needles.dedup();
        Scrub { needles }
    }

    pub fn text(&self, s: &str) -> String {
        let mut out = s.to_string();
        for n in &self.needles {
            if out.contains(n.as_str()) {
                out = out.replace(n.as_str(), REDACTED);
            }
        }
        out
    }

    pub fn error(&self, e: DriverError) -> DriverError {
        match e {
            DriverError::Transient(m) => DriverError::Transient(self.text(&m)),
            DriverError::Permanent(m) => DriverError::Permanent(self.text(&m)),
        }
    }
}

/// Standard base64 with padding (also used by the boot service for cloud-init content).
pub fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for (i, shift) in [18, 12, 6, 0].iter().enumerate() {
            if i <= c.len() {
                out.push(A[(n >> shift & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn url_encoded(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_of_a_secret_is_scrubbed() {
        assert_eq!(base64(b"admin:p@ss w0rd"), "YWRtaW46cEBzcyB3MHJk");
        assert_eq!(base64(b"ab"), "YWI=");
        let s = Scrub::new("admin", "p@ss w0rd");
        let leaky = "login admin:p@ss w0rd failed; Authorization: Basic YWRtaW46cEBzcyB3MHJk; \
                     pw=p%40ss%20w0rd; again p@ss w0rd";
        let clean = s.text(leaky);
        for form in ["p@ss w0rd", "YWRtaW46cEBzcyB3MHJk", "p%40ss%20w0rd"] {
            assert!(!clean.contains(form), "{clean}");
        }
        assert!(clean.contains("Basic (redacted)"), "{clean}");
        assert_eq!(
            Scrub::new("admin", "").text("nothing to hide"),
            "nothing to hide"
        );
    }

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
