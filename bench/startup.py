"""Start-up benchmark: `attncli embed "money bank grows" --json` from a cold process,
on the embedded default and on a cached user file, side by side with the floor
`python -c "import numpy"` and with gensim parsing the same user file.

    make bench-startup            # or: .venv/bin/python bench/startup.py --runs 21

Every run is a fresh process (the OS page cache stays warm, as for a user running the command
twice). Prints the median and best wall time, the ratio of medians to the floor, and the peak
memory (max RSS of the child, from wait4). Target: attncli within 1.6x the floor, under 60 MiB.
Uses its own cache directory (a temp dir), never the user's.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SENTENCE = "money bank grows"


def run(cmd: list[str], env: dict) -> tuple[float, float, float]:
    """(wall seconds, max RSS MiB, CPU seconds user + system) of one fresh process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode()
    proc.stderr.close()
    if proc.returncode != 0:
        sys.exit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{err}")
    return wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime  # ru_maxrss: KiB on Linux


_MAKE_FILE = """
import sys
import numpy as np
from gensim.models import KeyedVectors
from attncli.vectors import load_default
default = load_default(limit=int(sys.argv[2]))
kv = KeyedVectors(default.dim)
kv.add_vectors(default.words, np.asarray(default.matrix, dtype=np.float32))
kv.save_word2vec_format(sys.argv[1])
"""


def make_user_file(path: Path, words: int) -> None:
    """A word2vec text file of the default vectors' first `words` words, written by gensim (in a
    child process: this one stays small, as children forked from it inherit its peak RSS)."""
    subprocess.run([sys.executable, "-c", _MAKE_FILE, str(path), str(words)], check=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=15, help="fresh processes per command (default 15)")
    ap.add_argument("--words", type=int, default=50_000, help="words in the user file (default 50,000)")
    args = ap.parse_args()

    bindir = Path(sys.executable).parent
    attncli = shutil.which("attncli", path=str(bindir)) or shutil.which("attncli")
    if attncli is None:
        sys.exit("attncli is not installed in this environment (make install)")
    # Bytecode, as an installed wheel has: without it (PYTHONDONTWRITEBYTECODE=1, an editable
    # install) every run would compile attncli's modules again.
    package = subprocess.run([sys.executable, "-c", "import attncli, os; print(os.path.dirname(attncli.__file__))"],
                             capture_output=True, text=True, check=True).stdout.strip()
    subprocess.run([sys.executable, "-m", "compileall", "-q", package], check=True)
    tmp = Path(tempfile.mkdtemp(prefix="attncli-bench-"))
    env = {**os.environ, "ATTNCLI_CACHE_DIR": str(tmp / "cache")}
    env.pop("ATTNCLI_VECTORS", None)
    try:
        user = tmp / f"glove-first-{args.words // 1000}k.w2v.txt"
        make_user_file(user, args.words)
        t_convert, _, _ = run([attncli, "vectors", "info", str(user), "--json"], env)  # the one conversion

        cmds = {
            'python -c "import numpy"  (floor)': [sys.executable, "-c", "import numpy"],
            f'attncli embed "{SENTENCE}" --json  (default)': [attncli, "embed", SENTENCE, "--json"],
            f'attncli embed ... --json --vectors {user.name}  (cached)': [attncli, "embed", SENTENCE, "--json", "--vectors", str(user)],
        }
        peer = {
            f"gensim load_word2vec_format({user.name})  (peer: parse each time)": [
                sys.executable, "-c",
                f"from gensim.models import KeyedVectors; KeyedVectors.load_word2vec_format({str(user)!r})",
            ],
        }
        times: dict[str, list[float]] = {k: [] for k in [*cmds, *peer]}
        rss: dict[str, list[float]] = {k: [] for k in times}
        cpu: dict[str, list[float]] = {k: [] for k in times}
        for name, cmd in cmds.items():  # warm-up: page cache, .pyc files
            run(cmd, env)
        for _ in range(args.runs):  # interleaved, so that machine noise hits all alike
            for name, cmd in cmds.items():
                for record, value in zip((times, rss, cpu), run(cmd, env)):
                    record[name].append(value)
        for name, cmd in peer.items():
            for _ in range(max(3, args.runs // 5)):
                for record, value in zip((times, rss, cpu), run(cmd, env)):
                    record[name].append(value)

        floor = statistics.median(times[next(iter(cmds))])
        cpu_floor = statistics.median(cpu[next(iter(cmds))])
        width = max(map(len, times))
        print(f"start-up, {args.runs} cold runs each (peer: {len(times[next(iter(peer))])}); "
              f"python {sys.version.split()[0]}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")
        print(f"{'command':<{width}}  {'median':>8}  {'best':>8}  {'x floor':>7}  {'CPU':>8}  {'x floor':>7}  {'max RSS':>9}")
        for name in times:
            med, best, c = statistics.median(times[name]), min(times[name]), statistics.median(cpu[name])
            print(f"{name:<{width}}  {med:>7.3f}s  {best:>7.3f}s  {med / floor:>6.2f}x  {c:>7.3f}s  {c / cpu_floor:>6.2f}x"
                  f"  {max(rss[name]):>5.1f} MiB")
        size = sum(f.stat().st_size for f in (tmp / "cache").rglob("*") if f.is_file())
        print(f"one-time conversion of {user.name} ({user.stat().st_size / 2**20:.1f} MiB text, {args.words:,} words): "
              f"{t_convert:.2f} s; cache {size / 2**20:.1f} MiB")
        print("wall = median elapsed time; CPU = median user+system time (less sensitive to other load)")
        print("target: attncli <= 1.60x floor (median wall) and < 60 MiB max RSS")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
