"""`attncli eval wic` and `attncli train wic`: the Word-in-Context benchmark."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .app import eval_app, train_app
from .console import print_json, print_renderables, progress, warn, write_file
from .options import config_options


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
    from .. import pipeline, wic

    eval_pairs, eval_labels = wic.read_split(eval_data, eval_gold)
    fit_pairs, fit_labels = wic.read_split(fit_data, fit_gold)
    vec = pipeline.vectors_for(config)
    trials = len(list(wic.grid(config))) if tune else 1
    total = trials * len(fit_pairs) + len(eval_pairs)
    with progress("scoring WiC pairs", total) as advance:
        result = wic.evaluate(eval_pairs, eval_labels, fit_pairs, fit_labels, config, vec, tune=tune, progress=advance)
    if result.unknown_targets:
        warn(f"{result.unknown_targets} eval target word(s) out of the vocabulary: each taking part as a zero vector (it gets its sentence's prior-weighted mean)")
    if save_config is not None:
        from ..configfile import settings_json

        notes = {"by": "attncli eval wic --tune" if tune else "attncli eval wic", "fit_data": str(fit_data),
                 "fit_accuracy": result.fit_accuracy, "threshold": result.threshold}
        write_file(save_config, settings_json(result.config, notes))
    if json_out:
        print_json({"accuracy": result.accuracy, "threshold": result.threshold, "n": result.n,
                     "config": result.config.to_dict()})
        return
    from ..render import wic_renderables

    print_renderables(wic_renderables(result, str(eval_data), str(fit_data)))


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
    from .. import learn, pipeline, wic

    pairs, labels = wic.read_split(fit_data, fit_gold)
    vec = pipeline.vectors_for(config)
    with progress("learning W_v", learn.steps(len(pairs))) as advance:
        trained = learn.train_value_projection(pairs, labels, config, vec, progress=advance)
    import io

    import numpy as np

    buffer = io.BytesIO()
    np.savez(buffer, **trained.weights)
    write_file(output, buffer.getvalue())
    run_with = trained.config.replace(weights=str(output.resolve()))
    if save_config is not None:
        from ..configfile import settings_json

        notes = {"by": "attncli train wic", "fit_data": str(fit_data), "mu": trained.mu,
                 "fit_accuracy": trained.fit_accuracy, "cv_accuracy": {str(k): v for k, v in trained.cv_accuracy.items()}}
        write_file(save_config, settings_json(run_with, notes))
    summary = {"weights": str(output), "mu": trained.mu, "cv_accuracy": {str(k): v for k, v in trained.cv_accuracy.items()},
               "fit_accuracy": trained.fit_accuracy, "threshold": trained.threshold, "config": run_with.to_dict()}
    if json_out:
        print_json(summary)
        return
    cv = ", ".join(f"mu={k:g}: {v:.4f}" for k, v in trained.cv_accuracy.items())
    print(f"wrote {output}: W_v learned with mu={trained.mu:g} (cross-validated by target word: {cv}); "
          f"accuracy on the fit split {trained.fit_accuracy:.4f}")
    if save_config is not None:
        print(f"wrote {save_config}: run them with --config {save_config}")
