//! Bearer tokens and roles. The tokens file holds one token per line, hashed:
//! `NAME ROLE sha256:HEX` (`#` starts a comment); `drydock token` makes a token and its line.
//! A presented token is hashed and compared with every entry in constant time (no early exit,
//! no length-dependent branch), so timing tells nothing about which bytes matched. Tokens are
//! never logged, never put in an error; only the entry's name is.
//!
//! Roles: `reader` may only read (GET); `operator` may do everything.

use std::path::Path;

use sha2::{Digest, Sha256};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Reader,
    Operator,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "reader" => Some(Role::Reader),
            "operator" => Some(Role::Operator),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Operator => "operator",
        }
    }
}

/// Who a request comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub name: String,
    pub role: Role,
}

struct Entry {
    name: String,
    role: Role,
    hash: [u8; 32],
}

/// The tokens a service accepts.
pub struct Tokens {
    entries: Vec<Entry>,
}

#[derive(Debug, thiserror::Error)]
pub enum TokensError {
    #[error("cannot read the tokens file {0}: {1}")]
    Read(String, std::io::Error),
    #[error("{file}:{line}: {what}")]
    Line {
        file: String,
        line: usize,
        what: String,
    },
    #[error("the tokens file {0} has no tokens")]
    Empty(String),
}

/// The hash a tokens file holds for `token`.
pub fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// A new token (32 random bytes, hex) and its line for the tokens file.
pub fn new_token(name: &str, role: Role) -> std::io::Result<(String, String)> {
    use std::io::Read;
    let mut b = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut b)?;
    let token = format!("ddt_{}", hex(&b));
    let line = format!("{name} {} sha256:{}", role.as_str(), hex(&hash(&token)));
    Ok((token, line))
}

/// Equal without branching on the bytes.
fn ct_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let mut d = 0u8;
    for i in 0..32 {
        d |= a[i] ^ b[i];
    }
    // Read through a volatile so the fold is not turned into an early-exit compare.
    // SAFETY: reading a local u8.
    unsafe { std::ptr::read_volatile(&d) == 0 }
}

impl Tokens {
    pub fn parse(text: &str, file: &str) -> Result<Tokens, TokensError> {
        let mut entries = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let err = |what: String| TokensError::Line {
                file: file.to_string(),
                line: i + 1,
                what,
            };
            let parts: Vec<&str> = line.split_whitespace().collect();
            let [name, role, h] = parts.as_slice() else {
                return Err(err(
                    "expected `NAME ROLE sha256:HEX` (`drydock token` prints such a line)".into(),
                ));
            };
            let role = Role::parse(role)
                .ok_or_else(|| err(format!("unknown role `{role}`: use `reader` or `operator`")))?;
            let hash = h.strip_prefix("sha256:").and_then(unhex).ok_or_else(|| {
                err("the token must be given as `sha256:` and 64 hex digits of its SHA-256, never the token itself".into())
            })?;
            if entries.iter().any(|e: &Entry| e.name == *name) {
                return Err(err(format!("the name `{name}` is used twice")));
            }
            entries.push(Entry {
                name: name.to_string(),
                role,
                hash,
            });
        }
        if entries.is_empty() {
            return Err(TokensError::Empty(file.to_string()));
        }
        Ok(Tokens { entries })
    }

    pub fn read(path: &Path) -> Result<Tokens, TokensError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| TokensError::Read(path.display().to_string(), e))?;
        Tokens::parse(&text, &path.display().to_string())
    }

    /// The caller a token belongs to. Every entry is compared, whatever matches.
    pub fn check(&self, token: &str) -> Option<Caller> {
        let h = hash(token);
        let mut found: Option<&Entry> = None;
        for e in &self.entries {
            if ct_eq(&e.hash, &h) {
                found = Some(e);
            }
        }
        found.map(|e| Caller {
            name: e.name.clone(),
            role: e.role,
        })
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_checked_by_hash_with_their_role() {
        let (t1, l1) = new_token("ci", Role::Operator).unwrap();
        let (t2, l2) = new_token("grafana", Role::Reader).unwrap();
        let tokens = Tokens::parse(&format!("# tokens\n{l1}\n\n{l2}  # read only\n"), "f").unwrap();
        assert_eq!(tokens.len(), 2);
        assert_eq!(
            tokens.check(&t1),
            Some(Caller {
                name: "ci".into(),
                role: Role::Operator
            })
        );
        assert_eq!(tokens.check(&t2).unwrap().role, Role::Reader);
        assert_eq!(tokens.check("ddt_wrong"), None);
        assert_eq!(tokens.check(""), None);
        // The file holds no token.
        assert!(!l1.contains(&t1[4..]));
    }

    #[test]
    fn bad_lines_are_refused_with_their_place() {
        let e = Tokens::parse("a operator sha256:00\n", "tok")
            .err()
            .unwrap();
        assert!(e.to_string().starts_with("tok:1:"), "{e}");
        let e = Tokens::parse("# only\n\na admin sha256:x\n", "tok")
            .err()
            .unwrap();
        assert!(e.to_string().contains("tok:3: unknown role `admin`"), "{e}");
        let e = Tokens::parse("a reader secret-token\n", "tok")
            .err()
            .unwrap();
        assert!(!e.to_string().contains("secret-token"), "{e}");
        assert!(matches!(
            Tokens::parse("# nothing\n", "tok"),
            Err(TokensError::Empty(_))
        ));
        let h = format!("sha256:{}", "ab".repeat(32));
        let e = Tokens::parse(&format!("a reader {h}\na operator {h}\n"), "tok")
            .err()
            .unwrap();
        assert!(e.to_string().contains("used twice"), "{e}");
    }
}
