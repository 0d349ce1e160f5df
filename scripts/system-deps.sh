#!/usr/bin/env bash
# The Debian packages the tests need besides python3 and git: make, OpenSSH's server and client
# (the simulated nodes behind a real sshd on 127.0.0.1) and rsync. Installs the missing ones when
# run as root on a machine with apt-get; otherwise names them and fails (the tests over ssh never
# skip silently). Called by .ci/run and by `make test`.
set -euo pipefail
missing=()
command -v make >/dev/null 2>&1 || missing+=(make)
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v ssh >/dev/null 2>&1 || missing+=(openssh-client)
command -v ssh-keygen >/dev/null 2>&1 || missing+=(openssh-client)
command -v rsync >/dev/null 2>&1 || missing+=(rsync)
[ "${#missing[@]}" -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        $(printf '%s\n' "${missing[@]}" | sort -u) >/dev/null
else
    echo "missing and cannot be installed here (needs root and apt-get): ${missing[*]}" >&2
    exit 1
fi
