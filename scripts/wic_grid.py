"""The measurements behind attncli's simple-mode defaults (docs/wic.md, "Defaults that show meaning").

    python scripts/wic_grid.py [--wic ../shared/wic] [--grid]

Scores WiC train and dev with each setting below: the threshold is fitted on train, accuracy
is reported on train (the fit) and on dev. Without --grid, the rows of docs/wic.md; with --grid, the
wider search they were picked from. The WiC data is read from its folder, never copied here.
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

from attncli import pipeline as P
from attncli import wic

ROWS = [
    ("textbook: dot, scaled, nothing else", P.Config.textbook()),
    ("cosine, scaled, no prior, no centering", P.Config.textbook(similarity="cosine")),
    ("+ exclude-self, Zipf prior a = 1e-5, no scaling",
     P.Config.textbook(similarity="cosine", scale=False, exclude_self=True, prior="zipf", prior_a=1e-5)),
    ("+ centering on the top 10,000",
     P.Config.textbook(similarity="cosine", scale=False, exclude_self=True, prior="zipf", prior_a=1e-5, center=10_000)),
    ("+ residual 0.2, a = 3e-4 (the defaults)", P.Config()),
    ("residual 0 (pure context), a = 1e-4, T = 0.5", P.Config(residual=0.0, prior_a=1e-4, temperature=0.5)),
    ("the defaults with 2 layers", P.Config(layers=2)),
    ("the defaults with T = 0.5", P.Config(temperature=0.5)),
    ("the defaults with T = 2", P.Config(temperature=2.0)),
]

# The qualitative check the defaults must pass: "bank"'s five nearest words (itself left out)
# are financial in "money bank grows" and about water in "bank river flows".
FINANCE = {"money", "funds", "cash", "banks", "credit", "investment", "investments", "raise", "debt", "loans",
           "billions", "fund", "finance", "financial", "deposit", "deposits", "lending", "savings"}
WATER = {"river", "rivers", "flows", "tributary", "tributaries", "creek", "downstream", "upstream", "shore",
         "confluence", "stream", "water", "waters", "flow", "flowing", "valley", "lake"}


def senses(cfg: P.Config) -> tuple[int, int]:
    """How many of "bank"'s 5 nearest words are financial (money sentence) and water words (river)."""
    r = P.compare(["money bank grows", "bank river flows"], "bank", cfg, k=5)
    money, river = ({w for w, _ in o.neighbors} for o in r.occurrences)
    return len(money & FINANCE), len(river & WATER)


GRID = {"temperature": [0.5, 0.7, 1.0, 2.0], "prior_a": [1e-5, 1e-4, 3e-4, 1e-3], "center": [0, 10_000],
        "residual": [0.0, 0.2, 0.3]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wic", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "wic")
    parser.add_argument("--grid", action="store_true", help="the wider search, not the rows of docs/wic.md")
    args = parser.parse_args()
    tr, ytr = wic.read_split(args.wic / "train.data.txt", args.wic / "train.gold.txt")
    dv, ydv = wic.read_split(args.wic / "dev.data.txt", args.wic / "dev.gold.txt")
    vec = P.get_vectors()
    scorer = wic.Scorer(vec)
    rows = ROWS
    if args.grid:
        keys = list(GRID)
        rows = [(", ".join(f"{k}={v}" for k, v in zip(keys, values)), P.Config(**dict(zip(keys, values))))
                for values in itertools.product(*GRID.values())]
    print(f"{'setting':<52} {'train':>6} {'dev':>6} {'senses':>7}  (threshold fitted on train; {len(tr)} / {len(dv)} pairs;"
          " senses: financial / water words among bank's 5 neighbours)")
    t0 = time.perf_counter()
    for label, cfg in rows:
        threshold, fit = wic.fit_threshold(scorer.scores(tr, cfg), ytr)
        dev = wic.accuracy(scorer.scores(dv, cfg), ydv, threshold)
        money, river = senses(cfg)
        print(f"{label:<52} {100 * fit:6.1f} {100 * dev:6.1f} {money:>3} / {river}", flush=True)
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
