"""Options shared by several commands, declared once: the choices (enums built from the lists
the library validates against), the vector and attention options every embedding command takes
(added by @config_options and handed over as one Config), and the output-file options.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..attention import SIMILARITIES
from ..errors import DataError
from ..pipeline import CASES, INT64_MAX, MODES, OOV_POLICIES, POSITIONS, PRIORS
from ..tokens import TOKENIZERS
from ..vectors import FORMATS, UNICODE_ERRORS


def bounded(low: int = 0) -> dict:
    """typer.Option keywords of an integer option from `low` to 2^63 - 1, what JSON readers
    and int64 arrays hold (typer.Option(**bounded(1), ...)): anything else is a usage error
    naming the option (exit 2). The help shows the lower bound."""
    return {"min": low, "callback": _below_2_63}


def _below_2_63(param: typer.CallbackParam, value):
    if value is not None and value > INT64_MAX:
        raise typer.BadParameter(f"{value} is past {INT64_MAX} (2^63 - 1)", param=param)
    return value


def _choices(name: str, values) -> type[Enum]:
    """A str Enum of the allowed values, for typer; the lists live beside the code that uses them."""
    return Enum(name, {v.replace("-", "_"): v for v in values}, type=str)


Mode = _choices("Mode", MODES)
Similarity = _choices("Similarity", SIMILARITIES)
Positions = _choices("Positions", POSITIONS)
Prior = _choices("Prior", PRIORS)
Oov = _choices("Oov", OOV_POLICIES)
Case = _choices("Case", CASES)
Tokenizer = _choices("Tokenizer", TOKENIZERS)
VectorsFormat = _choices("VectorsFormat", FORMATS)
UnicodeErrors = _choices("UnicodeErrors", UNICODE_ERRORS)
InputFormat = _choices("InputFormat", ("text", "jsonl"))
OutputFormat = _choices("OutputFormat", ("jsonl", "npz", "parquet", "projector"))
Pool = _choices("Pool", ("mean", "sif"))  # attncli.pooling.POOLS
Engine = _choices("Engine", ("local", "dask"))


_ATT = "Attention"
_SRC = "Vectors and tokens"
_CFG = "Saved settings"
_OUT = "Files"
def _quiet(value: bool) -> bool:
    from .console import set_quiet

    set_quiet(value)
    return value


QuietOpt = Annotated[bool, typer.Option("-q", "--quiet", callback=_quiet,
                                        help="Say nothing on stderr but warnings and errors: no progress, no 'wrote FILE', no notes.")]
VerboseOpt = Annotated[bool, typer.Option("-v", "--verbose", help="List every unknown word and failed line on stderr (default: counts and the first few).")]
InputsOpt = Annotated[
    list[str],
    typer.Option("-i", "--input", metavar="FILE", show_default=False,
                 help="A text file, one sentence per line ('-': stdin). Repeat -i for several; globs like 'dir/*.txt' work (quote them)."),
]
IndexOpt = Annotated[
    Optional[Path],
    typer.Option("--index", metavar="DB", dir_okay=False, show_default=False,
                 help="Read the corpus from this index (attncli index build): only the lines that may hold the word, "
                      "with the results of reading its files; -i then picks some of its files."),
]
MaxLineBytesOpt = Annotated[
    int,
    typer.Option(min=1, max=1 << 40, metavar="BYTES",
                 help="A longer line is skipped (and reported), read past, never held in memory."),
]
HtmlOpt = Annotated[
    Optional[Path],
    typer.Option("--html", dir_okay=False, metavar="FILE", rich_help_panel=_OUT,
                 help="Also write a self-contained HTML view (works offline; open it in a browser)."),
]
SvgOpt = Annotated[
    Optional[Path],
    typer.Option("--svg", dir_okay=False, metavar="FILE", rich_help_panel=_OUT,
                 help="Also write the terminal tables as an SVG image, for slides and papers."),
]


VectorsOpt = Annotated[
    str,
    typer.Option("--vectors", envvar="ATTNCLI_VECTORS", rich_help_panel=_SRC,
                 help="'default' (embedded GloVe 6B 50d, 100k words) or a path to a vector file."),
]
VectorsFormatOpt = Annotated[
    VectorsFormat,
    typer.Option("--vectors-format", metavar="FORMAT", rich_help_panel=_SRC,
                 help="Format of --vectors: auto (detected by content), word2vec (text), word2vec-bin, glove (text, no header), fasttext (.bin), kv (gensim pickle, needs --trust)."),
]
LimitOpt = Annotated[Optional[int], typer.Option(min=1, rich_help_panel=_SRC, help="Keep only the N most frequent words of the vectors.")]
UnicodeErrorsOpt = Annotated[
    UnicodeErrors,
    typer.Option(rich_help_panel=_SRC, help="Words of a word2vec/GloVe file that are not valid UTF-8: stop (strict), or replace / ignore the bad bytes."),
]
TrustOpt = Annotated[
    bool,
    typer.Option("--trust", envvar="ATTNCLI_TRUST", rich_help_panel=_SRC,
                 help="Allow loading gensim .kv/.model files: they are pickles, and unpickling runs any code they hold."),
]


def _shared_options() -> list[inspect.Parameter]:
    """The options every embedding command takes, one per Config field, with Config's
    defaults. Added to each command's signature by @config_options."""
    from ..pipeline import LIMITS, MODE_DEFAULTS, Config

    defaults = {f.name: f.default for f in dataclasses.fields(Config)}  # mode-dependent ones: None

    def limits(name: str) -> dict:
        low, high = LIMITS[name]
        return {"min": low, "max": high if high < INT64_MAX else None}  # 2^63-1 would swamp the help

    def by_mode(name: str) -> str:
        show = lambda v: {True: "on", False: "off"}.get(v, v) if isinstance(v, bool) else v
        return f"\\[default: {show(MODE_DEFAULTS['simple'][name])} in simple mode, {show(MODE_DEFAULTS['qkv'][name])} in qkv]"

    spec = {
        "vectors": VectorsOpt,
        "vectors_format": VectorsFormatOpt,
        "limit": LimitOpt,
        "unicode_errors": UnicodeErrorsOpt,
        "trust": TrustOpt,
        "oov": (Oov, typer.Option(rich_help_panel=_SRC, help="Words not in the vocabulary: skip them, use a zero vector, or stop.")),
        "tokenizer": (Tokenizer, typer.Option(rich_help_panel=_SRC, help="glove: split off punctuation and clitics as GloVe's text was (PTB style); whitespace: the text is already tokenized, split at whitespace only (<unk> stays one token).")),
        "case": (Case, typer.Option(rich_help_panel=_SRC, help="Look-up: lower (every word lowercased), keep (exactly as written), auto (lower for a lowercase vocabulary; for a cased one, as written, else lowercased).")),
        "mode": (Mode, typer.Option(rich_help_panel=_ATT, help="simple: parameter-free attention over the static vectors (its defaults tuned on WiC train); qkv: Q, K, V projections.")),
        "weights": (str, typer.Option(rich_help_panel=_ATT, help="qkv projections: 'identity', 'random' (Glorot, untrained), 'wic' (trained on WiC, shipped) or an .npz file (W_q, W_k, W_v[, W_o, b_*]); a file's own settings apply unless given here.")),
        "seed": (int, typer.Option(**limits("seed"), rich_help_panel=_ATT, help="Seed for --weights random.")),
        "heads": (int, typer.Option(**limits("heads"), rich_help_panel=_ATT, help="Attention heads; each takes an equal slice of the projected columns.")),
        "similarity": (Optional[Similarity], typer.Option(rich_help_panel=_ATT, help=f"Score of query i against key j: dot product or cosine. {by_mode('similarity')}", show_default=False)),
        "scale": (Optional[bool], typer.Option("--scale/--no-scale", rich_help_panel=_ATT, help=f"Divide scores by sqrt(d_k). {by_mode('scale')}", show_default=False)),
        "temperature": (float, typer.Option(**limits("temperature"), rich_help_panel=_ATT, help="Divide scores by T: below 1 sharpens, above 1 flattens.")),
        "exclude_self": (Optional[bool], typer.Option("--exclude-self/--include-self", rich_help_panel=_ATT, help=f"Mask the diagonal: build each word from its context alone. {by_mode('exclude_self')}", show_default=False)),
        "causal": (bool, typer.Option("--causal/--no-causal", rich_help_panel=_ATT, help="Mask later tokens: token i sees tokens 0..i.")),
        "positions": (Positions, typer.Option(rich_help_panel=_ATT, help="Add sinusoidal position encodings (attention alone ignores word order).")),
        "prior": (Optional[Prior], typer.Option(rich_help_panel=_ATT, help=f"zipf: lower the scores of frequent words by log(a/(a+p(w))), p(w) by Zipf's law from the frequency rank. {by_mode('prior')}", show_default=False)),
        "prior_a": (float, typer.Option(**limits("prior_a"), rich_help_panel=_ATT, help="The a of the frequency prior: smaller damps frequent words more.")),
        "residual": (Optional[float], typer.Option(**limits("residual"), rich_help_panel=_ATT, help=f"Output = r * word + (1 - r) * attended. {by_mode('residual')}", show_default=False)),
        "layers": (int, typer.Option(**limits("layers"), rich_help_panel=_ATT, help="Apply the same attention this many times.")),
        "window": (int, typer.Option(**limits("window"), metavar="W", rich_help_panel=_ATT, help="Each token attends to the W tokens on either side only (0: to all): time and memory linear in length, for long documents.")),
        "center": (Optional[int], typer.Option(**limits("center"), rich_help_panel=_ATT, help=f"Subtract the mean of the N most frequent vectors first (0: off). {by_mode('center')}", show_default=False)),
    }
    params = [inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context)]
    for name, annotation in spec.items():
        if isinstance(annotation, tuple):  # (type, typer.Option(...))
            annotation = Annotated[annotation[0], annotation[1]]
        kind = typing.get_args(annotation)[0]
        default = defaults[name]
        if default is not None and isinstance(kind, type) and issubclass(kind, Enum):
            default = kind(default)
        params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation))
    params += [
        inspect.Parameter("textbook", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=Annotated[bool, typer.Option(
            "--textbook", rich_help_panel=_CFG, help="Start from the notes' plain formula softmax(x_i . x_j / sqrt(d)): dot, scaled, T=1, no masks, prior, centering or residual.")]),
        inspect.Parameter("config_file", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Annotated[Optional[Path], typer.Option(
            "--config", rich_help_panel=_CFG, help="Read settings from this JSON file (e.g. from eval wic --save-config). Options given on the command line win.")]),
    ]
    return params


