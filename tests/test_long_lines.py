"""One long line: attention in fixed-size blocks with the running softmax equals the whole
matrix, whatever the block budget, the thread count or the masks; its progress is reported."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

from attncli import attention as att
from attncli import report
from attncli.batch import BatchEmbedder
from attncli.pipeline import Config, contextualize, embed, get_vectors

TOL = dict(rtol=1e-6, atol=1e-6)

CASES = [
    (att.AttentionSettings(), att.Projections.identity(50)),
    (att.AttentionSettings(similarity="cosine", scale=False, exclude_self=True, residual=0.2), att.Projections.identity(50)),
    (att.AttentionSettings(causal=True, exclude_self=True, layers=3, residual=0.2, similarity="cosine"),
     att.Projections.glorot(50, 5, 1)),
    (att.AttentionSettings(exclude_self=True, temperature=0.3, layers=2), att.Projections.glorot(50, 2, 7)),
]


def _glove_rows(n: int, seed: int = 0):
    vec = get_vectors()
    ids = np.random.default_rng(seed).integers(0, 20000, n)
    return vec.rows(ids), att.zipf_prior(ids, vec.vocab_size)  # (n, 50) real GloVe rows, (n,)


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
@pytest.mark.parametrize("settings,proj", CASES)
def test_blocks_equal_the_whole_matrix(settings, proj, monkeypatch):
    """Row blocks of 64 (the last one short), key slices of 1 to all 600 keys: the running
    softmax over slices gives the whole matrix's numbers."""
    monkeypatch.setattr(att, "BLOCK_ROWS", 64)
    x, prior = _glove_rows(600)
    whole = att.self_attention(x, settings, proj, key_bias=prior)[0]
    for block_cells in (64, 64 * 37, 64 * 600, 10**9):  # 1 key a slice, 37, all of them, more than n
        blocked = att.blocked_self_attention(x, settings, proj, prior, block_cells=block_cells)
        assert blocked.shape == whole.shape
        np.testing.assert_allclose(blocked, whole, **TOL)


def test_thread_count_does_not_change_a_bit(monkeypatch):
    """Row blocks are independent: one worker or four, the bytes are the same."""
    monkeypatch.setattr(att, "BLOCK_ROWS", 32)
    x, prior = _glove_rows(300, seed=3)
    settings, proj = CASES[2]
    outs = []
    for workers in (1, 4):
        monkeypatch.setattr(att, "MAX_WORKERS", workers)
        outs.append(att.blocked_self_attention(x, settings, proj, prior, block_cells=32 * 50))
    np.testing.assert_array_equal(outs[0], outs[1])


def test_fully_masked_rows_are_zero_not_nan(monkeypatch):
    """exclude-self on one token: nothing to attend to. causal: the first token sees itself only."""
    x = np.random.default_rng(1).normal(size=(300, 8)).astype(np.float32)
    out = att.blocked_self_attention(x[:1], att.AttentionSettings(exclude_self=True), att.Projections.identity(8))
    assert np.isfinite(out).all() and not out.any()
    monkeypatch.setattr(att, "BLOCK_ROWS", 16)
    out = att.blocked_self_attention(x, att.AttentionSettings(causal=True), att.Projections.identity(8), block_cells=16 * 5)
    np.testing.assert_allclose(out[0], x[0], **TOL)
    # causal + exclude-self: the first row has no key at all, the second sees only the first
    out = att.blocked_self_attention(x, att.AttentionSettings(causal=True, exclude_self=True),
                                     att.Projections.identity(8), block_cells=16 * 5)
    assert not out[0].any()
    np.testing.assert_allclose(out[1], x[0], **TOL)


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
def test_default_config_long_line_equals_embed(monkeypatch):
    """The CLI's path for a line too long for one batch (simple mode: cosine, prior, centering,
    exclude-self, residual) equals pipeline.embed's whole matrix."""
    monkeypatch.setattr(att, "BLOCK_ROWS", 128)
    words = [w for w in get_vectors().words[100:3000] if w.isalpha()]
    text = " ".join(np.random.default_rng(0).choice(words, 1100)) + " xqzvw"  # an OOV word, skipped or zeroed
    for cfg in (Config(), Config(oov="zero"), Config(causal=True, positions="sinusoidal", layers=2)):
        emb = BatchEmbedder(cfg, block_cells=128 * 300)
        chunk = emb.embed_chunk([(1, text)])
        np.testing.assert_allclose(chunk.contextual, embed(text, cfg).contextual, **TOL)


class _Recorder:
    def __init__(self):
        self.calls = []

    def note(self, msg):
        pass

    @contextlib.contextmanager
    def progress(self, label, total):
        seen = []
        self.calls.append((label, total, seen))
        yield seen.append


def test_long_line_reports_progress(monkeypatch):
    """A line above PROGRESS_CELLS reports query rows done, layer after layer, up to n * layers;
    a short one reports nothing."""
    monkeypatch.setattr(att, "BLOCK_ROWS", 64)
    recorder = _Recorder()
    monkeypatch.setattr(report, "_handler", recorder)
    x, prior = _glove_rows(500)
    cfg = Config(layers=2).resolved()
    proj = att.Projections.identity(50)
    monkeypatch.setattr(att, "PROGRESS_CELLS", 500 * 500 * 2 + 1)
    contextualize(x, cfg, proj, prior, block_cells=64 * 100)
    assert recorder.calls == []
    monkeypatch.setattr(att, "PROGRESS_CELLS", 500 * 500 * 2 - 1)
    out = contextualize(x, cfg, proj, prior, block_cells=64 * 100)[0]
    [(label, total, seen)] = recorder.calls
    assert label == "attention over 500 tokens" and total == 1000
    assert seen == sorted(seen) and seen[-1] == 1000 and len(seen) == 2 * 8  # 8 blocks of 64 rows per layer
    np.testing.assert_allclose(out, contextualize(x, cfg, proj, prior)[0], **TOL)


def test_batch_bar_gets_a_row_for_a_long_line(monkeypatch):
    """While the batch command shows its bar, a long line's progress is a row of it (rich draws
    one live display at a time), removed when the line is done; with -q (no bar), nothing."""
    from rich.progress import Progress

    from attncli.cli.console import reporting_into

    monkeypatch.setattr(att, "PROGRESS_CELLS", 0)
    bar = Progress(disable=True)
    rows = []
    update = bar.update
    monkeypatch.setattr(bar, "update", lambda task, **kw: (rows.append((bar._tasks[task].description, kw)), update(task, **kw)))
    words = " ".join(["bank", "river", "money", "grows"] * 300)
    before = report.installed()
    with reporting_into(bar):
        BatchEmbedder(Config(), block_cells=4096).embed_chunk([(1, words)])
    assert rows[-1] == ("attention over 1,200 tokens", {"completed": 1200})
    assert not bar.tasks  # removed again
    with reporting_into(None):
        BatchEmbedder(Config(), block_cells=4096).embed_chunk([(1, words)])
    assert report.installed() is before  # put back


def test_overflow_in_worker_threads_is_one_error_not_warnings(monkeypatch):
    """Vectors of 1e20 overflow the dot products: the blocked path, in its worker threads too,
    stays silent under the caller's np.errstate, and contextualize raises its one DataError."""
    import warnings

    from attncli.errors import DataError

    monkeypatch.setattr(att, "BLOCK_ROWS", 64)
    x = np.random.default_rng(0).normal(size=(1000, 8)).astype(np.float32) * np.float32(1e20)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DataError, match="not finite"):
            contextualize(x, Config.textbook().resolved(), att.Projections.identity(8), block_cells=64 * 100)
