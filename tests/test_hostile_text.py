"""Text at its edges (docs/errors.md, "Text"): decomposed Unicode (NFD "café" is the vocabulary's
NFC "café", on every path: one sentence, batch's fast and slow paths, a corpus), and hints that
name only options the command has.
"""

from __future__ import annotations

import json
import unicodedata

import pytest
from typer.testing import CliRunner

from attncli.cli import app
from attncli.tokens import composed, lines_token_texts, token_texts, tokenize

from .test_hostile import assert_error

NFD = unicodedata.normalize("NFD", "le café du théâtre à côté")  # e + U+0301, a + U+0300, ...


def cli(*args, input=None):
    return CliRunner().invoke(app, [str(a) for a in args], input=input)


def test_decomposed_text_gives_the_composed_tokens_with_surfaces_from_the_text_as_given():
    tokens = tokenize(NFD)
    assert [t.text for t in tokens] == ["le", "café", "du", "théâtre", "à", "côté"]
    assert [NFD[t.start:t.start + len(t.surface)] for t in tokens] == [t.surface for t in tokens]
    assert "".join(t.surface for t in tokens) == NFD.replace(" ", "")


def test_every_tokenizer_path_composes_alike():
    assert token_texts(NFD) == [t.text for t in tokenize(NFD)] == lines_token_texts([NFD, NFD])[:6]
    assert lines_token_texts(["money bank", NFD])[3:] == ["le", "café", "du", "théâtre", "à", "côté"]


@pytest.mark.parametrize("text, nfc", [("e\u0301\u0301", "\u00e9\u0301"), ("\u0bc6\u0bbe", "\u0bca"), ("\u1100\u1161", "\uac00"),
                                       ("\u0301x", "\u0301x")])
def test_composed_maps_every_character_back(text, nfc):
    out, where = composed(text)
    assert out == nfc == unicodedata.normalize("NFC", text)
    assert len(where) == len(out) + 1 and where[-1] == len(text) and where == sorted(where)


def test_property_the_fast_paths_equal_tokenize_on_decomposed_text():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    chars = st.sampled_from(list("ab .'-\u2019") + ["\u0301", "\u0300", "\u0308", "\u0327", "e", "\u1100", "\u1161", "\u0bc6", "\u0bbe",
                                                      "Å", "\u212b", "ﬁ"])
    texts = st.lists(chars, max_size=20).map("".join)

    @settings(max_examples=300, deadline=None, derandomize=True)
    @given(text=texts)
    def run(text):
        slow = [t.text for t in tokenize(text)]
        assert token_texts(text) == slow
        assert lines_token_texts([text]) == slow
        assert all(text[t.start:t.start + len(t.surface)] == t.surface for t in tokenize(text))

    run()


@pytest.mark.parametrize("form", ["NFC", "NFD"])
def test_embed_and_batch_find_cafe_however_it_is_written(form):
    text = unicodedata.normalize(form, "the café")
    one = json.loads(cli("embed", text, "--json").stdout)
    assert one["tokens"] == ["the", "café"] and one["oov"] == []
    r = cli("batch", "-i", "-", input=(text + "\n") * 3)
    assert r.exit_code == 0, r.output
    assert [json.loads(line)["tokens"] for line in r.stdout.splitlines()] == [["the", "café"]] * 3


def test_senses_finds_decomposed_occurrences(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join([unicodedata.normalize("NFD", "a café by the river"), "the café sells coffee"] * 3) + "\n")
    r = cli("senses", "café", "-i", corpus, "--json", "-k", "1")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["n"] == 6


# ---------------------------------------------------------------- hints name options the command has


LONG = " ".join(["bank money river"] * 1700)  # 5,100 tokens: 26,010,000 attention weights


def test_the_like_example_too_long_names_no_option_senses_lacks(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("money in the bank\nthe river bank\n")
    line = assert_error(cli("senses", "bank", "-i", corpus, "--like", LONG), 1, "--like", "5,100 tokens", "one sentence")
    assert "--max-attention-cells" not in line


def test_compare_has_the_option_its_hint_names():
    line = assert_error(cli("compare", LONG, "river bank", "-w", "bank"), 1, "sentence 1", "--max-attention-cells 25,000,000")
    assert "5,100 tokens" in line
    r = cli("compare", "money bank grows", "river bank", "-w", "bank", "--max-attention-cells", "8")
    assert_error(r, 1, "sentence 1", "--max-attention-cells 8")
