"""Batch outputs for data tools: sentence vectors (--pool), Parquet (read back by pyarrow and by
polars' own reader) and the embedding projector's TSV files (read back as the projector reads
them). Each holds the numbers the .npz holds for the same input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import attncli
from attncli.batch import BatchEmbedder
from attncli.cli import app
from attncli.errors import DataError

from .helpers import npz_tokens
from .test_senses import planted, write

runner = CliRunner()
pa = pytest.importorskip("pyarrow", reason="pyarrow is not installed: pip install -e '.[test]'")
pq = pytest.importorskip("pyarrow.parquet")
pl = pytest.importorskip("polars", reason="polars is not installed: pip install -e '.[test]'")

LINES = ["money bank grows", "", "she sat on the bank of the river", "xqzvw", "the bank raised its interest rates ."]
EMBEDDED = [1, 3, 5]  # the lines that embed: 2 is blank (skipped), 4 holds no known word


@pytest.fixture
def corpus(tmp_path) -> Path:
    return write(tmp_path, "in.txt", LINES)


def batch(*args) -> None:
    r = runner.invoke(app, ["batch", *map(str, args), "-q"])
    assert r.exit_code == 3, r.stderr  # line 4 fails (2 is blank: skipped), the rest is written
    assert "line 4: no word of 'xqzvw'" in r.stderr and "line 2" not in r.stderr


# ---------------------------------------------------------------- sentence vectors


@pytest.mark.parametrize("pool", ["mean", "sif"])
def test_pool_npz_and_jsonl_hold_each_sentences_pooled_vector(corpus, tmp_path, pool):
    batch("-i", corpus, "-o", tmp_path / "out.npz", "--pool", pool)
    batch("-i", corpus, "-o", tmp_path / "out.jsonl", "--pool", pool)
    z = np.load(tmp_path / "out.npz")
    records = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert z["sentences"].shape == (3, 50) and z["sentences"].dtype == np.float32
    pooled = [r for r in records if "error" not in r]
    assert [r["line"] for r in pooled] == list(z["lines"]) == EMBEDDED
    for i, line in enumerate(EMBEDDED):
        one = attncli.embed(LINES[line - 1], pool=pool)
        np.testing.assert_allclose(z["sentences"][i], one.sentence, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(pooled[i]["sentence"], z["sentences"][i], rtol=1e-6)
        a, b = z["offsets"][i], z["offsets"][i + 1]
        if pool == "mean":  # the mean of the rows it has in "vectors"
            np.testing.assert_allclose(z["sentences"][i], z["vectors"][a:b].mean(axis=0), rtol=1e-5, atol=1e-6)
    assert all("sentence" not in r for r in records if "error" in r)


def test_without_pool_there_are_no_sentence_vectors(corpus, tmp_path):
    batch("-i", corpus, "-o", tmp_path / "out.npz")
    assert "sentences" not in np.load(tmp_path / "out.npz").files


def test_sif_weighs_frequent_words_less_than_mean():
    """"the" and "." count little under sif: the sentence vector moves towards the rare words."""
    r_mean = attncli.embed("the bank of the river .", pool="mean")
    r_sif = attncli.embed("the bank of the river .", pool="sif")
    river = r_sif.contextual[r_sif.tokens.index("river")]
    the = r_sif.contextual[0]
    cos = lambda a, b: float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))
    assert cos(r_sif.sentence, river) > cos(r_mean.sentence, river)
    assert cos(r_sif.sentence, the) < cos(r_mean.sentence, the)


# ---------------------------------------------------------------- Parquet


def test_parquet_holds_what_the_npz_holds(corpus, tmp_path):
    batch("-i", corpus, "-o", tmp_path / "out.npz", "--pool", "sif", "--with-static", "--with-attention")
    batch("-i", corpus, "-o", tmp_path / "out.parquet", "--pool", "sif", "--with-static", "--with-attention")
    z = np.load(tmp_path / "out.npz")
    t = pq.read_table(tmp_path / "out.parquet")
    assert t.column_names == ["line", "tokens", "vectors", "sentence", "static", "attention"]
    assert t.schema.field("vectors").type == pa.list_(pa.list_(pa.float32(), 50))
    assert t.column("line").to_pylist() == EMBEDDED
    tokens = npz_tokens(z)
    for i in range(3):
        a, b = z["offsets"][i], z["offsets"][i + 1]
        assert t.column("tokens")[i].as_py() == tokens[a:b]
        np.testing.assert_array_equal(np.array(t.column("vectors")[i].as_py(), np.float32), z["vectors"][a:b])
        np.testing.assert_array_equal(np.array(t.column("static")[i].as_py(), np.float32), z["static"][a:b])
        np.testing.assert_array_equal(np.array(t.column("sentence")[i].as_py(), np.float32), z["sentences"][i])
        n = b - a
        att = z["attention"][z["attention_offsets"][i]:z["attention_offsets"][i + 1]].reshape(n, n)
        np.testing.assert_array_equal(np.array(t.column("attention")[i].as_py(), np.float32), att)
    meta = json.loads(t.schema.metadata[b"attncli"])
    assert meta["config"] == json.loads(str(z["config"]))["config"] and meta["vectors"]["dim"] == 50


def test_polars_reads_the_parquet_file_as_it_is(corpus, tmp_path):
    """polars' own (Rust) reader: a standard file, vectors as fixed-size arrays."""
    batch("-i", corpus, "-o", tmp_path / "out.parquet", "--pool", "mean")
    df = pl.read_parquet(tmp_path / "out.parquet")
    assert df.columns == ["line", "tokens", "vectors", "sentence"]
    assert df["line"].to_list() == EMBEDDED and df["tokens"][0].to_list() == ["money", "bank", "grows"]
    assert df.schema["sentence"] == pl.Array(pl.Float32, 50)
    np.testing.assert_allclose(df["sentence"][1].to_numpy(), attncli.embed(LINES[2], pool="mean").sentence, rtol=1e-5, atol=1e-6)
    lengths = df.select(pl.col("vectors").list.len()).to_series().to_list()
    assert lengths == [3, 8, 7]


