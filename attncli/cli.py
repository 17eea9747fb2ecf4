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

from .errors import AttncliError, UsageError


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


class InputFormat(str, Enum):
    text = "text"
    jsonl = "jsonl"


class OutputFormat(str, Enum):
    jsonl = "jsonl"
    npz = "npz"


class Engine(str, Enum):
    local = "local"
    dask = "dask"


_BATCH = "Batch: files of sentences (-i)"


@app.command()
def embed(
    text: Annotated[Optional[str], typer.Argument(help="The sentence to embed (or -i FILE for many).", show_default=False)] = None,
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
    input: Annotated[Optional[str], typer.Option("-i", "--input", rich_help_panel=_BATCH, show_default=False,
                     help="Embed every line of FILE ('-': stdin); with --engine dask, a glob of files.")] = None,
    input_format: Annotated[InputFormat, typer.Option(rich_help_panel=_BATCH, help="text: one sentence per line; jsonl: JSON objects.")] = InputFormat.text,
    text_field: Annotated[str, typer.Option(rich_help_panel=_BATCH, help="--input-format jsonl: the field holding the sentence.")] = "text",
    output: Annotated[Optional[str], typer.Option("-o", "--output", rich_help_panel=_BATCH, show_default=False,
                      help="Write to FILE (.jsonl or .npz, atomically) instead of JSON Lines on stdout; --engine dask: a directory.")] = None,
    output_format: Annotated[Optional[OutputFormat], typer.Option("--output-format", "-f", rich_help_panel=_BATCH, show_default=False,
                             help="Format of -o when its extension does not say.")] = None,
    batch_size: Annotated[int, typer.Option(min=1, rich_help_panel=_BATCH, help="Sentences attended together in one padded matmul.")] = 256,
    with_static: Annotated[bool, typer.Option("--with-static", rich_help_panel=_BATCH, help="Add the static vectors to the output.")] = False,
    with_attention: Annotated[bool, typer.Option("--with-attention", rich_help_panel=_BATCH, help="Add the attention weights to the output.")] = False,
    max_attention_cells: Annotated[int, typer.Option(min=1, rich_help_panel=_BATCH,
                                   help="--with-attention: a line whose heads x n x n weights pass this fails.")] = 25_000_000,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", rich_help_panel=_BATCH, help="No progress bar.")] = False,
    engine: Annotated[Engine, typer.Option(rich_help_panel=_BATCH, help="dask: one .npz shard per input file, on Dask (pip install 'attncli\\[dask]').")] = Engine.local,
    scheduler: Annotated[Optional[str], typer.Option(rich_help_panel=_BATCH, show_default=False,
                         help="--engine dask: address of a Dask scheduler (default: local processes).")] = None,
):
    """Embed one sentence: the attention matrix and the new contextual vectors.

    Example: attncli embed "money bank grows" --json | jq '.attention[1]'

    With -i FILE, embed every line: JSON Lines on stdout (one object per line, with "line"),
    or -o out.jsonl / out.npz. Exit codes: 0 every line embedded; 1 error, nothing written;
    2 bad usage; 3 some lines failed (reported on stderr and as error records), the rest written.
    """
    cfg = make_config(
        vectors=vectors, oov=oov, mode=mode, weights=weights, seed=seed, heads=heads,
        similarity=similarity, scale=scale, temperature=temperature, exclude_self=exclude_self,
        causal=causal, positions=positions, prior=prior, prior_a=prior_a, residual=residual, layers=layers,
    )
    batch = dict(
        input_format=input_format.value, text_field=text_field, output=output,
        output_format=output_format.value if output_format else None, batch_size=batch_size,
        with_static=with_static, with_attention=with_attention, max_attention_cells=max_attention_cells,
        quiet=quiet, engine=engine.value, scheduler=scheduler,
    )
    if input is not None:
        if text is not None:
            raise UsageError("give either a sentence or -i FILE, not both")
        from .batch_run import run_batch

        code = run_batch(cfg, input, **batch)
        if code:
            raise typer.Exit(code)
        return
    if text is None:
        raise UsageError("give a sentence to embed, or -i FILE for a file of sentences (-i - for stdin)")
    for name in ("output", "output_format", "with_static", "with_attention", "scheduler"):
        if batch[name]:
            raise UsageError(f"--{name.replace('_', '-')} needs -i FILE")
    if engine != Engine.local:
        raise UsageError("--engine needs -i FILE")
    from . import pipeline

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
    if result.oov:
        how = {"skip": "skipped", "zero": "given zero vectors"}[result.config.oov]
        words = ", ".join(f"{o['token']!r} (position {o['position']})" for o in result.oov)
        warn(f"not in the vocabulary of {result.vectors['name']}, {how}: {words}")
    if result.config.exclude_self or result.config.causal:
        empty = [t for t, row in zip(result.tokens, result.attention) if not row.any()]
        if empty:
            warn(f"nothing left to attend to (masked), zero vectors: {', '.join(map(repr, empty))}")


def main() -> None:
    app()
