"""Text -> tokens, the way GloVe's vocabulary was tokenized (Stanford/PTB style, lowercased).

"Bank's" -> "bank" "'s";  "don't" -> "do" "n't";  "can't" -> "ca" "n't";  "U.S." -> "u.s.";
"well-known" stays whole;  "3.5" and "1,000" stay whole;  punctuation splits off.
Each token keeps its surface form (the original characters) and where it starts, for display
and for mapping a whitespace-token index (WiC) onto our tokens.

Two choices change this (TOKENIZERS, `lower`): "whitespace" splits at whitespace only, for
text that is already tokenized (WikiText's `<unk>` and `@-@` stay one token); `lower=False`
keeps each token's case, for cased vocabularies (pipeline.Lexicon decides, from --case).
"""

from __future__ import annotations

import functools
import itertools
import re
from typing import Callable, NamedTuple

_CLITICS = r"(?:s|re|ve|ll|d|m)\b"
_WORD = r"[^\W_]+"
# The rules: at each position, the first alternative that matches is the token.
_RULES = rf"""
      {_WORD}(?=n't\b)                              # do|n't, ca|n't, wo|n't
    | n't\b
    | '{_CLITICS}                                   # 's 're 've 'll 'd 'm
    | (?:[^\W\d_]\.){{2,}}                           # u.s.  a.m.  e.g.
    | \d+(?:[.,:]\d+)+                              # 3.5  1,000  10:30
    | {_WORD}(?:-{_WORD})*(?:'(?!{_CLITICS}){_WORD}(?:-{_WORD})*)*   # words, well-known, o'neill
    | \.{{2,}} | -{{2,}} | `` | ''                  # ...  --  PTB quotes
    | \S                                            # any other single character
"""
# The same tokens, about twice as fast: a token starts at a non-space (so the engine skips spaces
# without trying each rule), and the commonest tokens, a plain word followed by a space or a
# punctuation mark that cannot extend it, and a lone , ; : ! ? ( ) ", are matched before the
# rules, which would give them the same way (a rule that comes first needs a ', -, . or a digit
# where these need anything else; tests/test_tokens.py checks the equality on random text).
_COMMON = r"""
      [a-z]++(?![^\W_]|['.\-])                       # a word no rule extends (IGNORECASE: any case)
    | [a-z]{2,}+(?=\.)                               # ... before a ".": only u.s.-style needs one letter
    | [,;:!?()"]
"""
_TOKEN = re.compile(rf"(?=\S)(?:{_COMMON}|{_RULES})", re.VERBOSE | re.IGNORECASE)
_QUOTE_PAIRS = (("\u2019", "'"), ("\u2018", "'"), ("\u201c", '"'), ("\u201d", '"'))
_QUOTES = str.maketrans(dict(_QUOTE_PAIRS))


TOKENIZERS = ("glove", "whitespace")  # the rules above; split at whitespace only (already tokenized)
_WHITESPACE = re.compile(r"\S+")


class Token(NamedTuple):
    text: str  # normalized: lowercase, typographic quotes made plain; what the vocabulary holds
    surface: str  # as written
    start: int  # character offset in the input


def composed(text: str) -> tuple[str, list[int]]:
    """`text` in Unicode NFC ("cafe" + U+0301 -> "café", as the vocabulary writes it), and for
    each character of the result and for its end, the offset in `text` it comes from. Composed
    run by run: a character and what composes with it (combining marks, a Hangul vowel, a
    Tamil vowel sign), so that every offset is exact. Only text that is not NFC needs it."""
    import unicodedata

    out: list[str] = []
    where: list[int] = []
    i, n = 0, len(text)
    while i < n:
        j = i + 1
        while j < n and (unicodedata.combining(text[j]) or len(unicodedata.normalize("NFC", text[j - 1:j + 1])) < 2):
            j += 1
        run = unicodedata.normalize("NFC", text[i:j])
        out.append(run)
        # the first character of the run starts it; what is left uncomposed (marks) is its last characters
        where += [i, *range(j - len(run) + 1, j)] if len(run) <= j - i else [i] * len(run)
        i = j
    where.append(n)
    return "".join(out), where


def nfc(text: str) -> str:
    """`text` as tokens see it: NFC (see composed); ASCII and NFC text as it is, at no cost."""
    if text.isascii():
        return text
    import unicodedata

    return text if unicodedata.is_normalized("NFC", text) else composed(text)[0]


