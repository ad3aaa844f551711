//! The images and kernels a provisioner offers, for rule DD3001. Drivers provide one; the
//! default is the catalogue of the embedded simulator, which mirrors the Ubuntu images and
//! kernels a stock MAAS region imports.

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog {
    /// Who says so (e.g. `simulator`), for messages.
    pub source: String,
    pub images: Vec<String>,
    pub kernels: Vec<String>,
}

impl Catalog {
    /// The simulator's catalogue: Ubuntu LTS series by codename and version, and their GA and
    /// HWE kernels.
    pub fn simulator() -> Catalog {
        let series = [
            ("xenial", "16.04"),
            ("bionic", "18.04"),
            ("focal", "20.04"),
            ("jammy", "22.04"),
            ("noble", "24.04"),
        ];
        let mut images = Vec::new();
        let mut kernels = vec!["generic".to_string()];
        for (name, ver) in series {
            images.push(name.to_string());
            images.push(format!("ubuntu/{name}"));
            kernels.push(format!("ga-{ver}"));
            kernels.push(format!("hwe-{ver}"));
            kernels.push(format!("hwe-{ver}-edge"));
        }
        Catalog {
            source: "simulator".into(),
            images,
            kernels,
        }
    }

    pub fn offers_image(&self, image: &str) -> bool {
        self.images.iter().any(|i| i == image)
    }

    pub fn offers_kernel(&self, kernel: &str) -> bool {
        self.kernels.iter().any(|k| k == kernel)
    }
}
