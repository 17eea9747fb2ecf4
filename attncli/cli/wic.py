"""`attncli eval wic` and `attncli train wic`: the Word-in-Context benchmark."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import UsageError
from .app import eval_app, train_app
from .console import check_writable, note, print_json, print_renderables, progress, reporting_into, warn, write_file
from .options import QuietOpt, config_options


@eval_app.command("wic")
@config_options
def eval_wic(
    eval_data: Annotated[Path, typer.Argument(help="WiC data file to score (e.g. dev.data.txt; '-': stdin).", show_default=False)],
    eval_gold: Annotated[Path, typer.Argument(help="Its gold labels (T/F per line; '-': stdin).", show_default=False)],
    fit_data: Annotated[Path, typer.Option("--fit-data", help="WiC data file the threshold (and --tune) is fitted on.", show_default=False)] = ...,
    fit_gold: Annotated[Path, typer.Option("--fit-gold", help="Its gold labels.", show_default=False)] = ...,
    tune: Annotated[bool, typer.Option("--tune", help="Also choose temperature, prior a, centering and exclude-self on the fit split (grid search).")] = False,
    save_config: Annotated[Optional[Path], typer.Option("--save-config", help="Write the chosen settings to this JSON file (read back with --config).")] = None,
    baselines: Annotated[bool, typer.Option("--baselines/--no-baselines", help="Also score static vectors, the uniform and prior-only averages, the parameter-free defaults and the trained weights, with standard errors and grouped cross-validation on the fit split.")] = True,
    json_out: Annotated[bool, typer.Option("--json", help='Print {"accuracy", "se", "threshold", "n", "fallbacks", "config", "baselines"} on stdout.')] = False,
    quiet: QuietOpt = False,
    *,
    config,
):
    """Word-in-Context accuracy: cosine of the target's contextual vectors in its two sentences, threshold fitted on the fit split.

    Example: attncli eval wic dev.data.txt dev.gold.txt --fit-data train.data.txt --fit-gold train.gold.txt
    """
    from .. import pipeline, wic

    _stdin_once(data=eval_data, gold=eval_gold, fit_data=fit_data, fit_gold=fit_gold)
    eval_pairs, eval_labels = wic.read_split(eval_data, eval_gold)
    fit_pairs, fit_labels = wic.read_split(fit_data, fit_gold)
    vec = pipeline.vectors_for(config)
    trials = len(list(wic.grid(config))) if tune else 1
    total = (trials + 5 * baselines) * len(fit_pairs) + (1 + 5 * baselines) * len(eval_pairs)
    with progress("scoring WiC pairs", total, quiet=quiet) as advance:
        result = wic.evaluate(eval_pairs, eval_labels, fit_pairs, fit_labels, config, vec, tune=tune, progress=advance)
        rows = wic.baselines(eval_pairs, eval_labels, fit_pairs, fit_labels, config, vec, advance) if baselines else []
    if result.unknown_targets:
        warn(f"{result.unknown_targets} eval target word(s) out of the vocabulary: each taking part as a zero vector (it gets its sentence's prior-weighted mean)")
    if result.fallbacks:
        warn(f"{result.fallbacks} eval pair(s) with a sentence of no word in the vocabulary besides the target: scored with what is left "
             "(the target attends to the punctuation or unknown words, or to nothing: cosine 0)")
    if save_config is not None:
        from ..configfile import settings_json

        notes = {"by": "attncli eval wic --tune" if tune else "attncli eval wic", "fit_data": str(fit_data),
                 "fit_accuracy": result.fit_accuracy, "threshold": result.threshold}
        write_file(save_config, settings_json(result.config, notes), announce=not quiet)
    if json_out:
        print_json({"accuracy": result.accuracy, "se": wic.binomial_se(result.accuracy, result.n), "threshold": result.threshold,
                    "n": result.n, "fallbacks": result.fallbacks, "config": result.config.to_dict(),
                    "baselines": [{"name": r.name, "accuracy": r.accuracy, "se": r.se, "fit_accuracy": r.fit_accuracy,
                                   "grouped_cv": r.grouped_cv} for r in rows]})
        return
    from ..render import wic_renderables

    print_renderables(wic_renderables(result, str(eval_data), str(fit_data), rows), numbers=[result, rows])


def _stdin_once(**files: Path) -> None:
    """UsageError when two of the files are stdin ('-'): it can be read once."""
    stdin = [name.replace("_", "-") for name, p in files.items() if str(p) == "-"]
    stdin = [f"--{name}" if name.startswith("fit") else name for name in stdin]
    if len(stdin) > 1:
        raise UsageError(f"stdin ('-') can be read once, not for both {stdin[0]} and {stdin[1]}")


def _same_file(a, b) -> bool:
    """Whether two paths name one file (the same path, links to it, /dev/stdout and the file
    stdout is redirected to)."""
    import os

    try:
        return os.path.samefile(a, b)
    except OSError:  # one does not exist (yet): the same only when spelled alike
        return os.path.abspath(a) == os.path.abspath(b)


MAX_RANK = 4096  # U and V are d x rank per matrix; a rank above d (checked once the vectors are known) adds nothing
MAX_EPOCHS = 1000  # each epoch is a pass over the split: ~1 s for WiC train


@train_app.command("wic")
@config_options
def train_wic(
    fit_data: Annotated[Path, typer.Argument(help="WiC data file to learn from (e.g. train.data.txt).", show_default=False)],
    fit_gold: Annotated[Path, typer.Argument(help="Its gold labels.", show_default=False)],
    output: Annotated[Path, typer.Option("-o", "--output", dir_okay=False, help="Write the weights here (.npz: W_q, W_k, W_v and the settings to run them with).", show_default=False)] = ...,
    rank: Annotated[int, typer.Option("--rank", min=0, max=MAX_RANK, help="Each W = I + U V^T with U, V of this rank (at most the vectors' dimensions); 0: learn W_v alone (full, by L-BFGS), W_q = W_k = I.")] = 8,
    epochs: Annotated[Optional[int], typer.Option("--epochs", min=1, max=MAX_EPOCHS, show_default=False, help="Train this many epochs (default: chosen by cross-validation on the training split, folds grouped by target word, up to 20).")] = None,
    save_config: Annotated[Optional[Path], typer.Option("--save-config", help="Also write the settings that run these weights (read back with --config).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print what was fitted as JSON on stdout.")] = False,
    quiet: QuietOpt = False,
    *,
    config,
):
    """Learn W_q, W_k and W_v on a WiC split, starting from simple-mode attention (--heads, --seed apply).

    Example: attncli train wic train.data.txt train.gold.txt -o my.npz, then attncli embed "money bank grows" --mode qkv --weights my.npz
    """
    from .. import pipeline, wic
    from ..weightsfile import CARRIED, npz_bytes

    _stdin_once(data=fit_data, gold=fit_gold)
    if str(output) == "-":
        raise UsageError("-o -: train wic writes an .npz file, not to stdout; name the file (or -o /dev/stdout > FILE)")
    if save_config is not None and _same_file(output, save_config):
        raise UsageError(f"-o and --save-config both name {output}: the settings would replace the weights; give two files")
    if json_out and _same_file(output, "/dev/stdout"):
        raise UsageError("--json prints on stdout, and -o writes the weights there too: leave one out")
    check_writable(output)
    if save_config is not None:
        check_writable(save_config)
    if rank == 0 and epochs is not None:
        raise UsageError("--epochs is for --rank >= 1 (--rank 0 fits W_v by L-BFGS)")
    vec = pipeline.vectors_for(config)
    if rank > vec.dim:
        raise UsageError(f"--rank {rank}: at most the {vec.dim} dimensions of {vec.name} (W = I + U V^T is full at rank {vec.dim})")
    pairs, labels = wic.read_split(fit_data, fit_gold)
    training = {"data": Path(fit_data).name, "pairs": len(pairs), "vectors": vec.info()["name"], "seed": config.seed,
                "rank": rank, "heads": config.heads}
    if rank == 0:
        from .. import learn

        with progress("learning W_v", learn.steps(len(pairs)), quiet=quiet) as advance:
            fitted = learn.train_value_projection(pairs, labels, config, vec, progress=advance)
        weights, carried = fitted.weights, {k: getattr(fitted.config.resolved(), k) for k in CARRIED}
        training.update(mu=fitted.mu, cv_accuracy={f"{k:g}": v for k, v in fitted.cv_accuracy.items()},
                        train_accuracy=fitted.fit_accuracy, threshold=fitted.threshold)
    else:
        from .. import learn_qkv

        with reporting_into(None) if quiet else nullcontext():  # -q: the training's progress lines too
            trained = learn_qkv.train_qkv(pairs, labels, config, vec, rank=rank, epochs=epochs, seed=config.seed)
        weights, carried = trained.weights, trained.config
        training.update(epochs=trained.epochs, epochs_by="given" if epochs else "cross-validation",
                        cv_accuracy=trained.cv_accuracy[trained.epochs], cv_accuracy_untrained=trained.cv_accuracy[0],
                        cv_accuracy_by_epoch=trained.cv_accuracy, train_accuracy=trained.train_accuracy,
                        threshold=trained.threshold, losses=trained.losses, learned=trained.learned)
    write_file(output, npz_bytes(weights, {"config": carried, "training": training}))
    run_with = config.replace(mode="qkv", weights=str(output.resolve()), **carried)
    if save_config is not None:
        from ..configfile import settings_json

        write_file(save_config, settings_json(run_with, {"by": "attncli train wic", **training}))
    if json_out:
        print_json({"weights": str(output), "config": run_with.to_dict(), "training": training})
        return
    if rank == 0:
        cv = ", ".join(f"mu={k}: {v:.4f}" for k, v in training["cv_accuracy"].items())
        how = f"W_v learned with mu={training['mu']:g} (cross-validated by target word: {cv})"
    else:
        how = (f"W_q, W_k, W_v = I + U V^T of rank {rank}, {config.heads} head(s), {training['epochs']} epochs "
               f"({'given' if epochs else 'chosen by cross-validation'}); held-out accuracy {training['cv_accuracy']:.4f} "
               f"(before training {training['cv_accuracy_untrained']:.4f}, folds grouped by target word)")
    if not quiet:  # on stderr, as every `wrote` line: stdout may be the weights themselves (-o /dev/stdout)
        note(f"wrote {output}: {how}; accuracy on the training split {training['train_accuracy']:.4f}. "
             f"Run them with --mode qkv --weights {output}")
        if save_config is not None:
            note(f"wrote {save_config}: run them with --config {save_config}")
