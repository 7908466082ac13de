#!/usr/bin/env bash
# Prepares a Debian 12 machine for Interpres: Debian packages, .venv, the joined Whisper model.
# Idempotent, and quick when nothing changed, because run.sh and test.sh call it every time.
# Run it as yourself: it uses sudo for apt-get only when needed and not already root.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: ERROR: %s\n' "$*" >&2; exit 1; }

# Apertium pairs (MT), espeak-ng (voices other than English), chromium (browser tests),
# janus + its JavaScript library and the WebRTC adapter it needs (Janus mode, its page and
# tests), coturn (TURN and its tests).
# PyAV and aiortc wheels bundle FFmpeg, Opus, VPX and SRTP, so they need no Debian package.
APT_PACKAGES=(apertium apertium-eng-spa apertium-fr-es apertium-es-pt apertium-spa-ita
              apertium-eng-cat espeak-ng chromium janus libjs-janus-gateway libjs-webrtc-adapter
              coturn iproute2)
PYTHON=${PYTHON:-python3}

if [[ $EUID -eq 0 && -n ${SUDO_USER:-} ]]; then
    say "warning: running under sudo, so .venv will belong to root; run it as yourself instead"
fi

missing=()
for package in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'ok installed' \
        || missing+=("$package")
done
# Debian's python3 makes venvs only with python3-venv (it holds ensurepip).
if ! command -v "$PYTHON" >/dev/null; then
    missing+=(python3 python3-venv)
elif ! "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null && [[ $(command -v "$PYTHON") == /usr/bin/* ]]; then
    missing+=(python3-venv)
fi

if ((${#missing[@]})); then
    command -v apt-get >/dev/null \
        || die "not a Debian system; install these yourself: ${missing[*]}"
    sudo=()
    if [[ $EUID -ne 0 ]]; then
        command -v sudo >/dev/null \
            || die "need root for: apt-get install ${missing[*]} (run that as root, then rerun)"
        sudo=(sudo)
    fi
    say "installing Debian packages: ${missing[*]}"
    "${sudo[@]}" apt-get update -q
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
    # Debian starts a system-wide Janus on install; Interpres starts its own (tests, compose)
    # and a stray one would hold port 8088.
    if [[ " ${missing[*]} " == *" janus "* ]] && [[ -d /run/systemd/system ]]; then
        say "stopping the janus service Debian enabled (Interpres runs its own)"
        "${sudo[@]}" systemctl disable --now janus >/dev/null 2>&1 || true
    fi
else
    say "Debian packages present"
fi

command -v "$PYTHON" >/dev/null || die "$PYTHON not found: install Python 3.11 or newer"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || die "$PYTHON is $("$PYTHON" -V 2>&1); Interpres needs Python 3.11 or newer (set PYTHON=...)"

if ! .venv/bin/python -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    say "creating .venv with $("$PYTHON" -V 2>&1)"
    rm -rf .venv
    "$PYTHON" -m venv .venv || die "could not create .venv (on Debian: apt-get install python3-venv)"
fi

# pip install takes seconds even when everything is there: skip it while its inputs are unchanged.
stamp=$(cat pyproject.toml requirements.lock <(.venv/bin/python -V) | sha256sum | cut -d' ' -f1)
if [[ $(cat .venv/.interpres-setup 2>/dev/null) == "$stamp" && -x .venv/bin/interpres ]]; then
    say "Python packages up to date"
else
    say "installing Python packages into .venv (constraints: requirements.lock)"
    .venv/bin/python -m pip install -q --disable-pip-version-check \
        -c requirements.lock -e '.[test,coqui,convert,cluster]'
    # PyPI's torchaudio wheel is built against CUDA torch, and its C++ extension cannot load
    # beside the CPU torch: coqui's VITS needs only torchaudio's Python part, which works
    # without it. (With torchaudio from the PyTorch CPU index this never triggers.)
    if ! .venv/bin/python -c 'import torchaudio' 2>/dev/null \
            && .venv/bin/python -c 'import torch, sys; sys.exit("+cpu" not in torch.__version__)'; then
        lib=$(.venv/bin/python -c 'import importlib.util as u, os; print(os.path.dirname(u.find_spec("torchaudio").origin))')/lib
        say "torchaudio's CUDA extension cannot load beside CPU torch: using its Python part only"
        mkdir -p "$lib/unused-cuda"
        mv "$lib"/*.so "$lib/unused-cuda/"
        .venv/bin/python -c 'import torchaudio' || die "torchaudio still does not import"
    fi
    echo "$stamp" > .venv/.interpres-setup
fi

# Join Whisper base now, so the first real run starts quickly.
.venv/bin/python -c 'from bot.models.embedded import whisper_base_dir as d; d(print)' \
    | sed 's/^/setup: /'
say "done (check everything with: .venv/bin/interpres doctor)"
