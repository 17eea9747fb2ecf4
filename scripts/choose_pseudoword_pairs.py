"""Choose the hard pseudoword pairs (issue 21) by a written rule, before anything is measured on
them, and split them into a tuning half and a held-out half by a seeded random split.

    python scripts/choose_pseudoword_pairs.py [--corpus ../shared/corpus] [--check]

Needs WordNet 3.0's database files (Debian's package wordnet-base: /usr/share/wordnet), used for
the polysemy test only. Writes data/pseudowords/{tuning,heldout}.txt and choice.json (the rule,
the seed, every pair's figures); --check recomputes and exits 1 if the files differ.

The rule (fixed before any grouping was run on these words):
1. Counts: attncli's tokenizer (lowercased) over the corpus (WikiText-2 valid + test); frequency
   rank by those counts.
2. A word is a candidate when it is alphabetic, 3 letters or more, in the embedded GloVe
   vocabulary, not among the 100 most frequent words of the corpus, at least MIN_COUNT
   occurrences, written in lower case in at least 80% of them (a common noun, not a name),
   polysemous as a noun (at least MIN_SENSES noun senses in WordNet 3.0) and at least as much a
   noun as anything else (noun senses >= its verb, adjective and adverb senses), not an
   inflected form listed in WordNet's exception lists (left, thought), not a number word or a
   modal, and in neither the built-in pairs (the easy set) nor the study's 20 tuning pairs.
3. A pair (a, b) may be drawn when the rarer word's share of the pair's occurrences is between
   0.10 and 0.40 (unequal frequencies, as in the study's set), the words do not share their
   first four letters (no spelling variants or inflections: centre/center, ship/ships), and the
   cosine of their GloVe vectors is in [0.30, 0.80): not unrelated (below the pool's 25th
   percentile), not near-synonyms.
4. Pairs are drawn in a random order (numpy default_rng(SEED)); a pair is kept when neither word
   is in a kept pair; until N_PAIRS are kept. So every word is in one pair at most.
5. The kept pairs are split by default_rng(SEED + 1).permutation: the first half is the tuning
   half, the second the held-out half. The study's 20 pairs join the tuning side
   (data/pseudowords/tuning.txt lists them after the new ones); no held-out word is in them.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "data" / "pseudowords"
WORDNET = Path("/usr/share/wordnet")
SEED = 21  # the number
N_PAIRS = 48  # 24 tuning + 24 held-out
MIN_COUNT = 30
MIN_SENSES = 4
TOP_EXCLUDED = 100
SHARE = (0.10, 0.40)
COSINE = (0.30, 0.80)
NUMBERS = set("one two three four five six seven eight nine ten eleven twelve twenty hundred thousand million "
              "first second third fourth fifth sixth seventh eighth ninth tenth".split())
MODALS = set("can could may might must need shall should will would ought dare".split())
STUDY = ("head:key division:power game:title storm:wind film:board season:cast general:round side:press single:base "
         "final:post law:act ship:range point:ball stage:coach song:drive council:union period:block tank:cross "
         "park:square album:chart").split()


def counts(corpus: Path, known) -> tuple[collections.Counter, collections.Counter]:
    """(lowercased token counts by attncli's tokenizer, counts of the token written in lower case)."""
    from attncli.tokens import tokenize

    total, lower = collections.Counter(), collections.Counter()
    for path in sorted(corpus.glob("*.txt")):
        for line in path.read_text(encoding="utf-8").splitlines():
            for t in tokenize(line, known):
                total[t.text] += 1
                if t.surface == t.text:
                    lower[t.text] += 1
    return total, lower


def wordnet() -> tuple[dict[str, dict[str, int]], set[str]]:
    senses = {}
    for pos in ("noun", "verb", "adj", "adv"):
        d = {}
        for line in (WORDNET / f"index.{pos}").read_text(encoding="latin-1").splitlines():
            if not line.startswith(" "):
                bits = line.split()
                d[bits[0]] = int(bits[2])
        senses[pos] = d
    inflected = {line.split()[0] for pos in ("noun", "verb", "adj", "adv")
                 for line in (WORDNET / f"{pos}.exc").read_text(encoding="latin-1").splitlines() if line.strip()}
    return senses, inflected


def choose(corpus: Path) -> dict:
    from attncli.pipeline import get_vectors
    from attncli.pseudowords import DEFAULT_PAIRS

    vec = get_vectors()
    total, lower = counts(corpus, vec.__contains__)
    senses, inflected = wordnet()
    ranked = [w for w, _ in total.most_common()]
    excluded = {w for p in STUDY for w in p.split(":")} | {w for p in DEFAULT_PAIRS for w in p}
    pool = []
    for w in ranked[TOP_EXCLUDED:]:
        n = senses["noun"].get(w, 0)
        if (total[w] >= MIN_COUNT and w.isalpha() and len(w) >= 3 and w in vec and lower[w] >= 0.8 * total[w]
                and n >= MIN_SENSES and n >= max(senses[p].get(w, 0) for p in ("verb", "adj", "adv"))
                and w not in inflected and w not in NUMBERS | MODALS | excluded):
            pool.append(w)
    m = np.asarray(vec.matrix, dtype=np.float64)
    u = np.stack([m[vec.index[w]] for w in pool])
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    cos = u @ u.T  # (P, P)
    allowed = []
    for i in range(len(pool)):
        for j in range(i + 1, len(pool)):
            a, b = pool[i], pool[j]
            share = min(total[a], total[b]) / (total[a] + total[b])
            if SHARE[0] <= share <= SHARE[1] and a[:4] != b[:4] and COSINE[0] <= cos[i, j] < COSINE[1]:
                allowed.append((i, j))
    rng = np.random.default_rng(SEED)
    kept, used = [], set()
    for k in rng.permutation(len(allowed)).tolist():
        i, j = allowed[k]
        if i in used or j in used:
            continue
        used |= {i, j}
        a, b = sorted((pool[i], pool[j]), key=lambda w: (-total[w], w))  # the more frequent first
        kept.append({"pair": f"{a}:{b}", "n_a": total[a], "n_b": total[b],
                     "share": round(min(total[a], total[b]) / (total[a] + total[b]), 3),
                     "cosine": round(float(cos[i, j]), 3),
                     "noun_senses": [senses["noun"][a], senses["noun"][b]]})
        if len(kept) == N_PAIRS:
            break
    if len(kept) < N_PAIRS:
        raise SystemExit(f"only {len(kept)} pairs meet the rule")
    order = np.random.default_rng(SEED + 1).permutation(len(kept)).tolist()
    half = len(kept) // 2
    tuning, heldout = [kept[k] for k in order[:half]], [kept[k] for k in order[half:]]
    assert not ({w for p in heldout for w in p["pair"].split(":")} & {w for p in STUDY for w in p.split(":")})
    return {
        "rule": __doc__.split("The rule")[1].strip(),
        "corpus": "WikiText-2 validation + test (../shared/corpus/*.txt), attncli's tokenizer",
        "wordnet": "WordNet 3.0 (Debian wordnet-base), index.* sense counts and *.exc lists",
        "seed": SEED, "pool_size": len(pool), "allowed_pairs": len(allowed),
        "tuning": tuning, "heldout": heldout, "study_tuning": STUDY,
    }


def files(choice: dict) -> dict[str, str]:
    head = "# {what}: chosen by scripts/choose_pseudoword_pairs.py (the rule: data/pseudowords/choice.json)\n"
    tuning = (head.format(what="tuning pairs (tune on these)") + "# new pairs, the tuning half of the seeded split\n"
              + "".join(p["pair"] + "\n" for p in choice["tuning"])
              + "# the 20 pairs of the grouping study (../shared/notes/senses-study.md), free for tuning\n"
              + "".join(p + "\n" for p in choice["study_tuning"]))
    heldout = (head.format(what="held-out pairs (look once per final method)")
               + "".join(p["pair"] + "\n" for p in choice["heldout"]))
    return {"tuning.txt": tuning, "heldout.txt": heldout, "choice.json": json.dumps(choice, indent=1) + "\n"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    ap.add_argument("--check", action="store_true", help="exit 1 when the files in data/pseudowords differ")
    args = ap.parse_args()
    out = files(choose(args.corpus))
    if args.check:
        differ = [n for n, text in out.items() if not (OUT / n).is_file() or (OUT / n).read_text(encoding="utf-8") != text]
        print("differ: " + ", ".join(differ) if differ else "the files are what the rule gives")
        return 1 if differ else 0
    OUT.mkdir(parents=True, exist_ok=True)
    for name, text in out.items():
        (OUT / name).write_text(text, encoding="utf-8")
    print(f"wrote {', '.join(out)} in {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
