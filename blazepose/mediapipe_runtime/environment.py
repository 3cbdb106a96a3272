"""Side virtual environments holding Google's official MediaPipe runtime, made once and cached.

MediaPipe's wheels pin what this project cannot share (``mediapipe==0.10.21``: numpy<2,
protobuf<5; both ship OpenCV and their own TFLite runtime), so they never enter the project's
environment. Each :data:`RUNTIMES` entry gets its own ``python -m venv`` under
``CACHE/mediapipe-env/<name>-<key>`` (``CACHE``: ``$BLAZEPOSE_CACHE_DIR``, see
:func:`blazepose.pretrained.files.default_cache_dir`), built in a scratch folder and renamed into
place when complete. Callers run its interpreter on a script that imports only mediapipe and
numpy (:mod:`blazepose.mediapipe_runtime.runner`).

  python -m blazepose.mediapipe_runtime.environment [tasks|legacy ...]   # prints the interpreters
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import pathlib
import subprocess
import sys

from blazepose.pretrained.files import build_folder_atomically, default_cache_dir

READY_FILE = "READY"


class RuntimeUnavailable(RuntimeError):
    """The side environment could not be made (pip's message included)."""


@dataclasses.dataclass(frozen=True)
class Runtime:
    """One pinned MediaPipe installation.

    Attributes:
      name: ``tasks`` (the current wheel, ``mediapipe.tasks`` API) or ``legacy`` (the last wheel
        our weights come from, which still has ``mediapipe.solutions.pose``).
      requirements: exact pip requirements.
    """

    name: str
    requirements: tuple[str, ...]

    @property
    def key(self) -> str:
        text = "\n".join((*self.requirements, f"python{sys.version_info[0]}."
                                              f"{sys.version_info[1]}"))
        return hashlib.sha256(text.encode()).hexdigest()[:12]


RUNTIMES = {
    "tasks": Runtime("tasks", ("mediapipe==1.2.2",)),
    "legacy": Runtime("legacy", ("mediapipe==0.10.21",)),
}


def environment_dir(name: str = "tasks", cache_dir: os.PathLike | None = None) -> pathlib.Path:
    runtime = _runtime(name)
    base = pathlib.Path(cache_dir) if cache_dir else default_cache_dir()
    return base / "mediapipe-env" / f"{runtime.name}-{runtime.key}"


def _runtime(name: str) -> Runtime:
    try:
        return RUNTIMES[name]
    except KeyError:
        raise ValueError(f"unknown MediaPipe runtime {name!r}; known: {sorted(RUNTIMES)}"
                         ) from None


def _python_of(directory: pathlib.Path) -> pathlib.Path:
    return directory / "bin" / "python"


def ensure_python(name: str = "tasks", cache_dir: os.PathLike | None = None,
                  print_fn=print) -> pathlib.Path:
    """The interpreter of runtime ``name``'s environment; makes the environment the first time.

    Raises:
      RuntimeUnavailable: venv or pip failed (their output is in the message).
    """
    runtime = _runtime(name)
    target = environment_dir(name, cache_dir)

    def install(scratch: pathlib.Path) -> None:
        print_fn(f"installing MediaPipe ({', '.join(runtime.requirements)}) into {target}")
        commands = [
            [sys.executable, "-m", "venv", os.fspath(scratch)],
            [os.fspath(_python_of(scratch)), "-m", "pip", "install", "--quiet",
             "--disable-pip-version-check", *runtime.requirements],
        ]
        for command in commands:
            result = subprocess.run(command, capture_output=True, text=True, check=False)
            if result.returncode != 0:
                raise RuntimeUnavailable(f"`{' '.join(command)}` failed (exit "
                                         f"{result.returncode}):\n{result.stderr[-3000:]}")

    directory = build_folder_atomically(target, install, READY_FILE,
                                        "\n".join(runtime.requirements) + "\n")
    return _python_of(directory)


def main(argv: list[str]) -> int:
    for name in argv[1:] or ["tasks"]:
        print(ensure_python(name))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