def tokenize(text: str, known: Callable[[str], bool] | None = None, *, lower: bool = True,
             split: str = "glove") -> list[Token]:
    """Split `text` into tokens. With `known` (is this word in the vocabulary?), two repairs
    follow the vocabulary: "mr" "." becomes "mr." when "mr." is known and the period does not
    end the text, and an unknown hyphenated word is split at its hyphens ("money-bank" ->
    "money" "-" "bank"). `lower=False` keeps the case; split="whitespace" takes each
    whitespace-separated word as one token, as it is (no repairs, no quote changes). Text not
    in NFC (a decomposed "café") is tokenized composed; each token's surface and start still
    refer to `text` as given."""
    if nfc(text) is not text:
        whole, where = composed(text)
        return [Token(t.text, text[where[t.start]:where[t.start + len(t.surface)]], where[t.start])
                for t in _tokenize(whole, known, lower, split)]
    return _tokenize(text, known, lower, split)


def _tokenize(text: str, known: Callable[[str], bool] | None, lower: bool, split: str) -> list[Token]:
    if split == "whitespace":
        return [Token(m.group().lower() if lower else m.group(), m.group(), m.start()) for m in _WHITESPACE.finditer(text)]
    plain = text.translate(_QUOTES)  # same length: offsets stay valid
    # The tokens and the text between them in two C-speed passes (findall, split), their starts
    # summed from the lengths: the same as a finditer loop, without a Python call per match.
    found = _TOKEN.findall(plain)
    lengths = [0] + [len(g) + len(t) for g, t in zip(_TOKEN.split(plain), found)]
    starts = [a - len(t) for a, t in zip(itertools.accumulate(lengths), [""] + found)][1:]
    texts = list(map(str.lower, found)) if lower else found
    if known is None or ("." not in plain and "-" not in plain):  # no repair can apply
        surfaces = found if plain == text else [text[a:a + len(t)] for a, t in zip(starts, found)]
        return list(map(Token, texts, surfaces, starts))
    texts, starts, lengths = _repaired(texts, starts, list(map(len, found)), known)
    return [Token(t, text[a:a + n], a) for t, a, n in zip(texts, starts, lengths)]


def _repaired(texts: list[str], starts: list[int], lengths: list[int],
              known: Callable[[str], bool]) -> tuple[list[str], list[int], list[int]]:
    """tokenize()'s two repairs on the rules' tokens, given as parallel lists (each token's
    text, where its surface starts, how long it is): a "." right after a word known with it
    joins the word, unless it ends the text; an unknown hyphenated word is split at its hyphens."""
    out, at, size = [], [], []
    last = len(texts) - 1
    done = 0  # texts[:done] are in out; the others up to a candidate are copied as they are
    for i in [i for i, t in enumerate(texts) if t == "." or "-" in t and len(t) > 1]:  # the tokens a repair may touch
        out += texts[done:i]
        at += starts[done:i]
        size += lengths[done:i]
        done = i + 1
        text = texts[i]
        if text == "." and out and i != last and at[-1] + size[-1] == starts[i] and known(out[-1] + "."):
            out[-1] += "."
            size[-1] += 1
        elif "-" in text and len(text) > 1 and not known(text):
            pos = starts[i]
            for piece in re.split(r"(-)", text):
                if piece:
                    out.append(piece)
                    at.append(pos)
                    size.append(len(piece))
                    pos += len(piece)
        else:
            out.append(text)
            at.append(starts[i])
            size.append(lengths[i])
    return out + texts[done:], at + starts[done:], size + lengths[done:]


def word_spans(text: str, tokens: list[Token]) -> list[list[int]]:
    """For each whitespace-separated word of `text`, the indices of the tokens inside it.
    WiC gives a target as the index of a whitespace word; this maps it onto our tokens."""
    spans, t = [], 0
    for m in re.finditer(r"\S+", text):
        inside = []
        while t < len(tokens) and tokens[t].start < m.end():
            if tokens[t].start >= m.start():
                inside.append(t)
            t += 1
        spans.append(inside)
    return spans


def token_texts(text: str, known: Callable[[str], bool] | None = None, *, lower: bool = True,
                split: str = "glove") -> list[str]:
    """`[t.text for t in tokenize(text, known, lower=lower, split=split)]`, about twice as fast:
    for batch embedding, which needs the normalized tokens only. Falls back to tokenize() when a
    repair may apply (an unknown hyphenated word; a "." inside the text after a word that is
    known with it)."""
    ascii = text.isascii()
    if not ascii:
        text = nfc(text)
    if split == "whitespace":
        return text.lower().split() if lower else text.split()
    if not lower:
        texts = _TOKEN.findall(text.translate(_QUOTES))
    elif ascii:  # no typographic quotes; ASCII lowercasing keeps lengths, the pattern ignores case
        texts = _TOKEN.findall(text.lower())
    else:
        texts = [t.lower() for t in _TOKEN.findall(text.translate(_QUOTES))]
    if known is None or not _may_repair(text, texts, known):
        return texts
    return [t.text for t in tokenize(text, known, lower=lower)]


