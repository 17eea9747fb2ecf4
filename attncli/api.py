"""The top-level functions that take one text or many: `attncli.embed`.

    >>> import attncli
    >>> [r.tokens for r in attncli.embed(["money bank grows", "bank river flows"])]
    [['money', 'bank', 'grows'], ['bank', 'river', 'flows']]

Above pipeline (one text) and batch (many): a list goes through the batch engine.
"""

from __future__ import annotations

from typing import Iterable

from .batch import BatchError, embed_batch
from .errors import DataError, Option, UsageError
from .pipeline import MAX_ATTENTION_CELLS, Config, EmbedResult
from .pipeline import embed as embed_one
from .pipeline import with_options
from .vectors import Vectors


def embed(
    text: str | Iterable[str], config: Config | None = None, vectors: Vectors | None = None, *,
    max_attention_cells: int = MAX_ATTENTION_CELLS, pool: str | None = None, **options,
) -> EmbedResult | list[EmbedResult]:
    """Embed one sentence, `embed("money bank grows", temperature=0.5)` (pipeline.embed), or a
    list (any iterable) of them, `embed(["money bank grows", "bank river flows"])`: a list of
    results computed by the batch engine (batch.embed_batch: the numbers of one at a time,
    within float32 rounding). A text that cannot be embedded raises DataError naming its index;
    embed_batch yields a BatchError in its place instead. `options` are Config fields; `pool`
    ("mean" or "sif") adds `.sentence`, one vector per sentence (attncli.pooling)."""
    if isinstance(text, str):
        return embed_one(text, config, vectors, max_attention_cells=max_attention_cells, pool=pool, **options)
    if isinstance(text, bytes) or not isinstance(text, Iterable):
        raise UsageError(Option("text"), f" must be a string or a list of strings, not {type(text).__name__}")
    if isinstance(vectors, str):  # a source, as in Config.vectors
        options["vectors"], vectors = vectors, None
    out = []
    for r in embed_batch(text, with_options(config, options), vectors, max_attention_cells=max_attention_cells, pool=pool):
        if isinstance(r, BatchError):
            raise DataError(f"texts[{r.line - 1}]: {r.error}")
        out.append(r)
    return out