def _write_parquet(path: Path, lines: list[str], size: int, ids=None) -> None:
    """lines -> Parquet, a chunk of `size` lines at a time, with the input ids `ids` (the input
    side fills Chunk.line_ids; here they are set by hand)."""
    from attncli.writers import ParquetWriter

    emb = BatchEmbedder()
    with ParquetWriter(path, dim=emb.d_out, static_dim=50, **emb.meta()) as writer:
        for chunk in emb.embed_chunks(enumerate(lines, start=1), chunk_sentences=size):
            if ids is not None:
                chunk.line_ids = [ids[line - 1] for line in chunk.lines.tolist()]
            writer.write(chunk)


def test_parquet_is_written_a_row_group_per_chunk(tmp_path):
    lines = ["money bank grows", "the river bank", "bank", "she sat on the bank", "rates rose"]
    _write_parquet(tmp_path / "out.parquet", lines, 2)
    f = pq.ParquetFile(tmp_path / "out.parquet")
    assert f.metadata.num_row_groups == 3 and [f.metadata.row_group(i).num_rows for i in range(3)] == [2, 2, 1]
    assert f.read().column("line").to_pylist() == [1, 2, 3, 4, 5]


def test_a_chunk_is_cut_into_row_groups_of_row_group_sentences(tmp_path, monkeypatch):
    from attncli import writers

    monkeypatch.setattr(writers, "ROW_GROUP", 2)
    lines = ["money bank grows", "the river bank", "bank", "she sat on the bank", "rates rose"]
    _write_parquet(tmp_path / "out.parquet", lines, 5)
    f = pq.ParquetFile(tmp_path / "out.parquet")
    assert [f.metadata.row_group(i).num_rows for i in range(f.metadata.num_row_groups)] == [2, 2, 1]
    t = f.read()
    assert t.column("tokens").to_pylist()[2:4] == [["bank"], ["she", "sat", "on", "the", "bank"]]
    np.testing.assert_array_equal(np.array(t.column("vectors")[3].as_py(), np.float32), attncli.embed(lines[3]).contextual)


@pytest.mark.parametrize("ids, kind", [([7, 8, 9], pa.int64()), (["a", "b", 3], pa.string())])
def test_parquet_id_column_from_the_inputs_ids(tmp_path, ids, kind):
    _write_parquet(tmp_path / "out.parquet", ["money bank grows", "the river bank", "bank"], 2, ids)
    t = pq.read_table(tmp_path / "out.parquet")
    assert t.column_names[:2] == ["line", "id"] and t.schema.field("id").type == kind
    assert t.column("id").to_pylist() == (ids if kind == pa.int64() else ["a", "b", "3"])


