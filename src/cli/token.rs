//! `drydock token NAME --role reader|operator`: a new API token and the line that admits it in
//! a tokens file (`drydock serve --tokens FILE`). The token is printed once, here; the file
//! holds only its SHA-256.

use crate::api::auth::{Role, new_token};
use crate::cli::{CliError, CliResult, exit};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Who the token is for (the audit log names it)
    #[arg(value_name = "NAME")]
    pub name: String,
    /// reader: may only read; operator: may also start and cancel tasks
    #[arg(long, value_parser = ["reader", "operator"])]
    pub role: String,
}

pub fn run(a: Args) -> CliResult {
    if a.name.is_empty() || a.name.chars().any(|c| c.is_whitespace() || c == '#') {
        return Err(CliError::new(
            format!("`{}` cannot be a token name", a.name),
            "use a name without spaces or `#`",
        ));
    }
    let role = Role::parse(&a.role).expect("clap allows only known roles");
    let (token, line) = new_token(&a.name, role).map_err(|e| {
        CliError::new(
            format!("cannot read random bytes from /dev/urandom: {e}"),
            "run drydock where /dev/urandom is readable",
        )
    })?;
    outln!("{token}");
    eprintln!(
        "Give the token above to {}; it is not shown again. Add this line to the tokens file:\n{line}",
        a.name
    );
    Ok(exit::OK)
}
