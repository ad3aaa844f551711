//! Storage sizes as Drydock writes them: `30g`, `500mb`, `1TiB`, `10%`, `>100g`.
//! Decimal units are powers of ten, binary ones powers of two; a unit is all lower or all
//! upper case (`Gb` is rejected, where the old implementation crashed).

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Amount {
    Bytes(u64),
    /// A share of the containing device or volume group.
    Percent(u64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size {
    pub amount: Amount,
    /// `>N`: at least N, and take the remaining space.
    pub at_least: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SizeError(pub String);

impl fmt::Display for SizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub const UNITS_HELP: &str = "write a whole number and a unit: m, mb, g, gb, t, tb (decimal), mi, mib, gi, gib, ti, tib (binary) or %, optionally prefixed with `>` for \"at least, and the rest of the space\"";

impl Size {
    pub fn parse(s: &str) -> Result<Size, SizeError> {
        let t = s.trim();
        let (at_least, t) = match t.strip_prefix('>') {
            Some(rest) => (true, rest.trim_start()),
            None => (false, t),
        };
        let digits = t.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(SizeError(format!(
                "size `{s}` does not start with a whole number"
            )));
        }
        let n: u64 = t[..digits]
            .parse()
            .map_err(|_| SizeError(format!("size `{s}` is too large")))?;
        let unit = t[digits..].trim_start();
        if unit != unit.to_ascii_lowercase() && unit != unit.to_ascii_uppercase() {
            return Err(SizeError(format!(
                "size `{s}` mixes upper and lower case in its unit `{unit}`"
            )));
        }
        let mult: u64 = match unit.to_ascii_lowercase().as_str() {
            "%" => {
                return Ok(Size {
                    amount: Amount::Percent(n),
                    at_least,
                });
            }
            "m" | "mb" => 1_000_000,
            "g" | "gb" => 1_000_000_000,
            "t" | "tb" => 1_000_000_000_000,
            "mi" | "mib" => 1 << 20,
            "gi" | "gib" => 1 << 30,
            "ti" | "tib" => 1 << 40,
            "" => return Err(SizeError(format!("size `{s}` has no unit"))),
            _ => {
                return Err(SizeError(format!(
                    "size `{s}` has an unknown unit `{unit}`"
                )));
            }
        };
        let bytes = n
            .checked_mul(mult)
            .ok_or_else(|| SizeError(format!("size `{s}` is too large")))?;
        Ok(Size {
            amount: Amount::Bytes(bytes),
            at_least,
        })
    }

    pub fn bytes(&self) -> Option<u64> {
        match self.amount {
            Amount::Bytes(b) => Some(b),
            Amount::Percent(_) => None,
        }
    }

    pub fn percent(&self) -> Option<u64> {
        match self.amount {
            Amount::Percent(p) => Some(p),
            Amount::Bytes(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(s: &str) -> u64 {
        Size::parse(s).unwrap().bytes().unwrap()
    }

    #[test]
    fn units() {
        assert_eq!(bytes("20g"), 20_000_000_000);
        assert_eq!(bytes("20GB"), 20_000_000_000);
        assert_eq!(bytes("1gib"), 1 << 30);
        assert_eq!(bytes("500mb"), 500_000_000);
        assert_eq!(bytes("2T"), 2_000_000_000_000);
        assert_eq!(Size::parse("10%").unwrap().percent(), Some(10));
        let s = Size::parse(">100g").unwrap();
        assert!(s.at_least);
    }

    #[test]
    fn mixed_case_unit_is_an_error_not_a_crash() {
        assert!(Size::parse("20Gb").is_err());
        assert!(Size::parse("20").is_err());
        assert!(Size::parse("g").is_err());
        assert!(Size::parse("99999999999999999999g").is_err());
        assert!(Size::parse("9999999999999g").is_err());
    }
}
