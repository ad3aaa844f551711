//! Node and site descriptions for drivers, made from the model and the plan (drivers see
//! neither).

use std::collections::HashMap;

use crate::driver::{NodeSpec, OobKind, OobSpec, Secret, SiteSpec};
use crate::model::snapshot;
use crate::model::{AddressValue, BaremetalNode, Site};
use crate::plan::Plan;
use crate::state::Journal;

/// The description of a node of the design.
pub fn node(site: &Site, n: &BaremetalNode) -> NodeSpec {
    let c = &n.config;
    let snap = snapshot::node(site, n);
    let address =
        c.oob
            .network
            .as_ref()
            .and_then(|net| match n.static_address(&net.v).map(|a| &a.v) {
                Some(AddressValue::Static(ip)) => Some(*ip),
                _ => None,
            });
    NodeSpec {
        name: n.name.v.clone(),
        rack: c.rack.as_ref().map(|r| r.v.clone()),
        fingerprint: snapshot::fingerprint(&snap),
        snapshot: snap,
        boot_mac: c.boot_mac.as_ref().map(|m| m.v.clone()),
        boot_mode: c
            .hardware_profile
            .as_ref()
            .and_then(|h| site.hardware_profile(&h.v))
            .and_then(|h| h.boot_mode.as_ref())
            .map(|b| b.v.clone()),
        tags: c.tags.iter().map(|t| t.v.clone()).collect(),
        oob: OobSpec {
            kind: c.oob.kind.as_ref().and_then(|k| OobKind::parse(&k.v)),
            address,
            port: c.oob.port.as_ref().and_then(|p| p.v.parse().ok()),
            account: c.oob.account.as_ref().map(|a| a.v.clone()),
            credential: c.oob.credential.as_ref().map(|s| Secret::new(s.v.clone())),
            system: c.oob.system.as_ref().map(|s| s.v.clone()),
            ca_bundle: c.oob.ca_bundle.as_ref().map(|p| p.v.clone().into()),
            insecure: c.oob.insecure.as_ref().is_some_and(|i| i.v),
            cipher_suite: c.oob.cipher_suite.as_ref().and_then(|p| p.v.parse().ok()),
        },
    }
}

/// Descriptions of every node the plan touches: the design's, and removed nodes from what the
/// journal recorded of them.
pub fn nodes(site: &Site, plan: &Plan, journal: &Journal) -> HashMap<String, NodeSpec> {
    let mut out = HashMap::new();
    for c in &plan.nodes {
        if let Some(n) = site.node(&c.node) {
            out.insert(c.node.clone(), node(site, n));
        } else if let Some(rec) = journal.nodes.get(&c.node) {
            let snap = rec.snapshot.clone().unwrap_or_default();
            out.insert(
                c.node.clone(),
                NodeSpec {
                    name: c.node.clone(),
                    rack: snap.get("metadata.rack").cloned(),
                    fingerprint: rec.fingerprint.clone().unwrap_or_default(),
                    boot_mac: snap.get("metadata.boot_mac").cloned(),
                    boot_mode: None,
                    tags: Vec::new(),
                    oob: OobSpec {
                        kind: snap.get("oob.type").and_then(|k| OobKind::parse(k)),
                        address: None,
                        port: None,
                        account: None,
                        credential: None,
                        system: None,
                        ca_bundle: None,
                        insecure: false,
                        cipher_suite: None,
                    },
                    snapshot: snap,
                },
            );
        }
    }
    out
}

pub fn site(site: &Site) -> SiteSpec {
    let snap = snapshot::site(site);
    SiteSpec {
        name: site.region().map_or_else(String::new, |r| r.name.v.clone()),
        fingerprint: snapshot::fingerprint(&snap),
        snapshot: snap,
    }
}
