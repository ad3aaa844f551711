//! drydock: bare-metal sites from a YAML design to deployed machines.
//!
//! # Layout
//!
//! Data flows one way: `design` (files → documents with locations, schema-checked) → `model`
//! (the effective site: inheritance, route domains) → `validate` (every rule, every finding)
//! → `report` (human, JSON, SARIF, JUnit, GitHub). `cli` sits on top and is the only module
//! that knows about terminals and exit codes.
//!
//! - `source`: file texts and byte locations; line/column only when rendering.
//! - `diag`: findings (code, severity, message, location, help, affected nodes).
//! - `design`: loading, YAML trees with spans, document envelopes, JSON Schema checks.
//! - `model`: the effective site, built from valid documents; never fails, reports nothing.
//! - `validate`: the rule interface, the registry, one file per rule.
//! - `report`: renderers of findings.
//! - `boot`: drydock's own boot service for the PXE provisioner (dnsmasq for DHCP/DNS/TFTP,
//!   the HTTP service nodes boot, report and signal through, tokens, cloud-init, conman).
//! - `plan`, `observe`, `execute`, `driver`, `state`: planning, observing, applying, the
//!   drivers, the journal (a file, or PostgreSQL with a leader lease).
//! - `service`: `drydock serve`'s engine: operator requests journaled and run by the leader.
//! - `api`: the operator API and the dashboard over HTTP (axum), on top of `service`.
//! - `cli`: every subcommand.

pub mod api;
pub mod boot;
pub mod cli;
pub mod design;
pub mod diag;
pub mod driver;
pub mod durable;
pub mod execute;
pub mod model;
pub mod observe;
pub mod plan;
pub mod report;
pub mod rng;
pub mod service;
pub mod source;
pub mod spec;
pub mod state;
pub mod validate;
pub mod vocab;
