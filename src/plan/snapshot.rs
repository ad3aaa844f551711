//! Flat views of the design's desired state (`spec::flat` applied to `desired`), and which of
//! their fields can change on a deployed node without rebuilding it.

use crate::model::observed::Snapshot;
use crate::model::{BaremetalNode, Site};
use crate::plan::desired;
pub use crate::spec::flat::fingerprint;

/// Whether changing a field needs the node rebuilt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Applied to a deployed node in place (tags, owner data, rack, BMC settings).
    InPlace,
    /// Needs the node redeployed: storage, image, kernel, addressing, interfaces, ...
    Rebuild,
}

/// What changing `field` takes.
pub fn effect(field: &str) -> Effect {
    const IN_PLACE: [&str; 4] = [
        "metadata.tags",
        "metadata.owner_data.",
        "metadata.rack",
        "oob.",
    ];
    if IN_PLACE
        .iter()
        .any(|p| field == p.trim_end_matches('.') || field.starts_with(p))
    {
        Effect::InPlace
    } else {
        Effect::Rebuild
    }
}

/// Whether a field holds a secret (its value is shown as `(sensitive)`).
pub fn is_sensitive(field: &str) -> bool {
    field
        .rsplit('.')
        .next()
        .is_some_and(crate::design::document::is_secret_key)
}

/// The flat view of a node of the design.
pub fn node(site: &Site, n: &BaremetalNode) -> Snapshot {
    crate::spec::flat::node(&desired::node(site, n))
}

/// The flat view of the site.
pub fn site(site: &Site) -> Snapshot {
    crate::spec::flat::site(&desired::site(site))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effects() {
        assert_eq!(effect("metadata.tags"), Effect::InPlace);
        assert_eq!(effect("metadata.owner_data.role"), Effect::InPlace);
        assert_eq!(effect("oob.account"), Effect::InPlace);
        assert_eq!(effect("storage.sda.partitions.root.size"), Effect::Rebuild);
        assert_eq!(effect("platform.image"), Effect::Rebuild);
        assert_eq!(effect("metadata.boot_mac"), Effect::Rebuild);
    }
}
