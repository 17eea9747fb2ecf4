"""--engine dask: shards on a LocalCluster of 2 workers equal the single-machine output."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from attncli.cli import app

from .helpers import npz_tokens

runner = CliRunner()

FILES = {
    "a.txt": ["The bank raised its interest rates .", "", "We sat on the river bank ."],
    "b.txt": ["Money grows on trees .", "xqzvw zzqxv", "bank"],
    "c.txt": ["An unknown xqzvw word sits in this sentence about banks .", "Go ."],
}


@pytest.fixture
def corpus(tmp_path):
    root = tmp_path / "corpus"
    root.mkdir()
    for name, lines in FILES.items():
        (root / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "all.txt").write_text("".join((root / n).read_text() for n in sorted(FILES)), encoding="utf-8")
    return tmp_path


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c:
        yield c


def _check_shards_equal_single(tmp, out, args):
    single = tmp / "single.npz"
    result = runner.invoke(app, ["embed", "-i", str(tmp / "corpus" / "*.txt"), "-o", str(single), *args])
    assert result.exit_code == 3
    manifest = json.loads((out / "manifest.json").read_text())
    shards = manifest["shards"]
    assert [s["file"] for s in shards] == ["shard-00000.npz", "shard-00001.npz", "shard-00002.npz"]
    assert [s["source"].rsplit("/", 1)[-1] for s in shards] == sorted(FILES)
    assert [s["sentences"] for s in shards] == [2, 2, 2]
    assert [[e["line"] for e in s["errors"]] for s in shards] == [[], [2], []]  # a.txt's line 2 is blank: skipped
    assert manifest["sentences"] == 6 and manifest["failed"] == 1
    z = [np.load(out / s["file"], allow_pickle=False) for s in shards]
    s = np.load(single, allow_pickle=False)
    # equal up to float32 rounding: the sentences are padded in other company than in one run
    np.testing.assert_allclose(np.concatenate([x["vectors"] for x in z]), s["vectors"], rtol=1e-6, atol=1e-6)
    assert [t for x in z for t in npz_tokens(x)] == npz_tokens(s)
    lengths = np.concatenate([np.diff(x["offsets"]) for x in z])
    np.testing.assert_array_equal(lengths, np.diff(s["offsets"]))
    # lines count from 1 in each source file, in the shards as in the single run (which names the sources)
    np.testing.assert_array_equal(np.concatenate([x["lines"] for x in z]), s["lines"])
    sources = [str(x) for x in s["sources"][s["source"]]]
    assert sources == [sh["source"] for sh in shards for _ in range(sh["sentences"])]
    return manifest


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
def test_dask_cluster_shards_equal_single_machine(corpus, cluster):
    out = corpus / "out"
    args = ["--causal", "--prior", "zipf"]
    result = runner.invoke(app, ["embed", "-i", str(corpus / "corpus" / "*.txt"), "--engine", "dask",
                                 "--scheduler", cluster.scheduler_address, "-o", str(out), *args])
    assert result.exit_code == 3, result.stderr
    assert "b.txt: line 2: no word of 'xqzvw zzqxv'" in result.stderr
    manifest = _check_shards_equal_single(corpus, out, args)
    assert manifest["config"]["causal"] is True and manifest["vectors"]["dim"] == 50


@pytest.mark.slow
def test_dask_local_processes(corpus):
    pytest.importorskip("dask")
    out = corpus / "out"
    result = runner.invoke(app, ["embed", "-i", str(corpus / "corpus" / "*.txt"), "--engine", "dask", "-o", str(out)])
    assert result.exit_code == 3, result.stderr
    _check_shards_equal_single(corpus, out, [])


def test_dask_missing_says_how_to_install(corpus, monkeypatch):
    monkeypatch.setitem(sys.modules, "dask", None)  # import dask -> ImportError
    result = runner.invoke(app, ["embed", "-i", str(corpus / "all.txt"), "--engine", "dask", "-o", str(corpus / "out")])
    assert result.exit_code == 1
    assert result.stderr == "attncli: error: --engine dask needs Dask: pip install 'attncli[dask]'\n"


@pytest.mark.parametrize(
    "extra",
    [[], ["-o", "-"], ["-o", "OUT", "-f", "jsonl"]],
)
def test_dask_usage_errors(corpus, extra):
    extra = [str(corpus / "out") if a == "OUT" else a for a in extra]
    result = runner.invoke(app, ["embed", "-i", str(corpus / "all.txt"), "--engine", "dask", *extra])
    assert result.exit_code == 2, result.stderr


SENSES = {
    "money.txt": ["The bank raised its interest rates .", "She paid the loan back to the bank .", "Nothing here ."],
    "river.txt": ["We sat on the river bank .", "The boat drifted to the muddy bank of the stream ."],
}


@pytest.mark.slow
def test_senses_on_dask_equal_the_local_run(tmp_path):
    pytest.importorskip("dask")
    for name, lines in SENSES.items():
        (tmp_path / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    pattern = str(tmp_path / "*.txt")
    local = runner.invoke(app, ["senses", "bank", "-i", pattern, "-k", "2", "--json"])
    assert local.exit_code == 0, local.output
    on_dask = runner.invoke(app, ["senses", "bank", "-i", pattern, "-k", "2", "--json", "--engine", "dask"])
    assert on_dask.exit_code == 0, on_dask.output
    a, b = json.loads(local.stdout), json.loads(on_dask.stdout)
    assert a["n"] == b["n"] == 4
    assert [(o["line"], o["sense"]) for o in a["occurrences"]] == [(o["line"], o["sense"]) for o in b["occurrences"]]
    np.testing.assert_allclose([o["score"] for o in a["occurrences"]], [o["score"] for o in b["occurrences"]], atol=1e-5)


def test_senses_scheduler_needs_dask_engine(tmp_path):
    (tmp_path / "a.txt").write_text("the bank\n")
    r = runner.invoke(app, ["senses", "bank", "-i", str(tmp_path / "a.txt"), "--scheduler", "tcp://127.0.0.1:1"])
    assert r.exit_code == 2 and "--scheduler needs --engine dask" in r.stderr and r.stderr.count("\n") == 1
