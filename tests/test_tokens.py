"""Tokenizing the way GloVe's vocabulary was tokenized (PTB style, lowercased)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attncli.tokens import _TOKEN, lines_token_texts, spans, token_texts, tokenize, word_spans
from attncli.vectors import load_default


@pytest.fixture(scope="module")
def known():
    return load_default().index.__contains__


def texts(text, known=None):
    return [t.text for t in tokenize(text, known)]


@pytest.mark.parametrize(
    "text, want",
    [
        ("bank's", ["bank", "'s"]),
        ("The Bank's money", ["the", "bank", "'s", "money"]),
        ("don't", ["do", "n't"]),
        ("I can't, won't", ["i", "ca", "n't", ",", "wo", "n't"]),
        ("they're we've you'll he'd I'm", ["they", "'re", "we", "'ve", "you", "'ll", "he", "'d", "i", "'m"]),
        ("The U.S. bank", ["the", "u.s.", "bank"]),
        ("e.g. this", ["e.g.", "this"]),
        ("3.5 and 1,000 at 10:30", ["3.5", "and", "1,000", "at", "10:30"]),
        ("money, bank; grows!", ["money", ",", "bank", ";", "grows", "!"]),
        ("(bank)", ["(", "bank", ")"]),
        ("wait... what -- no", ["wait", "...", "what", "--", "no"]),
        ("o'neill", ["o'neill"]),
        ("well-known", ["well-known"]),
        ("snake_case", ["snake", "_", "case"]),
        ("Bank\u2019s \u201cmoney\u201d", ["bank", "'s", '"', "money", '"']),  # typographic quotes made plain
        ("", []),
        ("   \t\n ", []),
    ],
)
def test_tokenize_without_vocabulary(text, want):
    assert texts(text) == want


def test_surface_forms_keep_case_and_offsets():
    text = "The BANK\u2019s Money-Bank grows"
    toks = tokenize(text)
    for t in toks:
        assert text[t.start : t.start + len(t.surface)] == t.surface
        assert t.text == t.surface.lower().replace("\u2019", "'")
    assert [t.surface for t in toks] == ["The", "BANK", "\u2019s", "Money-Bank", "grows"]


def test_mr_merged_when_known_and_not_sentence_final(known):
    assert known("mr.")
    assert texts("Mr. Smith went to the bank.", known) == ["mr.", "smith", "went", "to", "the", "bank", "."]
    assert texts("Mr. Smith", None) == ["mr", ".", "smith"]  # without a vocabulary, no merge
    # sentence-final period: split, even after a known abbreviation
    assert texts("I met Mr.", known) == ["i", "met", "mr", "."]
    assert texts("money grows.", known) == ["money", "grows", "."]
    # "bank." is not a vocabulary word: the period stays apart mid-text too
    assert not known("bank.")
    assert texts("the bank. money", known) == ["the", "bank", ".", "money"]
    # not adjacent: no merge
    assert texts("Mr . Smith", known) == ["mr", ".", "smith"]


def test_merged_token_keeps_surface(known):
    toks = tokenize("Dr. Who", known)
    assert (toks[0].text, toks[0].surface, toks[0].start) == ("dr.", "Dr.", 0)


def test_unknown_hyphenated_words_are_split(known):
    assert known("well-known") and not known("money-bank")
    assert texts("a well-known money-bank", known) == ["a", "well-known", "money", "-", "bank"]
    toks = tokenize("Big Money-Bank", known)
    assert [(t.text, t.surface, t.start) for t in toks] == [
        ("big", "Big", 0), ("money", "Money", 4), ("-", "-", 9), ("bank", "Bank", 10)
    ]
    # without a vocabulary nothing is split
    assert texts("money-bank") == ["money-bank"]


def test_clitics_are_in_the_glove_vocabulary(known):
    """The split follows the vocabulary: every piece of these cases is a GloVe word."""
    for text in ("bank's", "don't", "can't", "U.S.", "Mr. Smith"):
        for tok in texts(text, known):
            assert known(tok), tok


def test_word_spans_map_whitespace_words_to_tokens():
    text = "The bank's  money-grows, U.S."
    toks = tokenize(text)
    assert [t.text for t in toks] == ["the", "bank", "'s", "money-grows", ",", "u.s."]
    assert word_spans(text, toks) == [[0], [1, 2], [3, 4], [5]]


# ------------------------------------------------------------------ fast paths: the same tokens

# Characters that decide where the rules cut: cases, non-ASCII letters (İ lowers to two
# characters; ſ and the Kelvin sign K match s and k under IGNORECASE), digits, every mark a
# rule names, typographic quotes, spaces and line ends of several kinds.
ALPHABET = "abnstdmlrveAZNST" + "éİıſKß" + "0129" + "'’‘“”\".,:;!?()`-_@#" + "  \t\n\r\x0b\x1c\x85\u2028"


def rules_tokens(text: str) -> list[str]:
    """The rules alone, without the fast alternatives: what _TOKEN must give."""
    import re

    from attncli.tokens import _RULES

    return re.findall(re.compile(_RULES, re.VERBOSE | re.IGNORECASE), text)


CORPUS_LIKE = [
    "The bank's rates rose 3.5% in 1,000 days , didn't they ? U.S. banks -- and e.g. A.M. trading ...",
    "Mr. Smith's well-known o'neill can't won't `` quoted '' 10:30 x.y. a. ab. abc.d n't 'S 'Re",
    "İstanbul’s “quote” ſs K word_word rock'n'roll -a a- --- .... 'tis '",
    "",
    "\n\n",
]


@given(st.text(alphabet=ALPHABET, max_size=60))
@settings(max_examples=600, deadline=None)
def test_the_fast_pattern_gives_the_rules_tokens(text):
    assert _TOKEN.findall(text) == rules_tokens(text)


@pytest.mark.parametrize("text", CORPUS_LIKE)
def test_the_fast_pattern_gives_the_rules_tokens_on_real_shapes(text):
    assert _TOKEN.findall(text) == rules_tokens(text) and _TOKEN.findall(text.lower()) == rules_tokens(text.lower())


@given(st.lists(st.text(alphabet=ALPHABET.replace("\n", ""), max_size=30), max_size=6))
@settings(max_examples=400, deadline=None)
def test_many_lines_in_one_pass_split_as_each_line_alone(texts):
    tokens = lines_token_texts(texts)
    per_line, line = [], []
    for t in tokens:
        if t == "\n":
            per_line.append(line)
            line = []
        else:
            line.append(t)
    per_line.append(line)
    assert per_line == [token_texts(t) for t in texts] if texts else tokens == []


# ASCII with what the repairs look at: periods after words known with one, hyphens in known
# and unknown words, WikiText's " @-@ ", and every kind of ASCII space (\x1c-\x1f included).
ASCII = "abmrsuxyAMRS019'\".,:;!?()`-_@# \t\n\r\x0b\x0c\x1c\x1f"
REPAIRS = {"mr.", "u.s.", "a.", "mr", "x-y", "a-b", "ab", "-"}


def assert_spans_are_tokenize_s(text, known, lower, split):
    got = spans(text, known, lower=lower, split=split)
    toks = tokenize(text, known, lower=lower, split=split)
    assert got is not None
    texts, starts, lengths = got
    assert (texts, starts.tolist(), lengths.tolist()) == (
        [t.text for t in toks], [t.start for t in toks], [len(t.surface) for t in toks])


@given(st.text(alphabet=ASCII, max_size=60), st.booleans(), st.sampled_from(["glove", "whitespace"]))
@settings(max_examples=600, deadline=None)
def test_spans_are_tokenize_s_texts_and_offsets(text, lower, split):
    """senses finds a word's occurrences with spans (no Token per token): the same tokens,
    repairs included, and each surface where tokenize puts it."""
    assert_spans_are_tokenize_s(text, REPAIRS.__contains__, lower, split)


@given(st.text(alphabet=ALPHABET + "\u3000\u200b\u00a0é\u0301", max_size=60), st.booleans(), st.sampled_from(["glove", "whitespace"]))
@settings(max_examples=600, deadline=None)
def test_spans_are_tokenize_s_on_any_nfc_text(text, lower, split):
    import unicodedata

    if unicodedata.is_normalized("NFC", text):
        assert_spans_are_tokenize_s(text, REPAIRS.__contains__, lower, split)
    else:
        assert spans(text, REPAIRS.__contains__) is None  # tokenize() then: it maps composed offsets back


@pytest.mark.parametrize("text", CORPUS_LIKE + [" = Mr. Smith = ", " the 1 @,@ 000 state @-@ of @-@ the @-@ art . ",
                                                "a.b. mr.mr. . .", "Gaspé’s U.S. İzmir naïve café\u2028Mr. Ng-Él"])
@pytest.mark.parametrize("lower", [True, False])
def test_spans_are_tokenize_s_on_real_shapes_with_the_vocabulary(text, lower, known):
    assert_spans_are_tokenize_s(text, known, lower, "glove")


def test_many_lines_with_a_line_end_inside_a_text_are_refused():
    assert lines_token_texts(["a\nb", "c"]) is None
    assert lines_token_texts(["a", "b"]) == ["a", "\n", "b"]


def test_lowering_a_whole_text_keeps_every_character_s_class():
    """lines_token_texts lowers a whole non-ASCII text before tokenizing when no character's
    lower case is longer (only İ is): valid because lowering never changes whether a character
    is a letter, a digit, a word character or a space."""
    import re
    import sys

    classes = [re.compile(p) for p in (r"[^\W_]", r"[^\W\d_]", r"\d", r"\S")]
    for cp in range(sys.maxunicode + 1):
        c = chr(cp)
        low = c.lower()
        if low != c and len(low) == 1:
            assert [bool(p.match(c)) for p in classes] == [bool(p.match(low)) for p in classes], hex(cp)
