//! The text of every design file read, and byte locations into it.
//!
//! Everything downstream refers to source text by [`Loc`] (file id + byte range); line and
//! column are computed only when a finding is rendered. This module does no parsing.

use std::path::{Path, PathBuf};

/// Index of a file in a [`SourceMap`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct FileId(pub u32);

/// A byte range in one source file. `Loc::NONE` stands for "no location" (for example a
/// finding about the design as a whole).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Loc {
    pub file: FileId,
    pub start: u32,
    pub len: u32,
}

impl Loc {
    pub const NONE: Loc = Loc {
        file: FileId(u32::MAX),
        start: 0,
        len: 0,
    };

    pub fn new(file: FileId, start: usize, len: usize) -> Loc {
        Loc {
            file,
            start: start.min(u32::MAX as usize) as u32,
            len: len.min(u32::MAX as usize) as u32,
        }
    }

    pub fn is_none(&self) -> bool {
        self.file.0 == u32::MAX
    }
}

/// A value together with where it is written.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct At<T> {
    pub v: T,
    pub loc: Loc,
}

impl<T> At<T> {
    pub fn new(v: T, loc: Loc) -> At<T> {
        At { v, loc }
    }
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> At<U> {
        At {
            v: f(self.v),
            loc: self.loc,
        }
    }
}

impl At<String> {
    pub fn as_str(&self) -> &str {
        &self.v
    }
}

/// One file of a design.
#[derive(Debug)]
pub struct SourceFile {
    pub path: PathBuf,
    /// The file's text; empty when the file could not be read as UTF-8.
    pub text: String,
    /// Byte offset at which each line starts.
    line_starts: Vec<u32>,
}

impl SourceFile {
    pub fn new(path: PathBuf, text: String) -> SourceFile {
        let mut line_starts = vec![0u32];
        line_starts.extend(
            text.bytes()
                .enumerate()
                .filter(|&(_, b)| b == b'\n')
                .map(|(i, _)| (i + 1) as u32),
        );
        SourceFile {
            path,
            text,
            line_starts,
        }
    }

    /// Byte offsets at which each line starts (the first is 0).
    pub fn line_starts(&self) -> &[u32] {
        &self.line_starts
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: u32) -> (u32, u32) {
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = self.line_starts[line] as usize;
        let end = (offset as usize).min(self.text.len());
        let col = self
            .text
            .get(start..end)
            .map_or(end - start, |s| s.chars().count());
        (line as u32 + 1, col as u32 + 1)
    }
}

/// Every file read for one design, in the order they were read.
#[derive(Debug, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    pub fn add(&mut self, file: SourceFile) -> FileId {
        self.files.push(file);
        FileId(self.files.len() as u32 - 1)
    }

    pub fn get(&self, id: FileId) -> Option<&SourceFile> {
        self.files.get(id.0 as usize)
    }

    pub fn files(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files
            .iter()
            .enumerate()
            .map(|(i, f)| (FileId(i as u32), f))
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    pub fn path(&self, id: FileId) -> Option<&Path> {
        self.get(id).map(|f| f.path.as_path())
    }

    /// File path, 1-based line and column of a location, if it has one.
    pub fn position(&self, loc: Loc) -> Option<(&Path, u32, u32)> {
        if loc.is_none() {
            return None;
        }
        let f = self.get(loc.file)?;
        let (l, c) = f.line_col(loc.start);
        Some((&f.path, l, c))
    }
}

/// `s` safe to print on a terminal: control characters (an ESC that would clear the screen or
/// recolour it, a carriage return that would overwrite a line) are written as escapes
/// (`\u{1b}`); newlines and tabs stay. Text from design files and from peers goes through it
/// in human output.
pub fn printable(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return std::borrow::Cow::Borrowed(s);
    }
    std::borrow::Cow::Owned(
        s.chars()
            .map(|c| {
                if c.is_control() && c != '\n' && c != '\t' {
                    c.escape_unicode().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

/// A stable hex digest (SHA-256, first 16 bytes) of some bytes: content hashes, fingerprints
/// and task ids.
pub fn digest(bytes: &[u8]) -> String {
    use sha2::Digest;
    let h = sha2::Sha256::digest(bytes);
    h[..16].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_round_trips() {
        let f = SourceFile::new("a.yaml".into(), "ab\ncdé\nx".into());
        assert_eq!(f.line_col(0), (1, 1));
        assert_eq!(f.line_col(3), (2, 1));
        assert_eq!(f.line_col(7), (2, 4));
    }
}