def test_parquet_ids_that_change_type_midway_are_one_error_and_no_file(tmp_path):
    with pytest.raises(DataError, match=r"^line 3: id 'x' is not a whole number"):
        _write_parquet(tmp_path / "out.parquet", ["money bank grows", "the river bank", "bank"], 2, [1, 2, "x"])
    assert list(tmp_path.iterdir()) == []  # neither the file nor its temp


def test_empty_input_writes_an_empty_parquet_file_with_its_columns(tmp_path):
    (tmp_path / "empty.txt").write_bytes(b"")
    r = runner.invoke(app, ["batch", "-i", str(tmp_path / "empty.txt"), "-o", str(tmp_path / "out.parquet"), "-q"])
    assert r.exit_code == 0, r.stderr
    t = pq.read_table(tmp_path / "out.parquet")
    assert t.num_rows == 0 and t.column_names == ["line", "tokens", "vectors"]


# ---------------------------------------------------------------- the embedding projector


def projector_tensors(path: Path) -> list[list[float]]:
    """vectors.tsv as the projector parses it (tensorboard/plugins/projector/vz_projector/
    data-provider.ts, parseTensors): lines split on "\\n", blank ones skipped, values on "\\t";
    a first value that is not a number would be taken as a label."""
    rows = []
    for line in path.read_text(encoding="utf-8").split("\n"):
        line = line.strip()
        if not line:
            continue
        values = line.split("\t")
        float(values[0])  # a number: no label column
        rows.append([float(v) for v in values])
    assert len({len(r) for r in rows}) <= 1, "dimensions differ between rows"
    return rows


def projector_metadata(path: Path) -> tuple[list[str], list[dict]]:
    """metadata.tsv as the projector parses it (data-provider.ts, parseMetadata): blank lines
    skipped; the first line is a header of column names when it holds a tab, else every line
    is a "label"; values split on "\\t"."""
    columns, rows = None, []
    for line in path.read_text(encoding="utf-8").split("\n"):
        if not line.strip():
            continue
        if columns is None:
            if "\t" in line:
                columns = line.split("\t")
                continue
            columns = ["label"]
        values = line.split("\t")
        rows.append({c: (values[k] if k < len(values) and values[k] != "" else None) for k, c in enumerate(columns)})
    return columns, rows


def test_projector_rows_are_the_npz_token_vectors_with_their_labels(corpus, tmp_path):
    batch("-i", corpus, "-o", tmp_path / "out.npz")
    batch("-i", corpus, "-o", tmp_path / "proj", "--format", "projector")
    z = np.load(tmp_path / "out.npz")
    vectors = projector_tensors(tmp_path / "proj" / "vectors.tsv")
    columns, meta = projector_metadata(tmp_path / "proj" / "metadata.tsv")
    assert columns == ["token", "sentence", "line"]
    assert np.array_equal(np.array(vectors, np.float32), z["vectors"])  # shortest float32 text: exact
    assert [m["token"] for m in meta] == npz_tokens(z)
    assert [m["sentence"] for m in meta][:4] == ["money bank grows"] * 3 + [LINES[2]]
    assert [int(m["line"]) for m in meta] == np.repeat(z["lines"], np.diff(z["offsets"])).tolist()
    config = (tmp_path / "proj" / "projector_config.pbtxt").read_text()
    assert 'tensor_path: "vectors.tsv"' in config and 'metadata_path: "metadata.tsv"' in config


def test_projector_with_pool_has_a_point_per_sentence(corpus, tmp_path):
    batch("-i", corpus, "-o", tmp_path / "proj", "--format", "projector", "--pool", "sif")
    vectors = projector_tensors(tmp_path / "proj" / "vectors.tsv")
    columns, meta = projector_metadata(tmp_path / "proj" / "metadata.tsv")
    assert columns == ["sentence", "line"] and [m["line"] for m in meta] == ["1", "3", "5"]
    np.testing.assert_allclose(vectors[1], attncli.embed(LINES[2], pool="sif").sentence, rtol=1e-5, atol=1e-6)


