# Sourced by run-api.sh and run-tests.sh: makes .venv with Python 3.11+ and
# installs the locked requirements (again only when a requirements file
# changed). Works on a fresh Debian machine that has only Python 3.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
VENV=${PAMPS_VENV:-.venv}

find_python() {
    for candidate in python3.13 python3.12 python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

make_venv() {
    local python
    python=$(find_python) || {
        echo "pamps: Python 3.11 or newer is required (apt-get install python3)" >&2
        exit 1
    }
    if ! "$python" -m venv "$VENV" 2>/dev/null; then
        # Debian splits venv/ensurepip into its own package.
        rm -rf "$VENV"
        local version
        version=$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
            echo "pamps: installing python${version}-venv" >&2
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q "python${version}-venv" >/dev/null ||
                { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "python${version}-venv" >/dev/null; }
        elif command -v sudo >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
            echo "pamps: installing python${version}-venv (sudo)" >&2
            sudo apt-get update -q >/dev/null
            sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q "python${version}-venv" >/dev/null
        else
            echo "pamps: cannot create a virtualenv; install python${version}-venv" >&2
            exit 1
        fi
        "$python" -m venv "$VENV"
    fi
}

# install REQUIREMENTS_FILE: pip-installs it and the project when it changed.
install() {
    local requirements=$1 stamp
    [ -x "$VENV/bin/python" ] || make_venv
    stamp="$VENV/.pamps-$(basename "$requirements").sha256"
    local digest
    digest=$(cat "$requirements" requirements.txt setup.py | sha256sum | cut -d' ' -f1)
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$digest" ]; then
        echo "pamps: installing $requirements into $VENV" >&2
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$requirements"
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps -e .
        echo "$digest" >"$stamp"
    fi
    export PATH="$PWD/$VENV/bin:$PATH"
}
