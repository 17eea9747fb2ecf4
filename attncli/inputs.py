"""Reading the user's text files (or stdin for '-') with one-line errors."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from .errors import DataError


def read_text(source: str | os.PathLike) -> str:
    """The whole of a UTF-8 text file, or of stdin when source is '-'."""
    try:
        data = sys.stdin.buffer.read() if str(source) == "-" else Path(source).read_bytes()
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
