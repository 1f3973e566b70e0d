#!/usr/bin/env bash
# Usage: launch/tensorboard_venv.sh DIR
#
# A virtual environment in DIR holding the `tensorboard` package from PyPI
# (with its dependencies), which tests/train/tensorboard_test reads our
# event files with (cmake -DSPACEBYTE_TENSORBOARD_PYTHON=DIR/bin/python).
# Also what a user needs to watch runs: DIR/bin/tensorboard --logdir runs/.
# Kept between runs.
set -euo pipefail
dir=${1:?usage: tensorboard_venv.sh DIR}
version=2.21.0
[ -x "$dir/bin/python" ] || python3 -m venv "$dir"
"$dir/bin/python" -c "import importlib.metadata as m; assert m.version('tensorboard') == '$version'" \
  2>/dev/null ||
  "$dir/bin/python" -m pip install --quiet --disable-pip-version-check "tensorboard==$version"
