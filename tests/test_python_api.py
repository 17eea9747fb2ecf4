"""The Python API as a notebook user meets it: every command at the top level, lists of texts,
sentence vectors, short reprs, errors that name the Python argument, and the stance on settings
files and environment variables (library calls read neither). The examples of docs/python.md
run here as doctests."""

from __future__ import annotations

import doctest
import inspect
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import attncli
from attncli.cli import app
from attncli.errors import DataError, Option, UsageError, option_style

from .test_senses import planted, write

ROOT = Path(__file__).resolve().parent.parent


def test_every_command_is_at_the_top_level():
    for name in ("embed", "compare", "explain", "senses", "pseudowords", "embed_batch", "get_vectors", "neighbors"):
        assert callable(getattr(attncli, name)), name
    for name in ("Config", "SenseOptions", "EmbedResult", "CompareResult", "Explanation", "SensesResult",
                 "PseudowordResult", "BatchError", "AttncliError", "DataError", "UsageError"):
        assert isinstance(getattr(attncli, name), type), name
    assert set(attncli.__all__) <= set(dir(attncli))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        attncli.nope


def test_module_and_function_of_the_same_name_both_work():
    """attncli.senses is the module attncli/senses.py and calls senses.senses (entry.py), in
    whatever order the two are reached."""
    from attncli.senses import SenseOptions, senses  # the module imported first, as the CLI does

    assert attncli.senses.SenseOptions is SenseOptions
    assert inspect.signature(attncli.senses) == inspect.signature(senses)
    assert inspect.signature(attncli.explain).parameters["word"].name == "word"


def test_import_attncli_loads_nothing_heavy():
    code = "import sys, attncli; print(sorted(m for m in sys.modules if m.startswith(('attncli', 'numpy'))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['attncli']"


