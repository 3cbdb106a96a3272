"""Thin absl-flags programs: each parses flags, builds a typed config and calls the library.

Importing this package (``python -m launch.X`` and the ``blazepose-*`` console scripts both do,
before the program's own module runs) keeps the console for the program's own progress and
results: TensorFlow's, TFDS's and absl's INFO logging stay quiet unless absl's standard
``--verbosity`` (``-v``) flag asks for them.

- TF's C++ logging: ``TF_CPP_MIN_LOG_LEVEL`` defaults to 2 (errors only), or 0 with
  ``--verbosity`` >= 0; a value already in the environment wins. TF 2.21 prints a few C++ lines
  while ``import tensorflow`` runs (oneDNN, CUDA stubs) before it reads that variable; the
  first import of TF is therefore wrapped so that the lines it prints below the level are
  dropped and everything else (errors, Python warnings) is written as it came.
- Python logging (absl, ``tensorflow``, ``tensorflow_datasets``, Keras: all through the root
  logger): WARNING unless ``--verbosity`` was given, in which case absl's own handling of the
  flag applies (0 = INFO, 1 = DEBUG).

Errors the user can act on (bad input: ``ValueError`` and its kin such as ``RunError`` or
``InvalidRecordError``, ``OSError`` such as ``FileNotFoundError``, TF's ``DataLossError``, the
trainer's ``NonFiniteLossError``) end a program with one line, ``launch.train: error: MESSAGE``
(the message names the file, record or flag; at most :data:`MAX_ERROR_LINES` lines of it), and
no traceback, unless ``--verbosity`` >= 1 or ``BLAZEPOSE_TRACEBACK=1`` asks for it. Other
exceptions (bugs) keep Python's traceback. ``app.UsageError`` keeps absl's handling.

The C++ level is decided from the command line as typed (``--verbosity=N``, ``--verbosity N``,
``-v N``, ``-v=N``), as the programs may load TF before absl parses the flags; a
``--verbosity`` inside a ``--flagfile`` sets the Python levels only.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import os
import re
import sys
import tempfile

from absl import app, flags
from absl import logging as absl_logging

_VERBOSITY_ARG = re.compile(r"^--?(?:v|verbosity)(?:=(.*))?$")
# absl C++ (``I0000 00:00:1796572231.032905 13406 port.cc:153] ...``: seconds since the epoch
# before absl's logging is initialised) and TF's older format
# (``2025-09-17 14:44:05.157831: I external/.../cudart_stub.cc:32] ...``); group 1 or 2 is the
# severity letter.
_CPP_LOG_LINE = re.compile(
    r"^(?:([IWEF])\d{4} \d+:\d+:\d+\.\d+ +\d+ [\w.\-]+:\d+\]"
    r"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: ([IWEF]) \S+:\d+\])")
# Printed by absl C++ before its first message while logging is not initialised, and the second
# line of TF's cpu_feature_guard INFO message.
_CPP_PREAMBLES = ("WARNING: All log messages before absl::InitializeLog() is called",
                  "To enable the following instructions:")
_SEVERITIES = "IWEF"  # TF_CPP_MIN_LOG_LEVEL 0..3 hides the letters before its index


def requested_verbosity(argv: list[str]) -> int | None:
    """The last ``--verbosity``/``-v`` value on the command line ``argv`` (None: not given or
    not an integer, which absl reports itself when it parses the flags)."""
    value = None
    args = iter(argv[1:])
    for arg in args:
        if arg == "--":
            break
        match = _VERBOSITY_ARG.match(arg)
        if match:
            text = match.group(1) if match.group(1) is not None else next(args, "")
            try:
                value = int(text)
            except ValueError:
                value = None
    return value


def cpp_log_level(verbosity: int | None) -> str:
    """``TF_CPP_MIN_LOG_LEVEL`` for an absl verbosity: all C++ lines from INFO (0) up, else
    errors only."""
    return "0" if verbosity is not None and verbosity >= 0 else "2"


def keep_cpp_line(line: str, min_level: int) -> bool:
    """Whether a line TF printed while loading passes ``TF_CPP_MIN_LOG_LEVEL=min_level``."""
    if min_level <= 0:
        return True
    if line.startswith(_CPP_PREAMBLES):
        return False
    match = _CPP_LOG_LINE.match(line)
    if match is None:
        return True
    severity = match.group(1) or match.group(2)
    return _SEVERITIES.index(severity) >= min_level


@contextlib.contextmanager
def _filtered_stderr(min_level: int):
    """Collects what is written to file descriptor 2 (C++ and Python alike) and writes back
    the lines ``keep_cpp_line`` keeps when the block ends."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no usable stderr: nothing to filter
        yield
        return
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            text = capture.read().decode("utf-8", errors="replace")
            kept = [line for line in text.splitlines(keepends=True)
                    if keep_cpp_line(line, min_level)]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()


