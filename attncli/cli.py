"""The attncli command line: parse options, call the pipeline, hand results to render/export,
turn attncli's exceptions into one line on stderr and an exit code (1 bad data, 2 bad usage).

Heavy modules (numpy, rich tables, orjson) are imported inside the commands, so that
`attncli embed ... --json` pays only for what it uses.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import os
import sys
import typing
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from typer.core import TyperGroup

from .attention import SIMILARITIES
from .errors import AttncliError, DataError, UsageError
from .pipeline import MODES, OOV_POLICIES, POSITIONS, PRIORS
from .vectors import FORMATS, UNICODE_ERRORS


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
                if not e.format_message():  # bare `attncli`: the help is already shown
                    sys.exit(e.exit_code)
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


def _choices(name: str, values) -> type[Enum]:
    """A str Enum of the allowed values, for typer; the lists live beside the code that uses them."""
    return Enum(name, {v.replace("-", "_"): v for v in values}, type=str)


Mode = _choices("Mode", MODES)
Similarity = _choices("Similarity", SIMILARITIES)
Positions = _choices("Positions", POSITIONS)
Prior = _choices("Prior", PRIORS)
Oov = _choices("Oov", OOV_POLICIES)
VectorsFormat = _choices("VectorsFormat", FORMATS)
UnicodeErrors = _choices("UnicodeErrors", UNICODE_ERRORS)
InputFormat = _choices("InputFormat", ("text", "jsonl"))
OutputFormat = _choices("OutputFormat", ("jsonl", "npz"))
Engine = _choices("Engine", ("local", "dask"))


_ATT = "Attention (simple-mode defaults tuned on WiC train; --textbook: the plain formula)"
_SRC = "Vectors and tokens"
_CFG = "Saved settings"
_OUT = "Files"
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


def _shared_options() -> list[inspect.Parameter]:
    """The options every embedding command takes, one per Config field, with Config's
    defaults. Added to each command's signature by @config_options."""
    from .pipeline import MODE_DEFAULTS, Config

    defaults = {f.name: f.default for f in dataclasses.fields(Config)}  # mode-dependent ones: None

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
        "mode": (Mode, typer.Option(rich_help_panel=_ATT, help="simple: parameter-free attention over the static vectors; qkv: Q, K, V projections.")),
        "weights": (str, typer.Option(rich_help_panel=_ATT, help="qkv projections: 'identity', 'random' (Glorot, untrained) or an .npz file (W_q, W_k, W_v[, W_o, b_*]).")),
        "seed": (int, typer.Option(rich_help_panel=_ATT, help="Seed for --weights random.")),
        "heads": (int, typer.Option(min=1, rich_help_panel=_ATT, help="Attention heads; each takes an equal slice of the projected columns.")),
        "similarity": (Optional[Similarity], typer.Option(rich_help_panel=_ATT, help=f"Score of query i against key j: dot product or cosine. {by_mode('similarity')}", show_default=False)),
        "scale": (Optional[bool], typer.Option("--scale/--no-scale", rich_help_panel=_ATT, help=f"Divide scores by sqrt(d_k). {by_mode('scale')}", show_default=False)),
        "temperature": (float, typer.Option(min=1e-6, rich_help_panel=_ATT, help="Divide scores by T: below 1 sharpens, above 1 flattens.")),
        "exclude_self": (Optional[bool], typer.Option("--exclude-self/--include-self", rich_help_panel=_ATT, help=f"Mask the diagonal: build each word from its context alone. {by_mode('exclude_self')}", show_default=False)),
        "causal": (bool, typer.Option("--causal/--no-causal", rich_help_panel=_ATT, help="Mask later tokens: token i sees tokens 0..i.")),
        "positions": (Positions, typer.Option(rich_help_panel=_ATT, help="Add sinusoidal position encodings (attention alone ignores word order).")),
        "prior": (Optional[Prior], typer.Option(rich_help_panel=_ATT, help=f"zipf: lower the scores of frequent words by log(a/(a+p(w))), p(w) by Zipf's law from the frequency rank. {by_mode('prior')}", show_default=False)),
        "prior_a": (float, typer.Option(min=1e-12, rich_help_panel=_ATT, help="The a of the frequency prior: smaller damps frequent words more.")),
        "residual": (Optional[float], typer.Option(min=0.0, max=1.0, rich_help_panel=_ATT, help=f"Output = r * word + (1 - r) * attended. {by_mode('residual')}", show_default=False)),
        "layers": (int, typer.Option(min=1, max=64, rich_help_panel=_ATT, help="Apply the same attention this many times.")),
        "center": (Optional[int], typer.Option(min=0, rich_help_panel=_ATT, help=f"Subtract the mean of the N most frequent vectors first (0: off). {by_mode('center')}", show_default=False)),
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

    Precedence, lowest first: built-in defaults, the user config file, --config FILE,
    --textbook, options given on the command line (or by environment variable)."""
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


def _resolve_config(shared: dict):
    from .configfile import read_settings, user_config_path
    from .pipeline import MODE_DEFAULTS, Config

    ctx = shared.pop("ctx")
    textbook, config_file = shared.pop("textbook"), shared.pop("config_file")
    fields = {f.name for f in dataclasses.fields(Config)}
    settings: dict = {}
    user = user_config_path()
    if user.is_file():
        settings.update(read_settings(user, fields))
    if config_file is not None:
        settings.update(read_settings(config_file, fields))
    if textbook:
        settings.update(MODE_DEFAULTS["qkv"], temperature=1.0)
    for name, value in shared.items():
        source = ctx.get_parameter_source(name)
        given = source is not None and source.name != "DEFAULT"
        if value is not None and (given or name not in settings):
            settings[name] = value.value if isinstance(value, Enum) else value
    try:
        return Config(**settings)
    except TypeError as e:
        raise UsageError(f"bad setting: {e}") from None


# ---------------------------------------------------------------- embed


_BATCH = "Batch: files of sentences (-i)"


@app.command()
@config_options
def embed(
    text: Annotated[Optional[str], typer.Argument(help="The sentence to embed (or -i FILE for many).", show_default=False)] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout instead of tables.")] = False,
    dims: Annotated[int, typer.Option(min=1, help="Vector dimensions shown in tables.")] = 8,
    show_static: Annotated[bool, typer.Option("--show-static", help="Also show the static vectors.")] = False,
    neighbors: Annotated[int, typer.Option("--neighbors", min=0, help="Also show each token's K nearest vocabulary words (cosine to its contextual vector).")] = 0,
    html_file: HtmlOpt = None,
    svg_file: SvgOpt = None,
    input: Annotated[Optional[str], typer.Option("-i", "--input", rich_help_panel=_BATCH, show_default=False,
                     help="Embed every line of FILE ('-': stdin); with --engine dask, a glob of files.")] = None,
    input_format: Annotated[InputFormat, typer.Option(rich_help_panel=_BATCH, help="text: one sentence per line; jsonl: JSON objects.")] = InputFormat.text,
    text_field: Annotated[str, typer.Option(rich_help_panel=_BATCH, help="--input-format jsonl: the field holding the sentence.")] = "text",
    output: Annotated[Optional[str], typer.Option("-o", "--output", rich_help_panel=_BATCH, show_default=False,
                      help="Write to FILE (.jsonl or .npz, atomically) instead of JSON Lines on stdout; --engine dask: a directory.")] = None,
    output_format: Annotated[Optional[OutputFormat], typer.Option("--format", "-f", rich_help_panel=_BATCH, show_default=False,
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
    *,
    config,
):
    """Embed one sentence: the attention matrix and the new contextual vectors.

    Example: attncli embed "money bank grows" --json | jq '.attention[1]'

    With -i FILE, embed every line: JSON Lines on stdout (one object per line, with "line"),
    or -o out.jsonl / out.npz. Exit codes: 0 every line embedded; 1 error, nothing written;
    2 bad usage; 3 some lines failed (reported on stderr and as error records), the rest written.
    """
    batch = dict(
        input_format=input_format.value, text_field=text_field, output=output,
        output_format=output_format.value if output_format else None, batch_size=batch_size,
        with_static=with_static, with_attention=with_attention, max_attention_cells=max_attention_cells,
        quiet=quiet, engine=engine.value, scheduler=scheduler,
    )
    if input is not None:
        if text is not None:
            raise UsageError("give either a sentence or -i FILE, not both")
        for flag, value in (("--html", html_file), ("--svg", svg_file), ("--neighbors", neighbors)):
            if value:
                raise UsageError(f"{flag} shows one sentence: it does not go with -i FILE")
        from .batch_run import run_batch

        code = run_batch(config, input, **batch)
        if code:
            raise typer.Exit(code)
        return
    if text is None:
        raise UsageError("give a sentence to embed, or -i FILE for a file of sentences (-i - for stdin)")
    for name, flag in (("output", "-o/--output"), ("output_format", "--format"), ("with_static", "--with-static"),
                       ("with_attention", "--with-attention"), ("scheduler", "--scheduler")):
        if batch[name]:
            raise UsageError(f"{flag} needs -i FILE")
    if engine != Engine.local:
        raise UsageError("--engine needs -i FILE")
    from . import pipeline

    result = pipeline.embed(text, config)
    _report(result)
    near = pipeline.neighbors(result, neighbors) if neighbors else None
    if html_file is not None:
        from .html import embed_page

        _write_file(html_file, embed_page(result).encode("utf-8"))

    if svg_file is not None or not json_out:
        from .render import embed_renderables, neighbors_table

        parts = embed_renderables(result, dims=dims, show_static=show_static)
        if near is not None:
            parts.append(neighbors_table(result.surfaces, near))
        _print_renderables(parts, svg_file, show=not json_out, title="attncli embed")
    if json_out:
        from .export import embed_record

        record = embed_record(result)
        if near is not None:
            record["neighbors"] = near
        _print_json(record)


# ---------------------------------------------------------------- compare


@app.command()
@config_options
def compare(
    sentences: Annotated[Optional[list[str]], typer.Argument(help="Two or more sentences holding the word.", show_default=False)] = None,
    word: Annotated[str, typer.Option("--word", "-w", help="The word to follow across the sentences.", show_default=False)] = ...,
    input_file: Annotated[Optional[str], typer.Option("--input", "-i", help="Read sentences from FILE, one per line ('-': stdin).")] = None,
    occurrence: Annotated[int, typer.Option(min=1, help="Which appearance of the word (1-based) in a sentence holding it more than once.")] = 1,
    top: Annotated[int, typer.Option("-n", "--top", min=0, help="Nearest vocabulary words shown per occurrence.")] = 5,
    include_word: Annotated[bool, typer.Option("--include-word", help="Let the word itself appear among its neighbours.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout instead of tables.")] = False,
    html_file: HtmlOpt = None,
    svg_file: SvgOpt = None,
    *,
    config,
):
    """Follow a word across sentences: how far its contextual vector moves, and towards which words.

    Example: attncli compare "money bank grows" "bank river flows" --word bank
    """
    from . import pipeline

    texts = list(sentences or [])
    if input_file is not None:
        from .inputs import nonblank_lines

        texts += [line.strip() for line in nonblank_lines(input_file)]
    result = pipeline.compare(texts, word, config, occurrence=occurrence, k=top, exclude_word=not include_word)
    for o in result.occurrences:
        _report(o.result, prefix=f"sentence {o.sentence + 1}: ")
    from .export import compare_record

    record = compare_record(result)
    if html_file is not None:
        from .html import compare_page

        _write_file(html_file, compare_page(record).encode("utf-8"))
    if svg_file is not None or not json_out:
        from .render import compare_renderables

        _print_renderables(compare_renderables(result), svg_file, show=not json_out, title="attncli compare")
    if json_out:
        _print_json(record)


# ---------------------------------------------------------------- eval

eval_app = typer.Typer(help="Measure contextual vectors on benchmarks.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")


@eval_app.command("wic")
@config_options
def eval_wic(
    eval_data: Annotated[Path, typer.Argument(help="WiC data file to score (e.g. dev.data.txt).", show_default=False)],
    eval_gold: Annotated[Path, typer.Argument(help="Its gold labels (T/F per line).", show_default=False)],
    fit_data: Annotated[Path, typer.Option("--fit-data", help="WiC data file the threshold (and --tune) is fitted on.", show_default=False)] = ...,
    fit_gold: Annotated[Path, typer.Option("--fit-gold", help="Its gold labels.", show_default=False)] = ...,
    tune: Annotated[bool, typer.Option("--tune", help="Also choose temperature, prior a, centering and exclude-self on the fit split (grid search).")] = False,
    save_config: Annotated[Optional[Path], typer.Option("--save-config", help="Write the chosen settings to this JSON file (read back with --config).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help='Print {"accuracy", "threshold", "n", "config"} on stdout.')] = False,
    *,
    config,
):
    """Word-in-Context accuracy: cosine of the target's contextual vectors in its two sentences, threshold fitted on the fit split.

    Example: attncli eval wic dev.data.txt dev.gold.txt --fit-data train.data.txt --fit-gold train.gold.txt
    """
    from . import pipeline, wic

    eval_pairs, eval_labels = wic.read_split(eval_data, eval_gold)
    fit_pairs, fit_labels = wic.read_split(fit_data, fit_gold)
    vec = pipeline.vectors_for(config)
    trials = len(list(wic.grid(config))) if tune else 1
    total = trials * len(fit_pairs) + len(eval_pairs)
    with _progress("scoring WiC pairs", total) as advance:
        result = wic.evaluate(eval_pairs, eval_labels, fit_pairs, fit_labels, config, vec, tune=tune, progress=advance)
    if result.unknown_targets:
        warn(f"{result.unknown_targets} eval target word(s) out of the vocabulary: each taking part as a zero vector (it gets its sentence's prior-weighted mean)")
    if save_config is not None:
        from .configfile import settings_json

        notes = {"by": "attncli eval wic --tune" if tune else "attncli eval wic", "fit_data": str(fit_data),
                 "fit_accuracy": result.fit_accuracy, "threshold": result.threshold}
        _write_file(save_config, settings_json(result.config, notes))
    if json_out:
        _print_json({"accuracy": result.accuracy, "threshold": result.threshold, "n": result.n,
                     "config": dataclasses.asdict(result.config)})
        return
    from .render import wic_renderables

    _print(wic_renderables(result, str(eval_data), str(fit_data)))


# ---------------------------------------------------------------- train

train_app = typer.Typer(help="Fit projections on a benchmark's training split.", no_args_is_help=True)
app.add_typer(train_app, name="train")


@train_app.command("wic")
@config_options
def train_wic(
    fit_data: Annotated[Path, typer.Argument(help="WiC data file to learn from (e.g. train.data.txt).", show_default=False)],
    fit_gold: Annotated[Path, typer.Argument(help="Its gold labels.", show_default=False)],
    output: Annotated[Path, typer.Option("-o", "--output", dir_okay=False, help="Write the weights here (.npz: W_q, W_k, W_v).", show_default=False)] = ...,
    save_config: Annotated[Optional[Path], typer.Option("--save-config", help="Also write the settings that run these weights (read back with --config).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print what was fitted as JSON on stdout.")] = False,
    *,
    config,
):
    """Learn the value projection W_v on a WiC split, on top of simple-mode attention.

    Example: attncli train wic train.data.txt train.gold.txt -o wic-wv.npz --save-config wic.json
    """
    from . import learn, pipeline, wic

    pairs, labels = wic.read_split(fit_data, fit_gold)
    vec = pipeline.vectors_for(config)
    with _progress("learning W_v", learn.steps(len(pairs))) as advance:
        trained = learn.train_value_projection(pairs, labels, config, vec, progress=advance)
    import io

    import numpy as np

    buffer = io.BytesIO()
    np.savez(buffer, **trained.weights)
    _write_file(output, buffer.getvalue())
    run_with = dataclasses.replace(trained.config, weights=str(output.resolve()))
    if save_config is not None:
        from .configfile import settings_json

        notes = {"by": "attncli train wic", "fit_data": str(fit_data), "mu": trained.mu,
                 "fit_accuracy": trained.fit_accuracy, "cv_accuracy": {str(k): v for k, v in trained.cv_accuracy.items()}}
        _write_file(save_config, settings_json(run_with, notes))
    summary = {"weights": str(output), "mu": trained.mu, "cv_accuracy": {str(k): v for k, v in trained.cv_accuracy.items()},
               "fit_accuracy": trained.fit_accuracy, "threshold": trained.threshold, "config": dataclasses.asdict(run_with)}
    if json_out:
        _print_json(summary)
        return
    cv = ", ".join(f"mu={k:g}: {v:.4f}" for k, v in trained.cv_accuracy.items())
    print(f"wrote {output}: W_v learned with mu={trained.mu:g} (cross-validated by target word: {cv}); "
          f"accuracy on the fit split {trained.fit_accuracy:.4f}")
    if save_config is not None:
        print(f"wrote {save_config}: run them with --config {save_config}")


# ---------------------------------------------------------------- helpers


def _report(result, prefix: str = "") -> None:
    """OOV words and fully masked tokens: on stderr, never in the way of stdout."""
    subword = [o for o in result.oov if o.get("handled") == "subword"]
    missing = [o for o in result.oov if o.get("handled") != "subword"]
    if subword:
        words = ", ".join(f"{o['token']!r} (position {o['position']})" for o in subword)
        warn(f"{prefix}not in the vocabulary of {result.vectors['name']}, given fastText subword vectors: {words}")
    if missing:
        how = {"skip": "skipped", "zero": "given zero vectors"}[result.config.oov]
        words = ", ".join(f"{o['token']!r} (position {o['position']})" for o in missing)
        warn(f"{prefix}not in the vocabulary of {result.vectors['name']}, {how}: {words}")
    if result.config.exclude_self or result.config.causal:
        empty = [t for t, row in zip(result.tokens, result.attention) if not row.any()]
        if empty:
            warn(f"{prefix}nothing left to attend to (masked), attended part is zero: {', '.join(map(repr, empty))}")


def _print_json(obj) -> None:
    from .export import dumps

    sys.stdout.buffer.write(dumps(obj) + b"\n")
    sys.stdout.flush()


def _print(parts) -> None:
    from rich.console import Console

    out = Console()
    for part in parts:
        out.print(part)


def _write_file(path: Path, data: bytes) -> None:
    """An output file the user asked for, written atomically; a failure is one line, exit 1."""
    from .export import write_atomic

    try:
        write_atomic(path, data)
    except OSError as e:
        raise DataError(f"cannot write {path}: {e.strerror or e}") from None


def _print_renderables(parts: list, svg: Path | None = None, *, show: bool = True, title: str = "attncli") -> None:
    """Print rich renderables on stdout (when `show`) and, when `svg` is given, record the same
    renderables into an SVG image (rich's recording console) written atomically to `svg`.
    The SVG is written first, so a failure to write it prints nothing."""
    if svg is not None:
        from .render import svg_image

        _write_file(svg, svg_image(parts, title=title).encode("utf-8"))
    if show:
        _print(parts)


@contextlib.contextmanager
def _progress(label: str, total: int):
    """A rich progress bar on stderr when it is a terminal; yields advance(n)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n=1: bar.advance(task, n)


from . import cli_vectors  # noqa: E402, F401  (registers the `attncli vectors ...` commands on app)


def main() -> None:
    app()
