"""What sentence vectors (`batch --pool`) are worth: the figures and examples of
docs/performance.md#sentence-vectors.

    .venv/bin/python scripts/pool_eval.py [--corpus ../shared/corpus] [--wic ../shared/wic]

1. Halves of a paragraph find each other (WikiText-2, ../shared/corpus): each paragraph of
   the validation and test splits with 40 tokens or more is cut into its first and second
   half; for each first half, the second halves are ranked by cosine to it (vectors centered
   on the mean of all halves). Reported: recall@1 (its own second half ranks first) and mean
   reciprocal rank, for each pooling of the contextual vectors and for the same poolings of
   the static vectors (no attention): what attention adds.
2. Nearest sentences (WiC's sentences, ../shared/wic): for a few sentences, the three nearest
   others by --pool sif.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

import attncli
from attncli.pipeline import key_probability, vectors_for
from attncli.pooling import pool, sif_weights

ROOT = Path(__file__).resolve().parent.parent
QUERIES = [
    "The bank raised its interest rates .",
    "He played the guitar in a rock band .",
    "The ship sank in the storm .",
    "She planted tomatoes in the garden .",
]


def vectors(texts: list[str]) -> dict[str, np.ndarray]:
    """Per pooling, (len(texts), d): mean and sif of the contextual and of the static vectors."""
    vec = vectors_for(attncli.Config().resolved())
    out: dict[str, list] = {k: [] for k in ("static mean", "static sif", "contextual mean", "contextual sif")}
    for r in attncli.embed_batch(texts, with_attention=False):
        ids = np.array([vec.index.get(t, -1) for t in r.tokens])
        w = sif_weights(key_probability(vec, ids), r.config.prior_a)
        offsets = np.array([0, len(r.tokens)])
        for name, x in (("static", r.static), ("contextual", r.contextual)):
            out[f"{name} mean"].append(pool(x, offsets)[0])
            out[f"{name} sif"].append(pool(x, offsets, w)[0])
    return {k: np.stack(v) for k, v in out.items()}


def unit_centered(x: np.ndarray) -> np.ndarray:
    x = x - x.mean(axis=0)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def halves(corpus: Path) -> tuple[list[str], list[str]]:
    firsts, seconds = [], []
    for name in ("wikitext-2.valid.txt", "wikitext-2.test.txt"):
        for line in (corpus / name).read_text(encoding="utf-8").splitlines():
            words = line.split()
            if len(words) < 40 or line.strip().startswith("="):
                continue
            h = len(words) // 2
            firsts.append(" ".join(words[:h]))
            seconds.append(" ".join(words[h:]))
    return firsts, seconds


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    ap.add_argument("--wic", type=Path, default=ROOT.parent / "shared" / "wic")
    a = ap.parse_args()
    firsts, seconds = halves(a.corpus)
    n = len(firsts)
    va, vb = vectors(firsts), vectors(seconds)
    print(f"1. {n:,} WikiText-2 paragraphs of 40+ tokens: does the first half find its own second half among all {n:,}?")
    print("| pooling | recall@1 | MRR |\n|---|---|---|")
    for name in va:
        sims = unit_centered(va[name]) @ unit_centered(vb[name]).T  # (n, n)
        rank = (sims > np.diag(sims)[:, None]).sum(axis=1)  # 0: its own half ranks first
        print(f"| {name} | {np.mean(rank == 0):.3f} | {np.mean(1 / (rank + 1)):.3f} |")
    sentences = []
    for line in (a.wic / "train.data.txt").read_text(encoding="utf-8").splitlines():
        sentences += line.split("\t")[3:5]
    sentences = list(dict.fromkeys(sentences))
    texts = QUERIES + sentences
    u = unit_centered(vectors(texts)["contextual sif"])
    print(f"\n2. Nearest of {len(sentences):,} WiC train sentences by --pool sif (cosine, centered):")
    for i, q in enumerate(QUERIES):
        sims = u[len(QUERIES):] @ u[i]
        print(f"- {q}")
        for j in np.argsort(-sims)[:3]:
            print(f"  - {sims[j]:.2f} {sentences[j]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