def config_options(func):
    """Give a command every shared option; it receives them as one `config: Config`.

    Precedence, lowest first: built-in defaults, the user config file, the settings a
    --weights file carries (qkv mode), --config FILE, --textbook, options given on the command
    line (or by environment variable)."""
    params = _shared_options()
    names = [p.name for p in params]
    hints = typing.get_type_hints(func, include_extras=True)  # resolve string annotations
    own = [p.replace(annotation=hints.get(name, p.annotation))
           for name, p in inspect.signature(func).parameters.items() if name != "config"]

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        shared = {name: kwargs.pop(name) for name in names}
        kwargs["config"] = _resolve_config(shared)
        return func(*args, **kwargs)

    wrapper.__signature__ = inspect.Signature(own + params)
    return wrapper


def _check_env_vectors(ctx, vectors: str) -> None:
    """A vector file named by ATTNCLI_VECTORS that is not there: say where the name came from."""
    import os

    source = ctx.get_parameter_source("vectors")
    if source is not None and source.name == "ENVIRONMENT" and vectors != "default" and not os.path.exists(vectors):
        raise DataError(f"ATTNCLI_VECTORS={vectors}: no such vector file (unset it, or give --vectors)")


def _resolve_config(shared: dict):
    from ..configfile import read_settings, user_settings
    from ..pipeline import MODE_DEFAULTS, Config, carried_settings

    ctx = shared.pop("ctx")
    textbook, config_file = shared.pop("textbook"), shared.pop("config_file")
    defaults: dict = {}  # options left at their defaults
    user = user_settings()  # the user's config file
    run: dict = {}  # what this run asks for: --config FILE, --textbook, options given
    if config_file is not None:
        run.update(read_settings(config_file))
    if textbook:
        run.update(MODE_DEFAULTS["qkv"], temperature=1.0)
    for name, value in shared.items():
        source = ctx.get_parameter_source(name)
        given = source is not None and source.name != "DEFAULT"
        if value is not None:
            (run if given else defaults)[name] = value.value if isinstance(value, Enum) else value
    _check_env_vectors(ctx, shared["vectors"])
    if run.get("weights", user.get("weights", "identity")) != "identity" and "mode" not in run and "mode" not in user:
        run["mode"] = "qkv"  # --weights names projections: only qkv mode has them
    chosen = {**defaults, **user, **run}
    # A weights file's own settings rank above defaults and the user's file, below this run's.
    carried = carried_settings(chosen.get("weights", "identity")) if chosen.get("mode") == "qkv" else {}
    return Config(**{**defaults, **user, **carried, **run})
