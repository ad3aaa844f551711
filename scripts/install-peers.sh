#!/usr/bin/env bash
# Installs the real BMC peers that the driver tests start (README, "Two commands"; tests/peers_support):
# OpenIPMI's ipmi_sim, ipmitool, openssl and curl from Debian, and sushy-emulator (with bcrypt for
# its htpasswd file) in a venv at $DRYDOCK_PEERS/venv (default .peers/venv). For the service's
# tests: PostgreSQL (the tests start a private cluster, tests/pg_support), Chromium and its
# WebDriver (the dashboard test), and schemathesis in the same venv (the API against its OpenAPI
# document). It skips whatever is
# already there, so a rerun takes a fraction of a second. It never prompts: apt-get runs as root,
# or through sudo when that needs no password (or standard input is a terminal).
set -euo pipefail
cd "$(dirname "$0")/.."

peers="${DRYDOCK_PEERS:-$PWD/.peers}"
venv="$peers/venv"
# Pinned because the harness relies on this version's behaviour (fake driver, state file, config
# module); changing the line reinstalls the venv's packages on the next run.
requirements="sushy-tools==2.2.0 bcrypt==5.0.0 schemathesis==4.32.5"

# Debian packages, each only when the command it provides is missing.
packages=()
command -v ipmi_sim >/dev/null || packages+=(openipmi)
command -v ipmitool >/dev/null || packages+=(ipmitool)
command -v openssl >/dev/null || packages+=(openssl)
command -v curl >/dev/null || packages+=(curl)
command -v runuser >/dev/null || packages+=(util-linux)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || packages+=(postgresql)
command -v chromium >/dev/null || packages+=(chromium)
command -v chromedriver >/dev/null || packages+=(chromium-driver)
venv_ok() {
    [ -x "$venv/bin/sushy-emulator" ] && [ -x "$venv/bin/schemathesis" ] \
        && "$venv/bin/python" -c '' 2>/dev/null \
        && [ "$(cat "$venv/.drydock-requirements" 2>/dev/null)" = "$requirements" ]
}
# Debian's python3 cannot make a venv without python3-venv (its ensurepip is split off).
if ! venv_ok && ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    packages+=(python3-venv)
fi

if ((${#packages[@]})); then
    if [ "$(id -u)" -eq 0 ]; then
        as_root=()
    elif command -v sudo >/dev/null; then
        if [ -t 0 ]; then as_root=(sudo); else as_root=(sudo -n); fi
    else
        echo "error: the tests need the Debian packages ${packages[*]}, and installing them needs root" >&2
        echo "help: run ./scripts/test.sh as root, or install sudo, or run: apt-get install ${packages[*]}" >&2
        exit 1
    fi
    echo "installing ${packages[*]} (apt-get)" >&2
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "${packages[@]}" </dev/null
    for c in ipmi_sim ipmitool openssl curl python3 chromium chromedriver; do
        command -v "$c" >/dev/null || {
            echo "error: \`$c\` is still not on PATH after installing ${packages[*]}" >&2
            exit 1
        }
    done
fi

if ! venv_ok; then
    echo "installing $requirements into $venv (pip)" >&2
    # A venv whose interpreter no longer runs (its Python was removed) is made anew.
    "$venv/bin/python" -c '' 2>/dev/null || rm -rf "$venv"
    mkdir -p "$peers"
    [ -d "$venv" ] || python3 -m venv "$venv"
    # shellcheck disable=SC2086 # the requirements are words on purpose
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check $requirements
    echo "$requirements" >"$venv/.drydock-requirements"
fi
