//! One-time node tokens: 32 random bytes from the kernel (`/dev/urandom`), given to one node
//! for one deploy on its kernel command line. Only their SHA-256 is kept (in the boot records,
//! in the state directory); a presented token is hashed and compared in constant time. The
//! plain token lives in memory only while its node may fetch its boot script.

use std::io::Read;

/// A token as given to a node. `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl Token {
    /// A new random token (64 hex digits).
    pub fn generate() -> Result<Token, String> {
        let mut b = [0u8; 32];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut b))
            .map_err(|e| format!("cannot read /dev/urandom for a node token: {e}"))?;
        Ok(Token(hex(&b)))
    }

    /// The token's text, for the one place that hands it to its node (the iPXE script).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What is stored.
    pub fn hash(&self) -> String {
        hash(&self.0)
    }
}

/// The stored form of a presented token.
pub fn hash(token: &str) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(token.as_bytes()))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Whether `presented` hashes to `stored`, in time independent of where they differ.
pub fn verify(presented: &str, stored: &str) -> bool {
    let h = hash(presented);
    let (a, b) = (h.as_bytes(), stored.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_hashed_and_verified() {
        let a = Token::generate().unwrap();
        let b = Token::generate().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), 64);
        assert!(verify(a.expose(), &a.hash()));
        assert!(!verify(b.expose(), &a.hash()));
        assert!(!verify("", &a.hash()));
        assert!(!verify(a.expose(), ""));
        assert_eq!(format!("{a:?}"), "Token(<redacted>)");
        assert!(!a.hash().contains(a.expose()));
    }
}