def test_senses_projector_has_a_point_per_occurrence_with_its_sense(tmp_path):
    path = write(tmp_path, "c.txt", planted(10)[0])
    r = runner.invoke(app, ["senses", "bank", "-i", str(path), "-k", "2", "--projector", str(tmp_path / "p"), "--json"])
    assert r.exit_code == 0, r.stderr
    record = json.loads(r.stdout)
    columns, meta = projector_metadata(tmp_path / "p" / "metadata.tsv")
    assert columns == ["token", "sense", "line", "sentence"]
    assert [(int(m["line"]), int(m["sense"])) for m in meta] == [(o["line"], o["sense"]) for o in record["occurrences"]]
    assert len(projector_tensors(tmp_path / "p" / "vectors.tsv")) == record["n"] == 20


def test_projector_escapes_tabs_and_line_ends_so_rows_keep_their_columns(tmp_path):
    from attncli.writers import write_projector

    values = ["tab\there", "line\nend", "cr\rx", "back\\slash", "plain"]
    write_projector(tmp_path / "p", np.eye(5, 3, dtype=np.float32), {"token": values, "n": list(range(5))})
    columns, meta = projector_metadata(tmp_path / "p" / "metadata.tsv")
    assert columns == ["token", "n"] and len(meta) == 5 == len(projector_tensors(tmp_path / "p" / "vectors.tsv"))
    assert [m["token"] for m in meta] == ["tab\\there", "line\\nend", "cr\\rx", "back\\\\slash", "plain"]
    assert [m["n"] for m in meta] == ["0", "1", "2", "3", "4"]


def test_a_line_holding_a_tab_stays_one_row(tmp_path):
    path = write(tmp_path, "in.txt", ["money\tbank grows"])
    r = runner.invoke(app, ["batch", "-i", str(path), "-o", str(tmp_path / "p"), "-f", "projector", "-q"])
    assert r.exit_code == 0, r.stderr
    _, meta = projector_metadata(tmp_path / "p" / "metadata.tsv")
    assert [m["sentence"] for m in meta] == ["money\\tbank grows"] * 3 and [m["token"] for m in meta] == ["money", "bank", "grows"]


@pytest.mark.slow  # starts Dask's local processes
def test_dask_shards_carry_the_sentence_vectors(tmp_path):
    pytest.importorskip("dask.distributed", reason="dask is not installed: pip install -e '.[dask]'")
    write(tmp_path, "a.txt", ["money bank grows", "the river bank"])
    write(tmp_path, "b.txt", ["bank loans"])
    r = runner.invoke(app, ["batch", "-i", str(tmp_path / "*.txt"), "--engine", "dask", "-o", str(tmp_path / "out"),
                            "--pool", "sif", "-q"])
    assert r.exit_code == 0, r.stderr
    shards = [np.load(tmp_path / "out" / f"shard-0000{i}.npz") for i in range(2)]
    assert [z["sentences"].shape for z in shards] == [(2, 50), (1, 50)]
    np.testing.assert_allclose(shards[1]["sentences"][0], attncli.embed("bank loans", pool="sif").sentence, rtol=1e-5, atol=1e-6)


def test_several_inputs_name_their_file_in_parquet_and_projector(tmp_path):
    a = write(tmp_path, "a.txt", ["money bank grows", "", "the river"])
    b = write(tmp_path, "b.txt", ["bank loan"])
    r = runner.invoke(app, ["batch", "-i", str(a), "-i", str(b), "-o", str(tmp_path / "ab.parquet"), "-q"])
    assert r.exit_code == 0, r.stderr
    t = pq.read_table(tmp_path / "ab.parquet")
    assert [Path(f).name for f in t.column("file").to_pylist()] == ["a.txt", "a.txt", "b.txt"]
    assert t.column("line").to_pylist() == [1, 3, 1]
    r = runner.invoke(app, ["batch", "-i", str(a), "-i", str(b), "-o", str(tmp_path / "pj"), "-f", "projector", "--pool", "mean", "-q"])
    assert r.exit_code == 0, r.stderr
    rows = (tmp_path / "pj" / "metadata.tsv").read_text().splitlines()
    assert rows[0] == "sentence\tline\tfile" and rows[3].startswith("bank loan\t1\t") and rows[3].endswith("b.txt")
