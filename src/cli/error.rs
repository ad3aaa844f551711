//! The one error type of the command line: what went wrong, what to do next, and the exit code.
//! Subcommands return it; `cli::main` renders it once, on stderr, and exits with its code.
//! Library errors (the store's, a driver's, a plan file's) are wrapped into one here, with a
//! help line, never printed raw.

use std::fmt;

use crate::cli::exit;

#[derive(Debug)]
pub struct CliError {
    /// What went wrong: lowercase, no trailing period; empty when the subcommand already
    /// printed its diagnostics (an invalid design).
    pub message: String,
    /// What to do next.
    pub help: Option<String>,
    pub code: u8,
}

pub type CliResult = Result<u8, CliError>;

impl CliError {
    /// An error that stops the command, with what to do next (exit 1).
    pub fn new(message: impl fmt::Display, help: impl Into<String>) -> CliError {
        CliError {
            message: message.to_string(),
            help: Some(help.into()),
            code: exit::ERROR,
        }
    }

    /// The command already said what is wrong (printed diagnostics): only the exit code.
    pub fn reported(code: u8) -> CliError {
        CliError {
            message: String::new(),
            help: None,
            code,
        }
    }

    /// How `main` prints it.
    pub fn render(&self) -> String {
        if self.message.is_empty() {
            return String::new();
        }
        let mut s = format!("error: {}\n", crate::source::printable(&self.message));
        if let Some(h) = &self.help {
            s.push_str(&format!("  help: {}\n", crate::source::printable(h)));
        }
        s
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}
