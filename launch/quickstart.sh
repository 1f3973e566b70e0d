#!/usr/bin/env bash
# The README's first command. From a fresh clone: installs the Debian
# packages, builds `spacebyte`, prepares the bundled UDHR corpus (72
# languages, each tagged by its file name), trains the tiny preset on 2 MPI
# ranks (dp = 2), evaluates the checkpoint on the test split, samples a line
# of text and writes the run report. Re-running skips the finished steps; a
# training run that was interrupted resumes from its latest checkpoint.
#
# Knobs: SPACEBYTE_RUN (run directory, default runs/quickstart),
# SPACEBYTE_RANKS (default 2), SPACEBYTE_TRAIN_ARGS (extra train flags,
# e.g. "--set train.max_time=60").
set -euo pipefail
cd "$(dirname "$0")/.."

run=${SPACEBYTE_RUN:-runs/quickstart}
data=runs/udhr_data   # the tiny preset's data.path
config=launch/configs/tiny.textproto
ranks=${SPACEBYTE_RANKS:-2}
bin=build/bin/spacebyte
step() { printf '\n==> [%s] %s\n' "$1" "$2"; }

step 1/7 "installing dependencies (Debian packages; needs root or sudo)"
bash launch/install_deps.sh

step 2/7 "building $bin (CMake Release, Ninja)"
[ -f build/build.ninja ] || cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build --target spacebyte --parallel "$(nproc)"

step 3/7 "preparing the UDHR corpus into $data"
if [ -f "$data/manifest.pbtxt" ]; then
  echo "already prepared"
else
  rm -rf "$data"
  "$bin" prep --input data/corpus/udhr --language_from '([a-z]+)\.txt$' \
    --separator blank --out "$data"
fi

step 4/7 "training $config on $ranks ranks into $run"
if [ -f "$run/.quickstart_trained" ]; then
  echo "already trained (delete $run to start over)"
else
  resume=()
  [ -e "$run/checkpoints/latest" ] && resume=(--resume) && echo "resuming from $run/checkpoints/latest"
  # shellcheck disable=SC2086  # SPACEBYTE_TRAIN_ARGS holds several flags
  bash launch/run_local.sh "$ranks" -- "$bin" train --config "$config" --run_dir "$run" \
    "${resume[@]}" ${SPACEBYTE_TRAIN_ARGS:-}
  touch "$run/.quickstart_trained"
fi

step 5/7 "evaluating on the test split"
if "$bin" eval --help 2>/dev/null | grep -qE -- '^ +--data '; then
  "$bin" eval --checkpoint "$run" --data "$data" --split test | tee "$run/eval_test.json"
else
  # Older builds score raw bytes only; the English text was partly trained on.
  echo "(this build's eval takes --bytes only: scoring data/corpus/udhr/eng.txt)"
  "$bin" eval --checkpoint "$run" --bytes data/corpus/udhr/eng.txt | tee "$run/eval_test.json"
fi

step 6/7 "sampling a line of text"
"$bin" sample --checkpoint "$run" --prompt "All human beings are born " \
  --max_bytes 120 --temperature 0.8 --seed 1 | tee "$run/sample.txt"
echo

step 7/7 "writing the report"
"$bin" report "$run"

# The first "bits_per_byte" of the eval line (not one of the per-language ones).
bpb=$(sed -n 's/^{.*"bits_per_byte": *\([0-9.eE+-]*\).*/\1/p' "$run/eval_test.json" | head -1)

cat <<DONE

Done. Test bits per byte: ${bpb:-see $run/eval_test.json}
  program      $bin
  corpus       $data
  run          $run
  checkpoint   $run/checkpoints/$(cat "$run/checkpoints/latest" 2>/dev/null || echo latest)
  metrics      $run/metrics.jsonl
  evaluation   $run/eval_test.json
  sample       $run/sample.txt
  report       $run/report.html
DONE
