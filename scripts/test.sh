#!/bin/sh
# Installs every test dependency (Debian packages included) and runs the whole suite.
# Works on a clean Debian machine, as root or with sudo. This is the README's test
# command and what .ci/run calls.
set -eu
cd "$(dirname "$0")/.."

# Debian packages the tests use: openssl (verify, PKCS#12 legacy profile),
# util-linux (setpriv, to drop root's permission override in one test),
# bind9 + bind9-utils (named: the RFC 2136 and DNS-01 server of the integration tests),
# pebble (Let's Encrypt's test ACME server), and openjdk-17-jre-headless (keytool, which
# lists and loads the JKS and PKCS#12 keystores certctl writes).
DEBIAN_PACKAGES="openssl ca-certificates util-linux bind9 bind9-utils pebble openjdk-17-jre-headless"
missing=""
for package in $DEBIAN_PACKAGES; do
    dpkg -s "$package" >/dev/null 2>&1 || missing="$missing $package"
done
if [ -n "$missing" ]; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
fi

# A virtual environment keeps the test tools apart from the system Python.
PYTHON="${PYTHON:-python3}"
VENV="${CERTCTL_TEST_VENV:-.venv-test}"
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -e '.[test]'

export PATH="$PWD/$VENV/bin:$PATH"
ruff check certctl tests benchmarks
ruff format --check certctl tests benchmarks
mypy
python -m pytest "$@"