class _QuietTensorFlowImport(importlib.abc.MetaPathFinder):
    """Finds nothing itself: on the first ``import tensorflow`` it lets the other finders find
    the package and runs the package's loading inside :func:`_filtered_stderr`."""

    def __init__(self, min_level: int):
        self.min_level = min_level

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "tensorflow":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        loader, min_level = spec.loader, self.min_level
        load = loader.exec_module

        def exec_module(module):
            try:
                with _filtered_stderr(min_level):
                    load(module)
            finally:
                del loader.exec_module  # the loader's own method again

        loader.exec_module = exec_module
        return spec


TRACEBACK_ENV = "BLAZEPOSE_TRACEBACK"
"""Environment variable: set to 1 to see the traceback of user errors too."""

MAX_ERROR_LINES = 12
"""Lines of a user error's message printed (a list of bad records may be long)."""

USER_ERROR_TYPES = frozenset({"ValueError", "OSError", "DataLossError", "NonFiniteLossError"})
"""Exception classes (by name, so that TF need not be imported) whose instances, or those of
their subclasses, are the user's to fix: reported as one line without a traceback."""


def is_user_error(error: BaseException) -> bool:
    """Whether ``error`` is an instance of one of :data:`USER_ERROR_TYPES` (by class name)."""
    return any(cls.__name__ in USER_ERROR_TYPES for cls in type(error).__mro__)


def wants_traceback(argv: list[str], environ=os.environ) -> bool:
    """``--verbosity`` >= 1 on the command line, or ``BLAZEPOSE_TRACEBACK`` set to a true
    value."""
    verbosity = requested_verbosity(argv)
    return (verbosity is not None and verbosity >= 1) or environ.get(
        TRACEBACK_ENV, "").strip().lower() in ("1", "true", "yes")


def user_error_text(program: str, error: BaseException) -> str:
    """``PROGRAM: error: MESSAGE`` (at most :data:`MAX_ERROR_LINES` lines of the message), and
    how to see the traceback."""
    lines = (str(error).strip() or type(error).__name__).splitlines()
    if len(lines) > MAX_ERROR_LINES:
        lines = lines[:MAX_ERROR_LINES] + [f"... ({len(lines) - MAX_ERROR_LINES} more lines)"]
    # The messages name the problem; TF's DataLossError's ("corrupted record at 12") does not.
    kind = "damaged data: " if type(error).__name__ == "DataLossError" else ""
    return (f"{program}: error: {kind}" + "\n".join(lines)
            + f"\n(--verbosity=1 or {TRACEBACK_ENV}=1 shows the traceback)\n")


def _program_name() -> str:
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    return spec.name if spec is not None and spec.name else os.path.basename(sys.argv[0])


def _user_error_hook(previous):
    def hook(error_type, error, traceback):
        if error is not None and is_user_error(error) and not wants_traceback(sys.argv):
            sys.stderr.write(user_error_text(_program_name(), error))
            sys.stderr.flush()
            return
        previous(error_type, error, traceback)

    hook.user_error_hook = True
    return hook


def _quiet_python_logging() -> None:
    """After absl parsed the flags: WARNING for the root logger (absl's handler) unless
    ``--verbosity`` was given (absl then set the level from it)."""
    if not flags.FLAGS["verbosity"].present:
        absl_logging.set_verbosity(absl_logging.WARNING)


def _configure() -> None:
    verbosity = requested_verbosity(sys.argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", cpp_log_level(verbosity))
    try:
        min_level = int(os.environ["TF_CPP_MIN_LOG_LEVEL"])
    except ValueError:
        min_level = 0
    if min_level > 0 and "tensorflow" not in sys.modules and not any(
            isinstance(finder, _QuietTensorFlowImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlowImport(min_level))
    app.call_after_init(_quiet_python_logging)
    if not getattr(sys.excepthook, "user_error_hook", False):
        sys.excepthook = _user_error_hook(sys.excepthook)


_configure()
