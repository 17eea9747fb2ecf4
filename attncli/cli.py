"""The attncli command line: parse options, call the pipeline, hand results to render/export,
turn attncli's exceptions into one line on stderr and an exit code (1 bad data, 2 bad usage).

Heavy modules (numpy, rich tables, orjson) are imported inside the commands, so that
`attncli embed ... --json` pays only for what it uses.
"""

from __future__ import annotations

import os
import sys
from enum import Enum
from typing import Annotated, Optional

import typer
from typer.core import TyperGroup

from .errors import AttncliError


class _Group(TyperGroup):
    """Every error ends as one line on stderr: ours, typer's usage errors, a closed pipe."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except AttncliError as e:
            _fail(str(e), e.exit_code)
        except BrokenPipeError:
            _quiet_pipe()
        except KeyboardInterrupt:
            _fail("interrupted", 130)
        except Exception as e:  # click's usage errors (vendored by typer) carry these two
            if hasattr(e, "format_message") and hasattr(e, "exit_code"):
                _fail(_one_line(e.format_message()), e.exit_code)
            raise
        sys.exit(rv if isinstance(rv, int) else 0)


def _one_line(msg: str) -> str:
    return " ".join(str(msg).split())


def _fail(msg: str, code: int):
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _quiet_pipe()
    print(f"attncli: error: {_one_line(msg)}", file=sys.stderr)
    sys.exit(code)


def _quiet_pipe():
    """The reader went away (`| head`): stop quietly, without Python's flush error at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    sys.exit(1)


def warn(msg: str) -> None:
    print(f"attncli: warning: {msg}", file=sys.stderr)


app = typer.Typer(
    cls=_Group,
    help="Turn static word vectors into contextual ones with self-attention, and show the work.",
    add_completion=False,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool):
    if value:
        from . import __version__

        print(f"attncli {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        Optional[bool], typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = None,
):
    """Turn static word vectors into contextual ones with self-attention, and show the work."""
    from .cli_vectors import install_reporter

    install_reporter()  # the library's notes and progress (converting a vector file) go to stderr


# ---------------------------------------------------------------- options shared by commands


class Mode(str, Enum):
    simple = "simple"
    qkv = "qkv"


class Similarity(str, Enum):
    dot = "dot"
    cosine = "cosine"


class Positions(str, Enum):
    none = "none"
    sinusoidal = "sinusoidal"


class Prior(str, Enum):
    none = "none"
    zipf = "zipf"


class Oov(str, Enum):
    skip = "skip"
    zero = "zero"
    error = "error"


_ATT = "Attention"
_SRC = "Vectors and tokens"

VectorsOpt = Annotated[
    str,
    typer.Option("--vectors", envvar="ATTNCLI_VECTORS", rich_help_panel=_SRC,
                 help="'default' (embedded GloVe 6B 50d, 100k words) or a path to a vector file."),
]


class VectorsFormat(str, Enum):
    auto = "auto"
    word2vec = "word2vec"
    word2vec_bin = "word2vec-bin"
    glove = "glove"
    fasttext = "fasttext"
    kv = "kv"


class UnicodeErrors(str, Enum):
    strict = "strict"
    replace = "replace"
    ignore = "ignore"


