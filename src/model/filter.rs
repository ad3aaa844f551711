//! Node filters (BootAction `node_filter`, and command-line targeting): which nodes a filter
//! set selects. Semantics follow Drydock: within one filter, each criterion that is given
//! selects the nodes matching any of its values, and the filter combines those selections by
//! its `filter_type`; the filter set combines its filters by `filter_set_type`. Criteria that
//! are not given take no part. `rack_labels` match the labels of the node's Rack document
//! (fix: the old implementation matched every node).

use crate::model::{BaremetalNode, Pair, Site};
use crate::source::{At, Loc};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetOp {
    Union,
    Intersection,
}

impl SetOp {
    pub fn parse(s: &str) -> Option<SetOp> {
        match s {
            "union" => Some(SetOp::Union),
            "intersection" => Some(SetOp::Intersection),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct NodeFilter {
    pub loc: Loc,
    pub set_type: SetOp,
    pub filters: Vec<Filter>,
}

#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub op: Option<SetOp>,
    pub node_names: Vec<At<String>>,
    pub node_tags: Vec<At<String>>,
    pub node_labels: Vec<Pair>,
    pub rack_names: Vec<At<String>>,
    pub rack_labels: Vec<Pair>,
}

fn any_label(have: &[Pair], want: &[Pair]) -> bool {
    want.iter()
        .any(|(k, v)| have.iter().any(|(hk, hv)| hk.v == k.v && hv.v == v.v))
}

impl Filter {
    /// Whether this one filter selects `node`.
    pub fn matches(&self, site: &Site, node: &BaremetalNode) -> bool {
        let c = &node.config;
        let rack = c.rack.as_ref().map(|r| r.v.as_str());
        let mut results = Vec::with_capacity(5);
        if !self.node_names.is_empty() {
            results.push(self.node_names.iter().any(|n| n.v == node.name.v));
        }
        if !self.node_tags.is_empty() {
            results.push(
                self.node_tags
                    .iter()
                    .any(|t| c.tags.iter().any(|nt| nt.v == t.v)),
            );
        }
        if !self.node_labels.is_empty() {
            results.push(any_label(&c.owner_data, &self.node_labels));
        }
        if !self.rack_names.is_empty() {
            results.push(rack.is_some_and(|r| self.rack_names.iter().any(|n| n.v == r)));
        }
        if !self.rack_labels.is_empty() {
            let labels = rack
                .and_then(|r| site.rack(r))
                .map(|r| r.labels.as_slice())
                .unwrap_or(&[]);
            results.push(any_label(labels, &self.rack_labels));
        }
        combine(self.op.unwrap_or(SetOp::Intersection), &results)
    }
}

/// Union: any is true; intersection: all are true. No parts at all select nothing.
fn combine(op: SetOp, parts: &[bool]) -> bool {
    !parts.is_empty()
        && match op {
            SetOp::Union => parts.iter().any(|&b| b),
            SetOp::Intersection => parts.iter().all(|&b| b),
        }
}

impl NodeFilter {
    pub fn matches(&self, site: &Site, node: &BaremetalNode) -> bool {
        let parts: Vec<bool> = self.filters.iter().map(|f| f.matches(site, node)).collect();
        combine(self.set_type, &parts)
    }
}

/// Build a filter from command-line target expressions: `NAME` or `node:NAME`, `tag:TAG`,
/// `rack:RACK`, `label:KEY=VALUE` (owner data), `rack-label:KEY=VALUE`. Each expression is one
/// filter; `op` combines them (Drydock's `filter_set_type`).
pub fn from_targets(exprs: &[String], op: SetOp) -> Result<NodeFilter, String> {
    let mut filters = Vec::with_capacity(exprs.len());
    for e in exprs {
        let at = |s: &str| At::new(s.to_string(), Loc::NONE);
        let pair = |s: &str| -> Result<Pair, String> {
            let (k, v) = s
                .split_once('=')
                .ok_or_else(|| format!("`{e}`: a label target is KEY=VALUE"))?;
            Ok((at(k), at(v)))
        };
        let mut f = Filter {
            op: Some(SetOp::Union),
            ..Filter::default()
        };
        match e.split_once(':') {
            Some(("node", v)) => f.node_names.push(at(v)),
            Some(("tag", v)) => f.node_tags.push(at(v)),
            Some(("rack", v)) => f.rack_names.push(at(v)),
            Some(("label", v)) => f.node_labels.push(pair(v)?),
            Some(("rack-label", v)) => f.rack_labels.push(pair(v)?),
            Some((kind, _)) => {
                return Err(format!(
                    "`{e}`: unknown target kind `{kind}` (use node:, tag:, rack:, label: or rack-label:)"
                ));
            }
            None => f.node_names.push(at(e)),
        }
        filters.push(f);
    }
    Ok(NodeFilter {
        loc: Loc::NONE,
        set_type: op,
        filters,
    })
}
