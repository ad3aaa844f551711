//! `Secret`: a credential's value or a reference to one (`env:NAME`, `file:/path`). Its `Debug`
//! never shows a literal value, and it serializes without one: a reference is written as is (it
//! is not secret), a literal is written as "withheld", so a plan file never holds a password.
//! Resolving a reference is the drivers' business (`driver::credential`), not this module's.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A secret value or reference.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Secret(Inner);

#[derive(Clone, PartialEq, Eq, Hash)]
enum Inner {
    /// As written in the design: a reference or a literal.
    Value(String),
    /// A literal left out of a serialized plan; the design it was planned from has it.
    Withheld,
}

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(Inner::Value(s.into()))
    }

    /// A literal that a saved plan left out.
    pub fn withheld() -> Secret {
        Secret(Inner::Withheld)
    }

    /// The reference or literal as written (only for resolving it); `None` when withheld.
    pub fn expose(&self) -> Option<&str> {
        match &self.0 {
            Inner::Value(s) => Some(s),
            Inner::Withheld => None,
        }
    }

    /// The reference (`env:NAME`, `file:/path`), which is safe to show; `None` for a literal.
    pub fn reference(&self) -> Option<&str> {
        self.expose()
            .filter(|s| s.starts_with("env:") || s.starts_with("file:"))
    }

    /// A literal value (not a reference), withheld or not.
    pub fn is_literal(&self) -> bool {
        self.reference().is_none()
    }

    pub fn is_withheld(&self) -> bool {
        self.0 == Inner::Withheld
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.reference() {
            Some(r) => write!(f, "Secret({r})"),
            None => f.write_str("Secret(<redacted>)"),
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Wire {
    Reference(String),
    Withheld { withheld: bool },
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.reference() {
            Some(r) => Wire::Reference(r.to_string()),
            None => Wire::Withheld { withheld: true },
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Secret, D::Error> {
        Ok(match Wire::deserialize(d)? {
            Wire::Reference(r) => Secret::new(r),
            Wire::Withheld { .. } => Secret::withheld(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_literal_never_reaches_debug_or_json() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
        let json = serde_json::to_string(&s).unwrap();
        assert!(!json.contains("hunter2"), "{json}");
        let back: Secret = serde_json::from_str(&json).unwrap();
        assert!(back.is_withheld() && back.expose().is_none());
    }

    #[test]
    fn a_reference_round_trips() {
        let s = Secret::new("env:BMC_PASSWORD");
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, "\"env:BMC_PASSWORD\"");
        assert_eq!(serde_json::from_str::<Secret>(&json).unwrap(), s);
        assert_eq!(format!("{s:?}"), "Secret(env:BMC_PASSWORD)");
    }
}
