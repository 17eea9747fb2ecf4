"""The pseudoword figures of docs/senses.md: per pair, the balanced accuracy of the grouping
`attncli senses` uses beside plain spherical 2-means on the same contextual vectors (the
baseline), and the majority share. Static vectors score 0.5 by construction: every occurrence
of the pseudoword has the same static vector, so any grouping of them is blind to the word.

    .venv/bin/python scripts/senses_pseudowords.py [CORPUS ...] [--pairs a:b,c:d]

CORPUS defaults to ../shared/corpus/*.txt (WikiText-2 validation and test); pairs to the
built-in list of `attncli eval pseudowords`.
"""

from __future__ import annotations

import argparse
import time

from attncli.pseudowords import parse_pairs, pseudowords


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus", nargs="*", default=["/work/shared/corpus/*.txt"])
    ap.add_argument("--pairs", default=None)
    args = ap.parse_args()
    pairs = parse_pairs(args.pairs) if args.pairs else None
    t = time.perf_counter()
    ours = pseudowords(args.corpus, pairs, method="senses")
    t_ours = time.perf_counter() - t
    base = pseudowords(args.corpus, pairs, method="kmeans")
    print(f"{'pair':<22} {'n':>5} {'majority':>8} {'2-means':>8} {'senses':>8}")
    for p, b in zip(ours.pairs, base.pairs):
        print(f"{p.a + ':' + p.b:<22} {p.n:>5} {p.majority:>8.3f} {b.balanced_accuracy:>8.3f} {p.balanced_accuracy:>8.3f}")
    print(f"{'mean (' + str(len(ours.pairs)) + ' pairs)':<22} {'':>5} {ours.mean_majority:>8.3f} "
          f"{base.mean_balanced_accuracy:>8.3f} {ours.mean_balanced_accuracy:>8.3f}")
    print(f"static vectors: 0.500 by construction; senses grouping took {t_ours:.1f} s for all pairs")
    for s in ours.skipped:
        print(f"left out: {s}")


if __name__ == "__main__":
    main()
