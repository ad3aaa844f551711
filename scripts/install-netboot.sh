#!/usr/bin/env bash
# Installs what the netboot tests need (README, "The netboot tests"): QEMU and libvirt from
# bookworm-backports (per package, through a private apt configuration under $DRYDOCK_PEERS/apt, so
# /etc/apt is left alone), iPXE, OVMF, dnsmasq, busybox, sfdisk, e2fsprogs, LVM, cloud-init (for
# `cloud-init schema`), cpio; sushy-tools and VirtualBMC in a venv that sees python3-libvirt; the
# Debian cloud kernel, unpacked (never installed); then builds the deploy agent's initramfs
# (scripts/build-agent.sh). Each part only when missing, so a rerun takes about a second.
set -euo pipefail
cd "$(dirname "$0")/.."

peers="${DRYDOCK_PEERS:-$PWD/.peers}"
mkdir -p "$peers"
peers="$(cd "$peers" && pwd)"
apt_dir="$peers/apt"
venv="$peers/netboot-venv"
requirements="sushy-tools==2.2.0 virtualbmc==3.3.0"

as_root=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null; then
        if [ -t 0 ]; then as_root=(sudo); else as_root=(sudo -n); fi
    else
        echo "error: the netboot tests need Debian packages, and installing them needs root" >&2
        echo "help: run ./scripts/test.sh as root, or install sudo" >&2
        exit 1
    fi
fi

# The machine's own archive plus its backports suite, in a private sources directory and lists.
apt_opts=(-o "Dir::Etc::sourceparts=$apt_dir/sources.list.d" -o "Dir::Etc::sourcelist=/dev/null"
    -o "Dir::State::Lists=$apt_dir/lists")
apt_updated=0
apt_update() {
    [ "$apt_updated" = 1 ] && return
    mkdir -p "$apt_dir/sources.list.d" "$apt_dir/lists/partial"
    local base
    base="$(ls /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1 || true)"
    if [ -n "$base" ]; then
        grep -q bookworm-backports "$base" && cp "$base" "$apt_dir/sources.list.d/base.sources" || {
            cp "$base" "$apt_dir/sources.list.d/base.sources"
            uri="$(awk '/^URIs:/ {print $2; exit}' "$base")"
            key="$(awk '/^Signed-By:/ {print $2; exit}' "$base")"
            printf '\nTypes: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: %s\n' \
                "$uri" "$key" >>"$apt_dir/sources.list.d/base.sources"
        }
    else
        printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
            >"$apt_dir/sources.list.d/base.sources"
    fi
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" update -qq
    apt_updated=1
}
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }
install() {
    apt_update
    echo "installing $* (apt-get)" >&2
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" install -y -qq \
        --no-install-recommends "$@" </dev/null
}

# QEMU and libvirt from backports, package by package: the machine's qemu-utils is backports' QEMU
# 10, and bookworm's qemu-system-x86 would remove it; a whole `-t bookworm-backports` would pull a
# newer systemd.
bp=()
for p in qemu-system-x86 qemu-system-common qemu-system-data seabios \
    libvirt-daemon-driver-qemu libvirt-daemon libvirt-clients libvirt-common libvirt0 \
    libvirt-daemon-common libvirt-daemon-log; do
    installed "$p" || bp+=("$p/bookworm-backports")
done
plain=()
for p in ipxe ovmf dnsmasq-base busybox-static fdisk e2fsprogs lvm2 dosfstools cpio gzip python3-libvirt \
    python3-venv cloud-init ipmitool curl iproute2; do
    installed "$p" || plain+=("$p")
done
if ((${#bp[@]} + ${#plain[@]})); then
    install "${bp[@]}" "${plain[@]}"
fi

venv_ok() {
    [ -x "$venv/bin/sushy-emulator" ] && [ -x "$venv/bin/vbmcd" ] && "$venv/bin/python" -c 'import libvirt' 2>/dev/null \
        && [ "$(cat "$venv/.drydock-requirements" 2>/dev/null)" = "$requirements" ]
}
if ! venv_ok; then
    echo "installing $requirements into $venv (pip)" >&2
    rm -rf "$venv"
    # --system-site-packages: sushy-tools' libvirt driver and VirtualBMC import python3-libvirt.
    # Debian's own interpreter: python3-libvirt is built for it (a python3 earlier on PATH, from
    # pyenv say, would not see it and pip would try to build libvirt-python from source).
    /usr/bin/python3 -m venv --system-site-packages "$venv"
    # shellcheck disable=SC2086 # the requirements are words on purpose
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check $requirements
    echo "$requirements" >"$venv/.drydock-requirements"
fi

# The cloud kernel (virtio as modules, 27 MB): downloaded and unpacked, never installed (its
# postinst would run initramfs-tools).
kernel_dir="$peers/kernel"
if [ ! -f "$kernel_dir/.done" ]; then
    apt_update
    pkg="$(apt-cache "${apt_opts[@]}" depends linux-image-cloud-amd64 2>/dev/null \
        | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')"
    [ -n "$pkg" ] || { echo "error: cannot find the cloud kernel package" >&2; exit 1; }
    rm -rf "$kernel_dir" && mkdir -p "$kernel_dir/deb"
    (cd "$kernel_dir/deb" && apt-get "${apt_opts[@]}" download -qq "$pkg")
    dpkg-deb -x "$kernel_dir"/deb/*.deb "$kernel_dir/root"
    rm -rf "$kernel_dir/deb"
    echo "$pkg" >"$kernel_dir/.done"
fi

./scripts/build-agent.sh "$kernel_dir/root" "$peers/agent"
