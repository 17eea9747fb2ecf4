"""The corpus index benchmark: `make bench-index` prints the tables of docs/index.md.

The corpus: WikiText-2 valid+test from ../shared/corpus (8,118 lines, 455,097 whitespace
tokens), repeated. File k (k = 0, 1, ...) holds 22 copies of those lines, each copy in its own
order (random.Random(1000 * k + copy).shuffle), blank lines kept: 10,012,134 tokens, 52.3 MB a
file. Corpora of 10M, 50M and 100M tokens are files 0, 0-4 and 0-9. They are generated into a
temp directory (or --tmp) and removed at the end, indexes too.

Figures, each the median of --repeat paired runs of fresh processes, with the load average
before and after (the machine may be shared):

- build: `attncli index build FILES -o DB` beside a lower bound doing the plain work in one
  short process (the lines read with `for line in file`, stored with a contentless FTS5 index,
  unicode61, of the raw text: no hashing, no bounds, no search keys); index size / text size.
- query: `attncli senses WORD --index DB --json` for a word of about 2,000 occurrences in the
  largest corpus (and words of about 2,000 at each size, and the same word at each size),
  beside its lower bound, the same command on a file holding just that word's lines (the
  embedding and grouping any run of that word does), and `-i` on the whole corpus (largest
  size only, in the same run). Also the corpus part alone, in-process, after the imports: the
  index's (Index.open and lines(): the lines that may hold the word) beside -i's (read_lines and
  the substring test collect makes before it tokenizes a line).

    python bench/index.py [--tokens 100] [--repeat 3] [--corpus DIR] [--tmp DIR] [--no-files]
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ATTNCLI = str(Path(sys.executable).with_name("attncli"))
COPIES = 22  # copies of valid+test per file: 10,012,134 tokens
TARGET = 2000  # occurrences of the word queried


def base_lines(corpus: Path) -> list[str]:
    lines = []
    for name in ("wikitext-2.valid.txt", "wikitext-2.test.txt"):
        lines += (corpus / name).read_text(encoding="utf-8").split("\n")[:-1]
    return lines


def make_files(lines: list[str], n: int, where: Path) -> list[Path]:
    out = []
    for k in range(n):
        path = where / f"wiki-{k:02d}.txt"
        with open(path, "w", encoding="utf-8") as f:
            for copy in range(COPIES):
                order = lines[:]
                random.Random(1000 * k + copy).shuffle(order)
                f.write("\n".join(order) + "\n")
        out.append(path)
    return out


def word_with(counts: collections.Counter, per_copy: int, vocab) -> str:
    """The first word (alphabetical) of exactly `per_copy` occurrences in valid+test, in the
    vocabulary, letters only, 4+ letters."""
    for w in sorted(counts):
        if counts[w] == per_copy and w.isalpha() and len(w) >= 4 and w in vocab:
            return w
    raise SystemExit(f"no word occurs {per_copy} times")


def run(cmd: list[str]) -> tuple[float, float, str]:
    """Wall seconds, max RSS (MiB) and stdout of one fresh process."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = proc.stdout.read()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(cmd)} failed: {err.decode()[-2000:]}")
    return seconds, usage.ru_maxrss / 1024, out.decode()


def paired(cmds: list[list[str]], repeat: int, before=None) -> list[tuple[float, float]]:
    """Median (seconds, MiB) of each command, run in alternation `repeat` times."""
    runs = [[] for _ in cmds]
    for _ in range(repeat):
        for k, cmd in enumerate(cmds):
            if before:
                before(k)
            runs[k].append(run(cmd)[:2])
    return [(statistics.median(r[0] for r in rs), statistics.median(r[1] for r in rs)) for rs in runs]


