"""--engine dask at its edges (docs/errors.md, "Dask"): a scheduler address that is not Dask, a
listener that never answers, Ctrl-C once or twice, SIGTERM to the run or to its whole process
group, a full disk inside a worker. Each ends with one line and its exit code within seconds,
leaves no worker running and no shard without its manifest (nor any temp) in -o.
"""

from __future__ import annotations

import http.server
import os
import random
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from attncli.cli import app

from .test_hostile import ATTNCLI, ROOT, assert_error

pytest.importorskip("distributed")


def cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture
def files(tmp_path) -> Path:
    d = tmp_path / "corpus"
    d.mkdir()
    for i in range(3):
        (d / f"f{i}.txt").write_text("money bank grows\nthe river bank\n")
    return d


@pytest.fixture
def quick(monkeypatch):
    import attncli.dask_engine as de

    monkeypatch.setattr(de, "CONNECT_TIMEOUT", 1.0)


def _serve(handler) -> tuple[str, socket.socket]:
    """A listener on localhost running `handler(conn)` for each connection, in threads."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)

    def loop():
        while True:
            try:
                conn, _ = s.accept()
            except OSError:
                return
            threading.Thread(target=handler, args=(conn,), daemon=True).start()

    threading.Thread(target=loop, daemon=True).start()
    return f"tcp://127.0.0.1:{s.getsockname()[1]}", s


def _silent(conn):
    time.sleep(30)  # accepts, never answers


def _garbage(conn):
    conn.recv(1 << 16)
    conn.sendall(random.Random(0).randbytes(4096))
    time.sleep(5)


@pytest.fixture
def http_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"tcp://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.parametrize("command", ["batch", "senses"])
@pytest.mark.parametrize("kind", ["http", "silent", "garbage", "refused"])
def test_a_scheduler_that_is_not_dask_is_one_line_within_the_timeout(files, tmp_path, quick, http_server, command, kind):
    if kind == "http":
        address, listener = http_server, None
    elif kind == "refused":
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            address, listener = f"tcp://127.0.0.1:{s.getsockname()[1]}", None  # closed: nothing listens there
    else:
        address, listener = _serve(_silent if kind == "silent" else _garbage)
    out = tmp_path / "out"
    t0 = time.monotonic()
    if command == "batch":
        r = cli("batch", "-i", files / "*.txt", "--engine", "dask", "--scheduler", address, "-o", out)
    else:
        r = cli("senses", "bank", "-i", files / "*.txt", "--engine", "dask", "--scheduler", address)
    line = assert_error(r, 1, address)
    assert time.monotonic() - t0 < 8, line
    assert not out.exists()  # checked before anything is made
    if listener is not None:
        listener.close()


# ---------------------------------------------------------------- signals on local worker processes


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> Path:
    """4 files of 60,000 lines: about 2 s of work on 2 cores."""
    d = tmp_path_factory.mktemp("big")
    rng = random.Random(0)
    words = "the bank river money grows flows water loan interest rate sat on we of a in".split()
    for i in range(4):
        (d / f"f{i}.txt").write_text("\n".join(" ".join(rng.choice(words) for _ in range(12)) for _ in range(60_000)) + "\n")
    return d


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry))
    return out


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _new_group():
    os.setpgid(0, 0)  # a shell's foreground job: Ctrl-C reaches every process of the group
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _fails(x):
    raise ValueError(f"task {x} failed")


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
def test_a_failed_local_run_leaves_no_pool_for_the_exit_hook_to_race():
    """CI, once: 'interrupted' then a traceback from concurrent.futures' exit hook, which wrote
    to the wake-up pipe of the killed pool while its manager thread was closing it. After a
    failed run every pool manager has ended (its pipe closed) or is off the hook's list."""
    import concurrent.futures.process as cfp

    import dask

    from attncli import dask_engine

    with pytest.raises(ValueError, match="failed"):
        dask_engine._compute_local(dask, [dask.delayed(_fails, pure=False)(i) for i in range(4)])
    assert [w for t, w in list(cfp._threads_wakeups.items()) if t.is_alive() or not w._closed] == []


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
@pytest.mark.parametrize("signals, group, code", [
    ([signal.SIGINT], True, 130),  # Ctrl-C in the terminal: the run and its workers
    ([signal.SIGINT, signal.SIGINT], True, 130),  # Ctrl-C twice: hung 13 minutes in multiprocessing's exit handler
    ([signal.SIGTERM], False, 143),  # kill PID: the workers were orphaned
    ([signal.SIGTERM], True, 143),  # kill -- -PGID: the workers die first
])
def test_a_signal_ends_the_run_its_workers_and_leaves_nothing(big, tmp_path, signals, group, code):
    out = tmp_path / "out"
    p = subprocess.Popen([ATTNCLI, "batch", "-i", str(big / "*.txt"), "--engine", "dask", "-o", str(out), "-q"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=_new_group)
    t0 = time.monotonic()
    while len(_children(p.pid)) < 2 and time.monotonic() - t0 < 30:  # the workers have started
        time.sleep(0.05)
    time.sleep(0.5)
    workers = _children(p.pid)
    assert p.poll() is None and workers, "the run ended before the signal: make the corpus bigger"
    for sig in signals:
        os.killpg(p.pid, sig) if group else p.send_signal(sig)
        time.sleep(0.2)
    _, err = p.communicate(timeout=30)  # a regression hangs: the timeout fails it
    assert_error(subprocess.CompletedProcess(p.args, p.returncode, b"", err), code)
    time.sleep(0.5)
    assert [w for w in workers if _running(w)] == []
    assert list(out.iterdir()) == []  # no shard without its manifest, no temp


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
def test_after_an_interrupted_run_the_next_one_is_whole(big, tmp_path):
    out = tmp_path / "out"
    p = subprocess.Popen([ATTNCLI, "batch", "-i", str(big / "*.txt"), "--engine", "dask", "-o", str(out), "-q"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=_new_group)
    time.sleep(1.5)
    workers = _children(p.pid)
    p.kill()  # kill -9: the staging folder stays, named after the dead pid
    p.wait(30)
    time.sleep(0.5)
    assert [w for w in workers if _running(w)] == []  # the kernel ended the workers with their parent
    r = subprocess.run([ATTNCLI, "batch", "-i", str(big / "*.txt"), "--engine", "dask", "-o", str(out), "-q"], capture_output=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert sorted(q.name for q in out.iterdir()) == ["manifest.json"] + [f"shard-{i:05d}.npz" for i in range(4)]


# ---------------------------------------------------------------- on a cluster


@pytest.fixture(scope="module")
def cluster():
    import distributed

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c:
        yield c


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_on_a_cluster_run_cancels_it_and_leaves_nothing(big, tmp_path, cluster, sig, code):
    out = tmp_path / "out"
    p = subprocess.Popen([ATTNCLI, "batch", "-i", str(big / "*.txt"), "--engine", "dask", "--scheduler", cluster.scheduler_address,
                          "-o", str(out), "-q"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(2.5)
    assert p.poll() is None
    p.send_signal(sig)
    _, err = p.communicate(timeout=30)
    assert_error(subprocess.CompletedProcess(p.args, p.returncode, b"", err), code)
    time.sleep(2)  # what the workers still had is cancelled: nothing appears later either
    assert list(out.iterdir()) == []


@pytest.mark.slow  # over 0.15 s: `make test` runs it, `make test-fast` leaves it out
@pytest.mark.skipif(not ROOT, reason="mounting a tmpfs needs root")
@pytest.mark.parametrize("scheduler", [False, True])
def test_a_full_disk_inside_the_workers_is_one_line(files, tmp_path, cluster, scheduler):
    mnt = tmp_path / "full"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        for f in files.iterdir():
            f.write_text("money bank grows the river bank flows\n" * 3000)
        extra = ["--scheduler", cluster.scheduler_address] if scheduler else []
        r = subprocess.run([ATTNCLI, "batch", "-i", str(files / "*.txt"), "--engine", "dask", "-o", str(mnt / "out"), "-q", *extra],
                           capture_output=True, timeout=120)
        assert_error(r, 1, "No space left on device")
        assert list((mnt / "out").iterdir()) == []
    finally:  # a worker may still be ending the cancelled task: try for a while, then detach it
        for _ in range(50):
            if subprocess.run(["umount", str(mnt)], capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        else:
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
