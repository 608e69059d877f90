"""What every ``meanclust`` sub-command shares: the parser and help layout, argument types that
check ranges while parsing, the checks of output paths, progress-bar defaults, and the
exception that reports an interrupted run.

**Errors.** A bad argument ends the command before any work with exit code 2 and one line on
stderr, ``meanclust <command>: error: <message>``, never a traceback (`main` in
``meanclust_jax.cli``). Ctrl-C (SIGINT) ends it with exit code 130 and one line saying what
was saved and how to resume.

**Files.** An existing output file is never replaced unless ``--force`` (alias ``--overwrite``)
is given; outputs are written atomically (`meanclust_jax._io.atomic_path`), so a failed or
interrupted command leaves an existing file as it was. Symbolic links: an input (a trajectory,
a closure, a checkpoint being resumed) is read through the link; an output path that is a link
is *replaced by the new file* (with ``--force``), and the file the link pointed to is never
written.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

from .._validate import check_float, check_int, check_seed

#: Exit codes: bad input (argparse's own) and interrupted by SIGINT (128 + 2, the shell's).
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


class Interrupted(Exception):  # noqa: N818 - it is not an error of the user's
    """Raised by a command that caught ``KeyboardInterrupt``; the message says what was saved
    and how to resume (printed as one line by `meanclust_jax.cli.main`)."""


@contextlib.contextmanager
def sigint_checkpoints() -> Iterator[Callable[[], None]]:
    """Make Ctrl-C reliable during a long command; yields ``check()``.

    Python delivers SIGINT as a ``KeyboardInterrupt`` wherever the interpreter happens to be; if
    that is a garbage-collector callback or a ``__del__`` (JAX runs some), the exception is
    printed as "ignored" and the run goes on. The handler installed here also records the
    signal, and ``check()``, called at safe points (between chunks of an annealing run, between
    the steps of a study), raises ``KeyboardInterrupt`` if one was recorded, so an interrupt is
    honoured at the next safe point at the latest; the "ignored" report of such a swallowed
    interrupt is not printed. Outside the main thread nothing is installed.
    """
    hit = threading.Event()

    def handler(_signum: int, _frame: FrameType | None) -> NoReturn:
        hit.set()
        raise KeyboardInterrupt

    def check() -> None:
        if hit.is_set():
            raise KeyboardInterrupt

    def unraisable(info: sys.UnraisableHookArgs) -> None:
        if not isinstance(info.exc_value, KeyboardInterrupt):  # ours: recorded, raised by check()
            previous_hook(info)

    if threading.current_thread() is not threading.main_thread():
        yield check
        return
    previous, previous_hook = signal.signal(signal.SIGINT, handler), sys.unraisablehook
    sys.unraisablehook = unraisable
    try:
        yield check
    finally:
        signal.signal(signal.SIGINT, previous)
        sys.unraisablehook = previous_hook


class Parser(argparse.ArgumentParser):
    """`argparse.ArgumentParser` whose errors are one line, ``<prog>: error: <message>``, with
    exit code 2 (the usage block is left to ``--help``)."""

    def error(self, message: str) -> NoReturn:
        """Print one line and exit with code 2."""
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


class HelpFormatter(argparse.HelpFormatter):
    """Help with each default printed once, as ``(default: X)`` after the text, unless the text
    already states it or there is none; descriptions wrapped, the example epilog kept as
    written."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (
            "default" in text.lower()
            or not action.option_strings
            or action.required
            or action.default is None
            or action.default is False
            or action.default is argparse.SUPPRESS
        ):
            return text
        return f"{text} (default: %(default)s)"

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.startswith(("example:", "examples:")):
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def example(*commands: str) -> str:
    """The epilog that ends every ``--help``: ``example:`` and the command lines."""
    word = "example" if len(commands) == 1 else "examples"
    return f"{word}:\n" + "\n".join(f"  {c}" for c in commands)


def add_parser(sub: argparse._SubParsersAction, name: str, *, examples: tuple[str, ...], **kw: Any) -> Parser:
    """``sub.add_parser`` with the shared formatter and an example epilog."""
    return sub.add_parser(name, formatter_class=HelpFormatter, epilog=example(*examples), **kw)


def _type(name: str, check: Callable[[object], object], convert: Callable[[str], object]) -> Callable[[str], object]:
    """An argparse ``type`` that converts the text and runs a `_validate` check; the message
    is the check's without its leading value name (argparse adds ``argument --flag:``)."""

    def parse(text: str) -> object:
        try:
            value = convert(text)
        except ValueError:
            value = text
        try:
            return check(value)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err).removeprefix("value ")) from None

    parse.__name__ = name
    return parse


