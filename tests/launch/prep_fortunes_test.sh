#!/usr/bin/env bash
# launch/prep_fortunes.sh on a small tree laid out like Debian's
# /usr/share/games/fortunes: languages by directory and by top-level name,
# one document per fortune, and fortune(6)'s binary indexes, .u8 duplicates,
# links (cz/ -> cs/) and the offensive collections (off/) left out.
# usage: prep_fortunes_test.sh SPACEBYTE_BIN PREP_FORTUNES_SH WORKDIR
set -euo pipefail
bin=$1 script=$2 work=$3
rm -rf "$work"
tree=$work/fortunes
mkdir -p "$tree"/{ru,cs,cz,off}
printf 'Привет, мир.\n%%\nВторая мудрость.\n%%\n' > "$tree/ru/wisdom"
head -c 300 /dev/urandom > "$tree/ru/wisdom.dat"         # binary: prep would refuse it
cp "$tree/ru/wisdom" "$tree/ru/wisdom.u8"               # a duplicate
printf 'Ahoj.\n%%\nSvět je malý.\n' > "$tree/cs/mudrosti"
ln -s ../cs/mudrosti "$tree/cz/mudrosti"                 # counted once, as cs
printf '你好。\n%%\n世界很大。\n%%\n第三句。\n' > "$tree/chinese"
printf 'Hello.\n%%\nWorld.\n' > "$tree/fortunes"
printf 'rude\n' > "$tree/off/rude"

out=$(SPACEBYTE_BIN=$bin bash "$script" "$work/data" "$tree" 2>&1) || {
  echo "prep_fortunes.sh failed:"; echo "$out"; exit 1; }
echo "$out"
fail=0
expect() {  # expect LANG DOCUMENTS
  if ! grep -Eq "^$1 +$2 " <<<"$out"; then echo "FAIL: expected $1 with $2 documents"; fail=1; fi
}
expect ru 2
expect cs 2
expect zh 3
expect en 2
grep -q "^9 documents" <<<"$out" || { echo "FAIL: expected 9 documents in all"; fail=1; }
exit $fail