VectorsFormatOpt = Annotated[
    VectorsFormat,
    typer.Option("--vectors-format", rich_help_panel=_SRC,
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
OovOpt = Annotated[Oov, typer.Option(help="Words not in the vocabulary: skip them, use a zero vector, or stop.", rich_help_panel=_SRC)]
ModeOpt = Annotated[Mode, typer.Option(help="simple: parameter-free attention on the static vectors; qkv: Q, K, V projections.", rich_help_panel=_ATT)]
WeightsOpt = Annotated[
    str,
    typer.Option(help="qkv projections: 'identity', 'random' (Glorot, untrained) or an .npz file (W_q, W_k, W_v[, W_o, b_*]).", rich_help_panel=_ATT),
]
SeedOpt = Annotated[int, typer.Option(help="Seed for --weights random.", rich_help_panel=_ATT)]
HeadsOpt = Annotated[int, typer.Option(min=1, help="Attention heads; each takes an equal slice of the projected columns.", rich_help_panel=_ATT)]
SimilarityOpt = Annotated[Similarity, typer.Option(help="Score of query i against key j: dot product or cosine.", rich_help_panel=_ATT)]
ScaleOpt = Annotated[bool, typer.Option("--scale/--no-scale", help="Divide scores by sqrt(d_k).", rich_help_panel=_ATT)]
TemperatureOpt = Annotated[float, typer.Option(min=1e-6, help="Divide scores by T: below 1 sharpens, above 1 flattens.", rich_help_panel=_ATT)]
ExcludeSelfOpt = Annotated[bool, typer.Option("--exclude-self", help="Mask the diagonal: build each word from its context alone.", rich_help_panel=_ATT)]
CausalOpt = Annotated[bool, typer.Option("--causal", help="Mask later tokens: token i sees tokens 0..i.", rich_help_panel=_ATT)]
PositionsOpt = Annotated[Positions, typer.Option(help="Add sinusoidal position encodings (attention alone ignores word order).", rich_help_panel=_ATT)]
PriorOpt = Annotated[Prior, typer.Option(help="zipf: lower the scores of frequent words by log(a/(a+p(w))).", rich_help_panel=_ATT)]
PriorAOpt = Annotated[float, typer.Option(min=1e-12, help="The a of the frequency prior.", rich_help_panel=_ATT)]
ResidualOpt = Annotated[float, typer.Option(min=0.0, max=1.0, help="Output = r * input + (1 - r) * attended.", rich_help_panel=_ATT)]
LayersOpt = Annotated[int, typer.Option(min=1, max=64, help="Apply the same attention this many times.", rich_help_panel=_ATT)]


def make_config(**options):
    """Config from the shared options (enums to their values)."""
    from .pipeline import Config

    return Config(**{k: (v.value if isinstance(v, Enum) else v) for k, v in options.items()})


# ---------------------------------------------------------------- embed


@app.command()
def embed(
    text: Annotated[str, typer.Argument(help="The sentence to embed.", show_default=False)],
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout instead of tables.")] = False,
    dims: Annotated[int, typer.Option(min=1, help="Vector dimensions shown in tables.")] = 8,
    show_static: Annotated[bool, typer.Option("--show-static", help="Also show the static vectors.")] = False,
    vectors: VectorsOpt = "default",
    oov: OovOpt = Oov.skip,
    mode: ModeOpt = Mode.simple,
    weights: WeightsOpt = "identity",
    seed: SeedOpt = 0,
    heads: HeadsOpt = 1,
    similarity: SimilarityOpt = Similarity.dot,
    scale: ScaleOpt = True,
    temperature: TemperatureOpt = 1.0,
    exclude_self: ExcludeSelfOpt = False,
    causal: CausalOpt = False,
    positions: PositionsOpt = Positions.none,
    prior: PriorOpt = Prior.none,
    prior_a: PriorAOpt = 1e-3,
    residual: ResidualOpt = 0.0,
    layers: LayersOpt = 1,
    vectors_format: VectorsFormatOpt = VectorsFormat.auto,
    limit: LimitOpt = None,
    unicode_errors: UnicodeErrorsOpt = UnicodeErrors.strict,
    trust: TrustOpt = False,
):
    """Embed one sentence: the attention matrix and the new contextual vectors.

    Example: attncli embed "money bank grows" --json | jq '.attention[1]'
    """
    from . import pipeline

    cfg = make_config(
        vectors=vectors, oov=oov, mode=mode, weights=weights, seed=seed, heads=heads,
        similarity=similarity, scale=scale, temperature=temperature, exclude_self=exclude_self,
        causal=causal, positions=positions, prior=prior, prior_a=prior_a, residual=residual, layers=layers,
        vectors_format=vectors_format, limit=limit, unicode_errors=unicode_errors, trust=trust,
    )
    result = pipeline.embed(text, cfg)
    _report_oov(result)
    if json_out:
        from .export import dumps, embed_record

        sys.stdout.buffer.write(dumps(embed_record(result)) + b"\n")
        sys.stdout.flush()
        return
    from rich.console import Console

    from .render import embed_renderables

    out = Console()
    for part in embed_renderables(result, dims=dims, show_static=show_static):
        out.print(part)


def _report_oov(result) -> None:
    subword = [o for o in result.oov if o.get("handled") == "subword"]
    missing = [o for o in result.oov if o.get("handled") != "subword"]
    if subword:
        words = ", ".join(f"{o['token']!r} (position {o['position']})" for o in subword)
        warn(f"not in the vocabulary of {result.vectors['name']}, given fastText subword vectors: {words}")
    if missing:
        how = {"skip": "skipped", "zero": "given zero vectors"}[result.config.oov]
        words = ", ".join(f"{o['token']!r} (position {o['position']})" for o in missing)
        warn(f"not in the vocabulary of {result.vectors['name']}, {how}: {words}")
    if result.config.exclude_self or result.config.causal:
        empty = [t for t, row in zip(result.tokens, result.attention) if not row.any()]
        if empty:
            warn(f"nothing left to attend to (masked), zero vectors: {', '.join(map(repr, empty))}")


from . import cli_vectors  # noqa: E402, F401  (registers the `attncli vectors ...` commands on app)


def main() -> None:
    app()