BOUND_BUILD = r"""
import sqlite3, sys
db, files = sys.argv[1], sys.argv[2:]
c = sqlite3.connect(db, isolation_level=None)
c.execute("PRAGMA page_size = 8192"); c.execute("PRAGMA journal_mode = OFF"); c.execute("PRAGMA synchronous = OFF")
c.execute("CREATE TABLE lines(id INTEGER PRIMARY KEY, line INTEGER, text TEXT)")
c.execute("CREATE VIRTUAL TABLE fts USING fts5(k, content='', detail='none', columnsize=0)")
c.execute("BEGIN")
i = 0
for f in files:
    rows = []
    with open(f, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            line = line.rstrip("\n")
            if line.strip():
                i += 1
                rows.append((i, n, line))
                if len(rows) == 5000:
                    c.executemany("INSERT INTO lines VALUES (?, ?, ?)", rows)
                    c.executemany("INSERT INTO fts(rowid, k) VALUES (?, ?)", [(r[0], r[2]) for r in rows])
                    rows = []
    c.executemany("INSERT INTO lines VALUES (?, ?, ?)", rows)
    c.executemany("INSERT INTO fts(rowid, k) VALUES (?, ?)", [(r[0], r[2]) for r in rows])
c.execute("COMMIT")
c.execute("INSERT INTO fts(fts) VALUES ('optimize')")
"""

FILES_PART = r"""
import sys, time
from attncli.inputs import ReadStats, expand, read_lines
t = time.perf_counter()
w = sys.argv[1]
n = sum(1 for _, _, text in read_lines(expand(sys.argv[2:]), 100_000, ReadStats())
        if type(text) is not str or w in text.lower())
print(n, time.perf_counter() - t)
"""