def _may_repair(text: str, texts: list[str], known: Callable[[str], bool]) -> bool:
    """Whether a repair of tokenize() may change `texts` (the rules' tokens of `text`): an
    unknown hyphenated word, or a "." inside the text after a word that is known with it. A
    superset of the repairs made (the "." need not touch the word): False means none applies."""
    if "-" in text and any("-" in t and len(t) > 1 and not known(t) for t in texts):
        return True
    last = len(texts) - 1
    i = texts.index(".") if "." in texts else last
    while 0 <= i < last:
        if i > 0 and known(texts[i - 1] + "."):
            return True
        i = texts.index(".", i + 1) if "." in texts[i + 1 :] else last
    return False


@functools.cache
def _space():
    """(0x3002,) bool: for each character up to U+3000, whether \\s and str.split() take it for
    whitespace; then one False, for every character above (none is whitespace)."""
    import numpy as np

    return np.array([chr(i).isspace() for i in range(0x3001)] + [False])


def spans(text: str, known: Callable[[str], bool] | None = None, *, lower: bool = True,
          split: str = "glove"):
    """(texts, starts, lengths) of tokenize()'s tokens, the last two int64 arrays (where each
    token's surface starts in `text`, how long it is), without a Token per token; None for a
    text that is not NFC (tokenize() then). No token holds whitespace and every other character
    is in one (the last rule takes any), so the rules' token k starts at the text's non-space
    character numbered by the length of the tokens before it; the repairs then work on the
    lists, as in tokenize()."""
    import numpy as np

    if text.isascii():
        codes = np.frombuffer(text.encode("ascii"), np.uint8)
        if split == "whitespace":
            found = text.split()
            texts = text.lower().split() if lower else found
        else:  # ASCII lowercasing keeps lengths, and the pattern ignores case
            texts = found = _TOKEN.findall(text.lower() if lower else text)
    else:
        if nfc(text) is not text:
            return None
        codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), np.uint32)
        found = text.split() if split == "whitespace" else _TOKEN.findall(text.translate(_QUOTES))
        texts = list(map(str.lower, found)) if lower else found
    space = _space()[codes if codes.dtype == np.uint8 else np.minimum(codes, 0x3001)]  # (chars,)
    lengths = np.fromiter(map(len, found), np.int64, len(found))  # (n,) the surfaces'
    starts = np.flatnonzero(~space)[np.cumsum(lengths) - lengths]
    if split == "whitespace" or known is None or ("." not in text and "-" not in text) \
            or not _may_repair(text, texts, known):
        return texts, starts, lengths
    texts, starts, lengths = _repaired(texts, starts.tolist(), lengths.tolist(), known)
    return texts, np.array(starts, np.int64), np.array(lengths, np.int64)


# The same tokens, and a "\n" token where a line ends: many texts tokenized in one pass.
_TOKEN_OR_LINE_END = re.compile(rf"(?=\S|\n)(?:{_COMMON}|{_RULES}|\n)", re.VERBOSE | re.IGNORECASE)


_WORD_OR_LINE_END = re.compile(r"[^\s]+|\n")


def lines_token_texts(texts: list[str], *, lower: bool = True, split: str = "glove") -> list[str] | None:
    """The normalized tokens of many texts in one regex pass, with a "\n" token between one text's
    tokens and the next's: `token_texts(text)` for each text, without the repairs (the caller
    finds the texts a repair may apply to). None when a text itself holds a "\n".

    No token spans a line end and no part of the pattern looks past one, so the texts joined by
    "\n" split exactly as each text alone (tests/test_tokens.py checks it)."""
    if not texts:
        return []
    joined = "\n".join(texts)
    if joined.count("\n") != len(texts) - 1:
        return None
    ascii = joined.isascii()
    if not ascii:
        joined = nfc(joined)  # composing never adds or removes a line end
    if split == "whitespace":
        return _WORD_OR_LINE_END.findall(joined.lower() if lower else joined)
    if not lower:
        for quote, plain in _QUOTE_PAIRS:
            joined = joined.replace(quote, plain)
        return _TOKEN_OR_LINE_END.findall(joined)
    if ascii:
        return _TOKEN_OR_LINE_END.findall(joined.lower())
    for quote, plain in _QUOTE_PAIRS:
        joined = joined.replace(quote, plain)
    lower = joined.lower()
    if len(lower) == len(joined):  # each character lowered to one of the same class: the same tokens, lowered
        return _TOKEN_OR_LINE_END.findall(lower)
    return [t.lower() for t in _TOKEN_OR_LINE_END.findall(joined)]  # "İ" -> "i̇" would split a word


# C0 and C1 control characters, DEL, and the Unicode line/paragraph separators and bidi
# overrides: a terminal would act on them (an ESC starts a colour or cursor sequence).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def has_control(text: str) -> bool:
    """Whether `text` holds a character visible() escapes."""
    return _CONTROL.search(text) is not None


def visible(text: str) -> str:
    """`text` with every control character written as an escape (ESC -> "\\x1b"), for tables
    and messages: what the user sees is the text, never an instruction to the terminal."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}", text)
