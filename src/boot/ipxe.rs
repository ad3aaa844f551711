//! The iPXE scripts the HTTP service hands out: the chain script every designed host gets
//! from DHCP (it asks for the script of its own MAC), the deploy agent's boot (kernel and
//! initramfs with the node's one-time token and the service URL on the command line), an
//! installer's boot (autoinstall from drydock), the local-disk boot of a deployed node, and
//! "nothing to do" for a node with no deploy in progress. Pure text.

/// What `dhcp-boot` points iPXE at: fetch the script for the MAC it booted from.
pub fn chain(url: &str) -> String {
    format!(
        "#!ipxe\n# drydock: ask for this machine's own script\nchain {url}/boot/mac/${{netX/mac:hexhyp}} || goto failed\nexit\n:failed\necho drydock: no boot script for ${{netX/mac}}; booting the next device\nexit\n"
    )
}

/// Boot the deploy agent.
pub fn agent(
    url: &str,
    node: &str,
    token: &str,
    mac: &str,
    kernel_args: &str,
    sums: (&str, &str),
) -> String {
    format!(
        "#!ipxe\n# drydock: deploy agent for node {node}\n# vmlinuz sha256 {k}\n# initramfs.gz sha256 {i}\nkernel {url}/boot/agent/vmlinuz initrd=initramfs.gz {kernel_args} drydock.url={url} drydock.node={node} drydock.token={token} BOOTIF={mac} || goto failed\ninitrd --name initramfs.gz {url}/boot/agent/initramfs.gz || goto failed\nboot || goto failed\n:failed\necho drydock: could not boot the deploy agent\nsleep 10\nreboot\n",
        k = sums.0,
        i = sums.1,
    )
}

/// Boot a distribution installer with autoinstall user-data served at `seed_url` (ends with
/// `/`: the installer appends `user-data` and `meta-data`).
pub fn installer(url: &str, node: &str, image: &str, seed_url: &str, args: &str) -> String {
    format!(
        "#!ipxe\n# drydock: {image} installer for node {node}\nkernel {url}/boot/images/{image}/kernel initrd=initrd autoinstall ds=nocloud-net;s={seed_url} {args} || goto failed\ninitrd --name initrd {url}/boot/images/{image}/initrd || goto failed\nboot || goto failed\n:failed\necho drydock: could not boot the installer\nsleep 10\nreboot\n"
    )
}

/// A deployed node boots its local disk (BIOS: the first disk; UEFI: back to the firmware's
/// next boot entry).
pub fn local(node: &str, uefi: bool) -> String {
    if uefi {
        format!("#!ipxe\n# drydock: node {node} is deployed; boot its local disk\nexit\n")
    } else {
        format!(
            "#!ipxe\n# drydock: node {node} is deployed; boot its local disk\nsanboot --no-describe --drive 0x80 || exit\n"
        )
    }
}

/// A node of the design with no deploy in progress.
pub fn idle(node: &str) -> String {
    format!(
        "#!ipxe\n# drydock: no deploy in progress for node {node}\necho drydock: nothing to do for {node}\nexit\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts() {
        let a = agent(
            "http://10.0.0.1:8081",
            "n1",
            "t0k",
            "52:54:00:00:00:01",
            "console=ttyS0",
            ("ks", "is"),
        );
        assert!(a.starts_with("#!ipxe\n"));
        assert!(a.contains("kernel http://10.0.0.1:8081/boot/agent/vmlinuz initrd=initramfs.gz console=ttyS0 drydock.url=http://10.0.0.1:8081 drydock.node=n1 drydock.token=t0k BOOTIF=52:54:00:00:00:01"), "{a}");
        assert!(
            a.contains("initrd --name initramfs.gz http://10.0.0.1:8081/boot/agent/initramfs.gz")
        );
        assert!(a.contains("# vmlinuz sha256 ks"));
        assert!(chain("http://h").contains("chain http://h/boot/mac/${netX/mac:hexhyp}"));
        assert!(local("n1", false).contains("sanboot --no-describe --drive 0x80"));
        assert!(local("n1", true).ends_with("exit\n"));
        let i = installer(
            "http://h",
            "n1",
            "noble",
            "http://h/api/v1/installer/n1/t/",
            "url=http://m/x.iso",
        );
        assert!(
            i.contains(
                "autoinstall ds=nocloud-net;s=http://h/api/v1/installer/n1/t/ url=http://m/x.iso"
            ),
            "{i}"
        );
    }
}
