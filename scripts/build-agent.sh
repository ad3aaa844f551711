#!/usr/bin/env bash
# Builds drydock's deploy agent (README, "The deploy agent"): a gzip'd cpio initramfs of
# busybox-static, the host's sfdisk, mke2fs and lvm with the libraries ldd lists, the cloud
# kernel's virtio, device-mapper and FAT modules, and agent/init (PID 1); plus the kernel beside it.
#   scripts/build-agent.sh KERNEL_ROOT OUT_DIR
# KERNEL_ROOT is an unpacked linux-image-*-cloud-amd64 (scripts/install-netboot.sh makes one).
# Writes OUT_DIR/vmlinuz and OUT_DIR/initramfs.gz; rebuilds only when an input changed.
set -euo pipefail
cd "$(dirname "$0")/.."
kroot="${1:?usage: build-agent.sh KERNEL_ROOT OUT_DIR}"
out="${2:?usage: build-agent.sh KERNEL_ROOT OUT_DIR}"
vmlinuz="$(ls "$kroot"/boot/vmlinuz-* | head -1)"
moddir="$(ls -d "$kroot"/lib/modules/* | head -1)"
# Load order matters: the package has no modules.dep.
modules="virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci failover
net_failover virtio_net virtio_blk dm-mod fat vfat nls_cp437 nls_ascii nls_iso8859-1"
tools="/usr/sbin/sfdisk /usr/sbin/mke2fs /usr/sbin/lvm /sbin/wipefs /sbin/mkfs.fat"
stamp="$(cat agent/init agent/udhcpc.script "$0" | sha256sum | cut -c1-16)-$(basename "$vmlinuz")"
if [ -f "$out/initramfs.gz" ] && [ "$(cat "$out/.stamp" 2>/dev/null)" = "$stamp" ]; then
    exit 0
fi
for t in busybox cpio gzip; do command -v "$t" >/dev/null || { echo "error: $t is missing" >&2; exit 1; }; done
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
r="$work/root"
mkdir -p "$r"/{bin,sbin,etc,proc,sys,dev,tmp,run,mnt,lib/modules,usr/share/udhcpc,lib64}
cp "$(command -v busybox)" "$r/bin/busybox"
for a in $("$r/bin/busybox" --list); do
    [ -e "$r/bin/$a" ] || ln -s busybox "$r/bin/$a"
done
for t in $tools; do
    [ -x "$t" ] || { echo "error: $t is missing (install fdisk, e2fsprogs, lvm2, util-linux, dosfstools)" >&2; exit 1; }
    cp "$t" "$r/sbin/"
    for lib in $(ldd "$t" | awk '/=>/ {print $3} /ld-linux/ {print $1}'); do
        [ -f "$lib" ] || continue
        mkdir -p "$r$(dirname "$lib")"
        cp -L "$lib" "$r$lib"
    done
done
# Busybox's own applets of the same names would shadow nothing: /sbin comes after /bin in PATH,
# so the full tools are linked over the applets.
for t in $tools; do ln -sf "/sbin/$(basename "$t")" "$r/bin/$(basename "$t")"; done
for v in pvcreate vgcreate lvcreate vgchange vgremove lvremove pvremove; do ln -sf lvm "$r/sbin/$v"; done
: >"$r/etc/agent-modules"
for m in $modules; do
    f="$(find "$moddir" -name "$m.ko" -o -name "$m.ko.xz" | head -1)"
    [ -n "$f" ] || { echo "error: module $m not found in $moddir" >&2; exit 1; }
    cp "$f" "$r/lib/modules/"
    echo "$(basename "$f")" >>"$r/etc/agent-modules"
done
cp agent/init "$r/init"
cp agent/udhcpc.script "$r/usr/share/udhcpc/default.script"
chmod 755 "$r/init" "$r/usr/share/udhcpc/default.script"
mkdir -p "$out"
(cd "$r" && find . | cpio -o -H newc --quiet | gzip -6) >"$out/initramfs.gz.tmp"
cp "$vmlinuz" "$out/vmlinuz.tmp"
mv "$out/vmlinuz.tmp" "$out/vmlinuz"
mv "$out/initramfs.gz.tmp" "$out/initramfs.gz"
echo "$stamp" >"$out/.stamp"
echo "built the deploy agent: $out/vmlinuz, $out/initramfs.gz ($(du -h "$out/initramfs.gz" | cut -f1))" >&2
