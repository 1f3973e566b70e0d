#!/usr/bin/env python3
"""Usage: launch/patch_rule_table.py CORPUS_DIR A.json B.json [NAME_A NAME_B]

Compares two `spacebyte eval --data` results (two patch rules, say) per
language and per script, as Markdown: bits per byte (every byte scored),
the share of targets training ignores and bytes per patch. A language's
script is the one most of its letters belong to in CORPUS_DIR/LANG.txt
(the first word of each letter's Unicode name: LATIN, CYRILLIC, CJK, ...).
Script rows average their languages unweighted."""
import collections
import json
import os
import sys
import unicodedata


def script_of(path):
    counts = collections.Counter()
    with open(path, encoding="utf-8", errors="replace") as f:
        for c in f.read():
            if c.isalpha():
                name = unicodedata.name(c, "")
                if name:
                    counts[name.split()[0]] += 1
    return counts.most_common(1)[0][0].title() if counts else "?"


def main(argv):
    if len(argv) not in (4, 6):
        sys.exit(__doc__)
    corpus, paths = argv[1], argv[2:4]
    names = argv[4:6] if len(argv) == 6 else ["A", "B"]
    runs = [json.load(open(p)) for p in paths]
    languages = sorted(set(runs[0]["bits_per_byte_by_language"]) & set(runs[1]["bits_per_byte_by_language"]))
    script = {l: script_of(os.path.join(corpus, l + ".txt")) for l in languages}
    keys = [("bits_per_byte_by_language", "bits/byte", "%.3f"),
            ("ignored_fraction_by_language", "ignored", "%.1f%%"),
            ("bytes_per_patch_by_language", "bytes/patch", "%.2f")]

    def cells(values):
        out = []
        for key, _, fmt in keys:
            for v in values[key]:
                out.append(fmt % (100 * v if fmt.endswith("%%") else v))
        return out

    header = ["", "script"] + ["%s %s" % (label, n) for _, label, _ in keys for n in names]
    def table(rows):
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for row in rows:
            print("| " + " | ".join(row) + " |")

    by_script = collections.defaultdict(list)
    rows = []
    for l in languages:
        values = {key: [r[key].get(l, float("nan")) for r in runs] for key, _, _ in keys}
        by_script[script[l]].append(values)
        rows.append([l, script[l]] + cells(values))
    totals = []
    for s, members in sorted(by_script.items(), key=lambda kv: -len(kv[1])):
        mean = {key: [sum(m[key][i] for m in members) / len(members) for i in range(2)]
                for key, _, _ in keys}
        totals.append(["%d languages" % len(members), s] + cells(mean))
    print("Per script (unweighted mean over its languages):\n")
    table(totals)
    print("\nOverall: bits/byte %s, coverage %s, ignored %s\n" % (
        " vs ".join("%.4f" % r["bits_per_byte"] for r in runs),
        " vs ".join("%.3f" % r["coverage"] for r in runs),
        " vs ".join("%.1f%%" % (100 * r["ignored_fraction"]) for r in runs)))
    print("Per language:\n")
    table(rows)


if __name__ == "__main__":
    main(sys.argv)
