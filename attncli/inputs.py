"""Reading the user's text files (or stdin for '-') with one-line errors."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from .errors import DataError


MAX_TEXT_BYTES = 1 << 26  # a whole-file read (compare -i, WiC files): 64 MiB, then one clear error


def read_text(source: str | os.PathLike, max_bytes: int = MAX_TEXT_BYTES) -> str:
    """The whole of a UTF-8 text file, or of stdin when source is '-', up to `max_bytes`
    (-i /dev/zero ends with an error, not a MemoryError)."""
    try:
        if str(source) == "-":
            if sys.stdin is None:
                raise DataError("standard input is closed: nothing to read for '-'")
            data = sys.stdin.buffer.read(max_bytes + 1)
        else:
            with open(source, "rb") as f:
                data = f.read(max_bytes + 1)
        if len(data) > max_bytes:
            where = "standard input" if str(source) == "-" else source
            raise DataError(f"{where}: longer than {max_bytes:,} bytes; for many sentences use `attncli batch -i`")
        return data.decode("utf-8")
    except FileNotFoundError:
        raise DataError(f"{source}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{source}: is a directory") from None
    except PermissionError:
        raise DataError(f"{source}: permission denied") from None
    except UnicodeDecodeError as e:
        raise DataError(f"{source}: not UTF-8 ({e.reason} at byte {e.start})") from None


def nonblank_lines(source: str | os.PathLike) -> list[str]:
    """The lines of `source` that hold more than whitespace, without their line ends."""
    return [line.rstrip("\r") for line in read_text(source).split("\n") if line.strip()]


def count_lines(path: str | os.PathLike) -> int:
    """Lines in a file (a last line without its newline counts), read in 16 MiB blocks."""
    n, last = 0, b"\n"
    with open(path, "rb") as f:
        while block := f.read(1 << 24):
            n += block.count(b"\n")
            last = block[-1:]
    return n + (last != b"\n")
