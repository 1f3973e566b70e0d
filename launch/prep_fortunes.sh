#!/usr/bin/env bash
# A larger multilingual corpus than UDHR, from Debian's fortune packages:
# 15 MB of UTF-8 text in 12 languages (Bulgarian and Russian in Cyrillic,
# Chinese, and nine in Latin script), one document per fortune
# (`%` lines separate them). Offensive collections (off/) are left out.
#
#   sudo apt-get install fortunes-min fortunes-bg fortunes-br fortunes-cs \
#     fortunes-de fortunes-eo fortunes-es fortunes-ga fortunes-it fortunes-pl \
#     fortunes-ru fortunes-zh
#   launch/prep_fortunes.sh OUT [FORTUNES_DIR]   # default /usr/share/games/fortunes
#
# Languages are tagged by directory (bg, cs, de, eo, es, ga, it, pl, ru)
# and, for the files at the top level, by name: chinese, song100, tang300
# are zh; brasil is pt; fortunes, literature, riddles are en. The .dat and
# .u8 files are fortune(6)'s indexes and duplicates, and cz/ only links to cs/.
set -euo pipefail
cd "$(dirname "$0")/.."

[ $# -ge 1 ] || { echo "usage: $0 OUT [FORTUNES_DIR]" >&2; exit 2; }
out=$1
dir=${2:-/usr/share/games/fortunes}
bin=${SPACEBYTE_BIN:-build/bin/spacebyte}

inputs=()
add() {  # add FILE LANG: regular, non-empty files only (no links, no indexes)
  case $1 in *.dat | *.u8) return ;; esac
  if [ -f "$1" ] && [ ! -L "$1" ] && [ -s "$1" ]; then inputs+=(--input "$1=$2"); fi
}
for lang in bg cs de eo es ga it pl ru; do
  for f in "$dir/$lang"/*; do add "$f" "$lang"; done
done
for f in chinese song100 tang300; do add "$dir/$f" zh; done
add "$dir/brasil" pt
for f in fortunes literature riddles; do add "$dir/$f" en; done

if [ ${#inputs[@]} -eq 0 ]; then
  echo "$0: no fortune files under $dir; install the packages listed at the top of this script" >&2
  exit 1
fi
exec "$bin" prep "${inputs[@]}" --separator percent --out "$out"
