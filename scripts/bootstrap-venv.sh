#!/bin/sh
# Creates the project's virtual environment on a machine that has only python3 and git.
# Debian's python3 ships without ensurepip; as root we install python3-venv, otherwise we say so.
set -eu
python=$1
venv=$2
if "$python" -m venv "$venv" 2>/dev/null; then
    exit 0
fi
rm -rf "$venv"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "python3 cannot create a virtual environment; installing python3-venv" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv python3-pip >/dev/null
    "$python" -m venv "$venv"
    exit 0
fi
echo "error: '$python -m venv' failed; install the python3-venv package and retry" >&2
exit 1