def integer(minimum: int | None = None, maximum: int | None = None) -> Callable[[str], object]:
    """Argument type: an integer in ``[minimum, maximum]``."""
    return _type("integer", lambda v: check_int(v, "value", minimum=minimum, maximum=maximum), int)


def real(minimum: float | None = None, maximum: float | None = None, *, open_min: bool = False,
         open_max: bool = False) -> Callable[[str], object]:
    """Argument type: a finite number in the given range (``nan``/``inf`` refused)."""
    return _type("real", lambda v: check_float(v, "value", minimum=minimum, maximum=maximum,
                                                open_min=open_min, open_max=open_max), float)


#: Argument type of every ``--seed``: an integer in ``[0, 2**64 - 1]``.
seed = _type("seed", lambda v: check_seed(v, "value"), int)


def add_force(p: argparse.ArgumentParser, what: str = "--out") -> None:
    """``--force`` / ``--overwrite``: allow replacing existing output files."""
    p.add_argument("--force", "--overwrite", dest="force", action="store_true",
                   help=f"replace {what} if it exists (without it an existing file is never touched)")


def add_no_progress(p: argparse.ArgumentParser) -> None:
    """``--no-progress``; bars are shown by default when stderr is a terminal."""
    p.add_argument("--no-progress", action="store_true",
                   help="hide progress bars (shown by default when stderr is a terminal)")


def show_progress(args: argparse.Namespace) -> bool:
    """Progress bars on: not ``--no-progress`` and stderr is a terminal."""
    if getattr(args, "no_progress", False):
        return False
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def check_output_file(path: str | os.PathLike[str], *, flag: str = "--out", force: bool = False,
                      suffix_hint: str = "") -> Path:
    """Check, before any work, that a file can be written at ``path``.

    **Raises:** `ValueError` naming ``flag`` if the path is empty or an existing folder, its
    folder is missing or not writable, or the file exists (or is a link) and ``force`` is off.
    """
    if not str(path).strip():
        raise ValueError(f"{flag} must be a file name, got {str(path)!r}")
    p = Path(path).expanduser()
    if p.is_dir() and not p.is_symlink():
        raise ValueError(f"{flag} {str(path)!r} is an existing folder; give a file name inside it"
                         + (f" such as {str(p / suffix_hint)!r}" if suffix_hint else ""))
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise ValueError(f"{flag} {str(path)!r}: folder {str(parent)!r} does not exist")
    _probe_writable(parent, p.name, flag, path)
    if (p.exists() or p.is_symlink()) and not force:
        state = "is a link (with --force the link is replaced, never its target)" if p.is_symlink() else "exists"
        raise ValueError(f"{flag} {str(path)!r} {state}; use --force to replace it, or choose another name")
    return p


def check_output_folder(path: str | os.PathLike[str], *, flag: str) -> Path:
    """Check that ``path`` is an existing writable folder or can be created (nothing is created).

    **Raises:** `ValueError` naming ``flag``.
    """
    if not str(path).strip():
        raise ValueError(f"{flag} must be a folder name, got {str(path)!r}")
    p = Path(path).expanduser()
    if p.exists() and not p.is_dir():
        raise ValueError(f"{flag} {str(path)!r} exists and is not a folder")
    probe = p
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise ValueError(f"{flag} {str(path)!r} is not a writable folder: {str(probe)!r} is a file")
    _probe_writable(probe, p.name, flag, path, what="is not a writable folder")
    return p


def _probe_writable(folder: Path, name: str, flag: str, path: str | os.PathLike[str], *,
                    what: str = "cannot be written") -> None:
    """Create and remove a temporary file in ``folder`` (``os.access`` says yes to root even on a
    read-only file system); the name is that of `meanclust_jax._io.atomic_path`'s files."""
    import tempfile

    try:
        fd, probe = tempfile.mkstemp(prefix=f".{name}.pid{os.getpid()}.", suffix=".tmp", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise ValueError(
            f"{flag} {str(path)!r} {what}: folder {str(folder)!r} is not writable ({err.strerror or err})"
        ) from None


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Whether two paths name the same file (after resolving links), existing or not."""
    pa, pb = Path(a).expanduser(), Path(b).expanduser()
    try:
        if pa.exists() and pb.exists():
            return os.path.samefile(pa, pb)
    except OSError:
        pass
    return pa.resolve() == pb.resolve()


__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_INTERRUPTED",
    "HelpFormatter",
    "Interrupted",
    "Parser",
    "add_force",
    "add_no_progress",
    "add_parser",
    "check_output_file",
    "check_output_folder",
    "example",
    "integer",
    "real",
    "same_file",
    "seed",
    "show_progress",
    "sigint_checkpoints",
]