def test_embed_a_list_goes_through_the_batch_engine_and_equals_one_at_a_time():
    texts = ["money bank grows", "she sat on the bank of the river"]
    many = attncli.embed(texts)
    assert [r.line for r in many] == [1, 2]
    for text, r in zip(texts, many):
        one = attncli.embed(text)
        assert r.tokens == one.tokens
        np.testing.assert_allclose(r.contextual, one.contextual, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(r.attention, one.attention, rtol=1e-6, atol=1e-6)
    assert attncli.embed(t for t in texts)[1].tokens == many[1].tokens  # any iterable
    assert attncli.embed([]) == []


def test_embed_a_list_with_a_bad_text_names_its_index():
    with pytest.raises(DataError, match=r"^texts\[1\]: empty sentence"):
        attncli.embed(["money bank grows", "", "bank"])
    with pytest.raises(DataError, match=r"^texts\[0\]: not a string but float"):
        attncli.embed([float("nan")])  # a gap in a dataframe's column
    with pytest.raises(UsageError, match="^text must be a string or a list of strings, not int"):
        attncli.embed(3)


def test_embed_batch_refuses_one_string():
    with pytest.raises(UsageError, match="^texts must be a list"):
        list(attncli.embed_batch("money bank grows"))


@pytest.mark.parametrize("pool", ["mean", "sif"])
def test_pooled_sentence_vector_by_hand(pool):
    from attncli.pipeline import key_probability, vectors_for

    r = attncli.embed("the bank of the river", pool=pool)
    if pool == "mean":
        want = r.contextual.astype(np.float64).mean(axis=0)
    else:
        vec = vectors_for(r.config)
        p = key_probability(vec, np.array([vec.index[t] for t in r.tokens]))
        w = r.config.prior_a / (r.config.prior_a + p)  # "the" weighs far less than "river"
        assert w[0] < 0.01 and w[4] > 0.5
        want = (w[:, None] * r.contextual).sum(axis=0) / w.sum()
    np.testing.assert_allclose(r.sentence, want, rtol=1e-5, atol=1e-6)
    batch = attncli.embed(["money grows", "the bank of the river"], pool=pool)[1]
    np.testing.assert_allclose(batch.sentence, r.sentence, rtol=1e-5, atol=1e-6)
    assert attncli.embed("the bank of the river").sentence is None


def test_bad_pool_names_the_argument():
    with pytest.raises(UsageError, match="^pool must be one of mean, sif, not 'max'"):
        attncli.embed("money bank grows", pool="max")


def test_reprs_are_short_and_say_what_they_hold(tmp_path):
    r = attncli.embed("the quick brown fox jumps over the lazy dog")
    text = repr(r)
    assert text.count("\n") == 3 and len(text) < 400  # the dataclass repr was 18,400 characters
    assert "EmbedResult: 'the quick brown fox" in text and "tokens (9): the quick brown fox" in text
    assert "attention (9, 9)" in text and "contextual (9, 50)" in text
    c = attncli.compare(["money bank grows", "bank river flows"], "bank")
    assert repr(c).startswith("CompareResult: 'bank' in 2 sentences; contextual cosine 0.49 (static 1.00)")
    assert len(repr(c)) < 400
    e = attncli.explain("money bank grows", "bank")
    assert repr(e).startswith("Explanation of 'bank' (token 2 of 3) in 'money bank grows'\n  weights: money 0.47, bank 0.00, grows 0.53")
    corpus = write(tmp_path, "c.txt", planted(10)[0])
    s = attncli.senses("bank", corpus, options=attncli.SenseOptions(k=2))
    assert repr(s).startswith("SensesResult: 'bank' in 1 file (20 lines): 20 occurrences, 2 senses\n  1: 10 (50%)")
    long = attncli.embed(" ".join(["bank"] * 300))
    assert len(repr(long)) < 500 and "(+288)" in repr(long)


def test_each_result_has_its_html_view():
    r = attncli.embed("money bank grows")
    html = r._repr_html_()
    assert html.startswith("<style>") and 'class="attncli attncli-embed"' in html
    assert 'id="headview"' not in html and "<html" not in html  # a fragment, no ids shared with other views
    assert html != attncli.embed("money bank grows")._repr_html_()  # each view's root has its own id
    for result, kind in ((attncli.compare(["money bank grows", "bank river flows"], "bank"), "compare"),
                         (attncli.explain("money bank grows", "bank"), "explain")):
        assert f'class="attncli attncli-{kind}"' in result._repr_html_()


def test_errors_name_the_python_argument_and_the_cli_its_flag():
    with pytest.raises(UsageError) as e:
        attncli.embed("money bank grows", temperature=0)
    assert str(e.value) == "temperature must be in [1e-06, 1e+06], not 0"
    with pytest.raises(UsageError) as e:
        attncli.Config(weights="wic")
    assert str(e.value) == "weights needs mode='qkv' (simple mode has no parameters)"
    with option_style("cli"):
        assert str(e.value) == "--weights needs --mode qkv (simple mode has no parameters)"
    r = CliRunner().invoke(app, ["embed", "money bank grows", "--weights", "wic", "--mode", "simple"])
    assert r.exit_code == 2 and r.stderr == "attncli: error: --weights needs --mode qkv (simple mode has no parameters)\n"
    with pytest.raises(UsageError, match="^word must be a single token"):
        attncli.compare(["money bank grows", "bank river flows"], "bank river")
    with pytest.raises(UsageError, match="^occurrence counts from 1"):
        attncli.explain("money bank grows", "bank", occurrence=0)


def test_error_parts_survive_pickling():
    import pickle

    e = pickle.loads(pickle.dumps(UsageError(Option("heads", value=3), ": too many")))
    assert str(e) == "heads=3: too many"
    with option_style("cli"):
        assert str(e) == "--heads 3: too many"


def test_settings_files_and_environment_are_for_the_cli_only(tmp_path, monkeypatch, word2vec_file):
    """The stance (docs/python.md): library calls read no settings file and no ATTNCLI_*
    variable; user_config() asks for what the CLI starts from."""
    import os

    settings = Path(os.environ["XDG_CONFIG_HOME"]) / "attncli" / "config.json"
    settings.parent.mkdir(parents=True)
    settings.write_text(json.dumps({"temperature": 0.5, "center": 0}))
    monkeypatch.setenv("ATTNCLI_VECTORS", str(word2vec_file))
    r = attncli.embed("money bank grows")
    assert (r.config.temperature, r.config.center, r.config.vectors) == (1.0, 10_000, "default")
    cfg = attncli.user_config()
    assert (cfg.temperature, cfg.center, cfg.vectors, cfg.trust) == (0.5, 0, str(word2vec_file), False)
    assert attncli.user_config(temperature=2.0).temperature == 2.0  # changes rank above both
    cli = CliRunner().invoke(app, ["embed", "bank", "--json", "--oov", "zero"])
    assert cli.exit_code == 0, cli.stderr
    assert json.loads(cli.stdout)["config"]["temperature"] == 0.5  # the CLI honours both
    assert json.loads(cli.stdout)["config"]["vectors"] == str(word2vec_file)
    monkeypatch.setenv("ATTNCLI_TRUST", "yes")
    assert attncli.user_config().trust is True
    monkeypatch.setenv("ATTNCLI_TRUST", "perhaps")
    with pytest.raises(UsageError, match="ATTNCLI_TRUST='perhaps' is not a boolean"):
        attncli.user_config()


def test_senses_and_pseudowords_take_one_path_or_a_list(tmp_path):
    corpus = write(tmp_path, "c.txt", planted(10)[0])
    one = attncli.senses("bank", corpus, options=attncli.SenseOptions(k=2))
    many = attncli.senses("bank", [str(corpus)], options=attncli.SenseOptions(k=2))
    assert len(one.occurrences) == len(many.occurrences) == 20


def test_the_docs_examples_run():
    """docs/python.md's >>> examples, as doctests (the numbers are real: they must not drift)."""
    failures, tried = doctest.testfile(str(ROOT / "docs" / "python.md"), module_relative=False,
                                       optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert tried > 10 and failures == 0


def test_the_package_docstring_runs():
    failures, tried = doctest.testmod(attncli, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert tried >= 3 and failures == 0
