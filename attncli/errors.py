"""attncli's own exceptions. The library raises them; the CLI turns each into one line on
stderr and its exit code: 1 for bad data or state, 2 for bad usage."""


class AttncliError(Exception):
    exit_code = 1


class DataError(AttncliError):
    """The input, a vector file or a weights file cannot be used."""

    exit_code = 1


class UsageError(AttncliError):
    """Options that do not fit together, or out of range."""

    exit_code = 2


class Terminated(BaseException):
    """SIGTERM, raised where the program is, like Ctrl-C's KeyboardInterrupt, so that the same
    clean-up runs (temp files removed, nothing left under the final name); the CLI exits 143.
    A BaseException: no `except Exception` swallows it."""
