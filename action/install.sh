#!/usr/bin/env bash
# Installs rulesync from the action's own checkout into a virtualenv of its own, with the exact
# dependency versions of constraints.txt: `uses: OWNER/rulesync@v1` installs the same thing on
# every run, whatever the repository it runs in holds. Runs once per job.
set -euo pipefail

source_dir=${RULESYNC_SOURCE:?the action checkout}
package=${RULESYNC_PACKAGE:-$source_dir} # or a built wheel
venv=${RULESYNC_VENV:?where to install}
python=${RULESYNC_PYTHON:-python3}

if [ ! -x "$venv/bin/rulesync" ]; then
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    --constraint "$source_dir/constraints.txt" "$package"
fi
"$venv/bin/rulesync" --version