INDEX_PART = r"""
import sys, time
from attncli.store import reading
from attncli.inputs import ReadStats
t = time.perf_counter()
with reading(sys.argv[1]) as (ix, files):
    n = sum(1 for _ in ix.lines([sys.argv[2]], files, 100_000, ReadStats()))
print(n, time.perf_counter() - t)
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokens", type=int, default=100, help="millions of tokens of the largest corpus (a multiple of 10)")
    ap.add_argument("--repeat", type=int, default=3, help="paired runs per figure; medians reported")
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    ap.add_argument("--tmp", type=Path, default=None, help="where the corpora and indexes are made (removed at the end)")
    ap.add_argument("--no-files", action="store_true", help="leave out `senses -i` on the largest corpus (minutes)")
    a = ap.parse_args()
    from attncli.pipeline import Config, vectors_for

    lines = base_lines(a.corpus)
    counts = collections.Counter(w for line in lines for w in line.lower().split())
    vocab = vectors_for(Config())
    n_files = a.tokens // 10
    sizes = sorted({max(1, n_files // 10), max(1, n_files // 2), n_files})
    where = Path(tempfile.mkdtemp(prefix="attncli-bench-index-", dir=a.tmp))
    import compileall

    import attncli  # bytecode, as an installed wheel has (bench/startup.py does the same): without it,
    compileall.compile_dir(os.path.dirname(attncli.__file__), quiet=1)  # every query compiles attncli's modules (~50 ms)
    load_before = os.getloadavg()
    print(f"# attncli index benchmark, {time.strftime('%Y-%m-%d %H:%M %Z')}, load average {load_before[0]:.2f} "
          f"{load_before[1]:.2f} {load_before[2]:.2f}, {os.cpu_count()} cores")
    try:
        files = make_files(lines, n_files, where)
        tokens_per_file = COPIES * sum(counts.values())
        print(f"corpus: {n_files} files of {COPIES} shuffled copies of WikiText-2 valid+test, "
              f"{tokens_per_file:,} tokens and {files[0].stat().st_size / 1e6:.1f} MB each, in {where}\n")
        print("| corpus | text MB | attncli index build | bound (plain FTS5) | ratio | index MB | index / text | build RSS MiB |")
        print("|---|---|---|---|---|---|---|---|")
        dbs = {}
        for n in sizes:
            db, bound = where / f"c{n}.db", where / f"bound{n}.db"
            dbs[n] = db

            def clean(k, db=db, bound=bound):
                for p in (db, bound):
                    if p.exists():
                        p.unlink()

            text = sum(f.stat().st_size for f in files[:n])
            reps = a.repeat if n != n_files else max(1, a.repeat - 2)
            (ours, rss), (plain, _) = paired(
                [[ATTNCLI, "index", "build", *map(str, files[:n]), "-o", str(db), "-q"],
                 [sys.executable, "-c", BOUND_BUILD, str(bound), *map(str, files[:n])]], reps, before=clean)
            if not db.exists():
                run([ATTNCLI, "index", "build", *map(str, files[:n]), "-o", str(db), "-q"])
            bound.unlink(missing_ok=True)
            size = db.stat().st_size
            print(f"| {n * tokens_per_file / 1e6:.0f}M tokens | {text / 1e6:.0f} | {ours:.1f} s | {plain:.1f} s | "
                  f"{ours / plain:.2f} | {size / 1e6:.0f} | {size / text:.2f}x | {rss:.0f} |", flush=True)
        copies = {n: n * COPIES for n in sizes}
        big = max(sizes)
        word = word_with(counts, round(TARGET / copies[big]), vocab)
        print(f"\nquery `attncli senses WORD --index DB --json` (medians of {a.repeat}); bound: the same command "
              "with -i on a file of just the word's lines\n")
        print("| corpus | word | occurrences | --index | RSS MiB | bound | ratio | lines found by the index |")
        print("|---|---|---|---|---|---|---|---|")
        for n in sizes:
            for w in dict.fromkeys([word_with(counts, round(TARGET / copies[n]), vocab), word]):
                only = where / f"only-{w}-{n}.txt"
                with open(only, "w", encoding="utf-8") as out:
                    for f in files[:n]:
                        with open(f, encoding="utf-8") as fh:
                            out.writelines(line for line in fh if f" {w} " in f" {line.lower().strip()} ")
                (q, rss), (b, _) = paired([[ATTNCLI, "senses", w, "--index", str(dbs[n]), "--json"],
                                           [ATTNCLI, "senses", w, "-i", str(only), "--json"]], a.repeat)
                part = statistics.median(float(run([sys.executable, "-c", INDEX_PART, str(dbs[n]), w])[2].split()[1])
                                         for _ in range(a.repeat))
                occ = counts[w] * copies[n]
                print(f"| {n * tokens_per_file / 1e6:.0f}M | {w} | {occ:,} | {q:.2f} s | {rss:.0f} | {b:.2f} s | "
                      f"{q / b:.2f} | {part * 1000:.1f} ms |", flush=True)
                only.unlink()
        if not a.no_files:
            print(f"\n`-i` on the same {big * tokens_per_file / 1e6:.0f}M-token corpus, paired with --index "
                  f"(medians of {a.repeat})\n")
            (q, qr), (i, ir) = paired([[ATTNCLI, "senses", word, "--index", str(dbs[big]), "--json"],
                                       [ATTNCLI, "senses", word, "-i", str(where / "wiki-*.txt"), "--json"]], a.repeat)
            part = statistics.median(float(run([sys.executable, "-c", INDEX_PART, str(dbs[big]), word])[2].split()[1])
                                     for _ in range(a.repeat))
            read = statistics.median(float(run([sys.executable, "-c", FILES_PART, word, *map(str, files)])[2].split()[1])
                                     for _ in range(a.repeat))
            print("| word | --index | RSS MiB | -i | RSS MiB | -i / --index | lines found: index | lines found: -i's reading | ratio |")
            print("|---|---|---|---|---|---|---|---|---|")
            print(f"| {word} | {q:.2f} s | {qr:.0f} | {i:.1f} s | {ir:.0f} | {i / q:.1f}x | {part * 1000:.1f} ms | "
                  f"{read:.1f} s | {read / part:.0f}x |")
    finally:
        shutil.rmtree(where, ignore_errors=True)
    load_after = os.getloadavg()
    print(f"\nload average after: {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}")


if __name__ == "__main__":
    main()
