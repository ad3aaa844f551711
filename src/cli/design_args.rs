//! The options that say which design to load, shared by `validate`, `render`, `plan` and
//! `apply`: the site of an Airship repository (`--site`) and the rendering mode (`--strict`).
//! Loading itself is `design::load_with`; this file turns its errors into `CliError`s.

use std::path::PathBuf;

use crate::cli::CliError;
use crate::design::{Design, LoadError, LoadOptions, pegleg, render};

#[derive(clap::Args, Debug, Clone, Default)]
pub struct DesignArgs {
    /// Collect this site's layers (global, type, site) from an Airship repository root
    #[arg(long, value_name = "NAME")]
    pub site: Option<String>,
    /// Render strictly: a substitution whose source is missing is an error, not a warning
    #[arg(long)]
    pub strict: bool,
}

impl DesignArgs {
    pub fn options(&self) -> LoadOptions {
        LoadOptions {
            site: self.site.clone(),
            mode: if self.strict {
                render::Mode::Strict
            } else {
                render::Mode::Lenient
            },
            keep_rendered: false,
        }
    }

    /// The paths that name the same design without `--site`: a repository and `--site S`
    /// become `REPO/site/S` (a path inside a site implies it), so a saved plan reloads the
    /// same site.
    pub fn effective_paths(&self, paths: &[PathBuf]) -> Result<Vec<PathBuf>, CliError> {
        match pegleg::choose(paths, self.site.as_deref()) {
            Ok(Some(site)) if self.site.is_some() => {
                Ok(vec![site.root.join("site").join(&site.name)])
            }
            Ok(_) => Ok(paths.to_vec()),
            Err(e) => Err(site_error(&e)),
        }
    }
}

fn site_error(e: &pegleg::SiteError) -> CliError {
    let help = match e {
        pegleg::SiteError::Several { .. } => {
            "name the site: `--site NAME`, or give the path of `site/NAME`"
        }
        pegleg::SiteError::Unknown { .. } => {
            "name one of the sites listed, as the directory under `site/` is named"
        }
        pegleg::SiteError::NoRepository(_) => {
            "give the repository root (the directory that holds `site/`), or drop `--site` for a plain design"
        }
        pegleg::SiteError::ManyPaths(_) => "give the repository root once, with `--site NAME`",
    };
    CliError::new(e, help)
}

/// Load a design as `args` say; an error (exit 1) when it cannot be loaded at all.
pub fn load(paths: &[PathBuf], options: &LoadOptions) -> Result<Design, CliError> {
    let design = match crate::design::load_with(paths, options) {
        Ok(d) => d,
        Err(LoadError::Site(e)) => return Err(site_error(&e)),
        Err(e) => {
            return Err(CliError::new(
                e,
                "give the path of a design file or directory",
            ));
        }
    };
    if design.sources.is_empty() {
        let paths: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return Err(CliError::new(
            format!("no design files (*.yaml, *.yml) under {}", paths.join(", ")),
            "point drydock at the directory that holds the site's YAML documents",
        ));
    }
    Ok(design)
}
