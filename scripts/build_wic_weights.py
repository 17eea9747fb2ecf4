"""Rebuild the shipped weights data/wic-qkv.npz (`--weights wic`) from the WiC train split and
check that the result reproduces the shipped file's scores.

    python scripts/build_wic_weights.py [--wic ../shared/wic] [--install]

Runs `attncli train wic` with the pinned settings below, scores the result on the dev split with
`eval wic` (threshold fitted on train), and compares train, grouped-CV and dev accuracy and the
SHA-256 with the shipped file and its entry in data/PROVENANCE.json. Exit 1 when a score
differs. --install replaces the shipped file and its provenance entry instead (the dev score is
measured and recorded, never used to choose anything).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "data" / "wic-qkv.npz"
PROVENANCE = ROOT / "data" / "PROVENANCE.json"
SEED, RANK, HEADS = 0, 8, 1
TOLERANCE = 1e-9  # the same machine gives the same bits; another BLAS may move a pair or two


def train(wic: Path, out: Path) -> list[str]:
    cmd = [sys.executable, "-m", "attncli", "train", "wic", str(wic / "train.data.txt"), str(wic / "train.gold.txt"),
           "-o", str(out), "--rank", str(RANK), "--heads", str(HEADS), "--seed", str(SEED)]
    subprocess.run(cmd, check=True, cwd=ROOT)
    return ["attncli", "train", "wic", "../shared/wic/train.data.txt", "../shared/wic/train.gold.txt", "-o", "data/wic-qkv.npz",
            "--rank", str(RANK), "--heads", str(HEADS), "--seed", str(SEED)]


def scores(path: Path, wic: Path) -> dict:
    from attncli import pipeline as P
    from attncli import wic as W
    from attncli.weightsfile import parse_settings, read_arrays

    training = parse_settings(path, read_arrays(path).get("settings"))["training"]
    cfg = P.Config(mode="qkv", weights=str(path), **P.carried_settings(str(path)))
    fit, fit_y = W.read_split(wic / "train.data.txt", wic / "train.gold.txt")
    dev, dev_y = W.read_split(wic / "dev.data.txt", wic / "dev.gold.txt")
    result = W.evaluate(dev, dev_y, fit, fit_y, cfg, P.get_vectors())
    return {"train": result.fit_accuracy, "train_reported": training["train_accuracy"],
            "grouped_cv": training["cv_accuracy"], "dev": result.accuracy, "epochs": training["epochs"]}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wic", type=Path, default=ROOT.parent / "shared" / "wic")
    ap.add_argument("--install", action="store_true", help="replace data/wic-qkv.npz and its provenance entry")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "wic-qkv.npz"
        start = time.perf_counter()
        command = train(args.wic, out)
        seconds = time.perf_counter() - start
        new = scores(out, args.wic)
        if abs(new["train"] - new["train_reported"]) > 1e-12:
            print(f"eval wic gives {new['train']:.6f} on train, training reported {new['train_reported']:.6f}", file=sys.stderr)
            return 1
        print(f"rebuilt in {seconds:.0f} s: train {new['train']:.4f}, grouped CV {new['grouped_cv']:.4f}, dev {new['dev']:.4f}, "
              f"{new['epochs']} epochs, SHA-256 {sha256(out)}")
        provenance = json.loads(PROVENANCE.read_text(encoding="utf-8"))
        if args.install:
            SHIPPED.write_bytes(out.read_bytes())
            provenance.setdefault("weights", {})[SHIPPED.name] = {
                "name": "wic",
                "description": "W_q, W_k, W_v = I + U V^T (rank 8, 1 head) for --mode qkv over the embedded GloVe 50d, "
                               "trained on WiC to tell whether a word has the same sense in two sentences",
                "training_data": "WiC train split (Pilehvar and Camacho-Collados, NAACL 2019), 5,428 pairs",
                "licence": "CC BY-NC 4.0: the weights derive from WiC, which is licensed for non-commercial use only",
                "command": " ".join(command),
                "seed": SEED,
                "scores": {"train": new["train"], "grouped_cv": new["grouped_cv"], "dev": new["dev"]},
                "epochs": new["epochs"],
                "derived_by": "scripts/build_wic_weights.py (make weights)",
                "sha256": sha256(SHIPPED),
            }
            PROVENANCE.write_text(json.dumps(provenance, indent=2) + "\n", encoding="utf-8")
            print(f"installed {SHIPPED.relative_to(ROOT)} and its entry in {PROVENANCE.relative_to(ROOT)}")
            return 0
        entry = provenance.get("weights", {}).get(SHIPPED.name)
        if entry is None or not SHIPPED.is_file():
            print("nothing shipped to compare with: run with --install", file=sys.stderr)
            return 1
        shipped = entry["scores"]
        rows = [(k, shipped[k], new[k]) for k in ("train", "grouped_cv", "dev")]
        for name, old, now in rows:
            print(f"{name:11s} shipped {old:.6f}  rebuilt {now:.6f}  {'same' if abs(old - now) <= TOLERANCE else 'DIFFERENT'}")
        same_bytes = sha256(out) == entry["sha256"]
        print(f"bytes: {'identical to' if same_bytes else 'differ from'} the shipped file")
        return 0 if all(abs(o - n) <= TOLERANCE for _, o, n in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
