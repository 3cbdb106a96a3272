"""An isolated package folder for the TensorFlow.js converter, created once and re-used.

``tensorflowjs`` 4.22 declares dependencies this project cannot share (JAX, Flax,
TensorFlow Decision Forests, which pins another TensorFlow, and ``packaging~=23.1``); installing
it into the project's environment would downgrade or break TensorFlow. Its SavedModel converter
needs none of them: it runs on this environment's TensorFlow with three pure-Python packages,
installed with ``pip --no-deps --target`` into ``CACHE/tfjs-env/<key>`` (``CACHE`` is
``$BLAZEPOSE_CACHE_DIR``, see ``blazepose.pretrained.files.default_cache_dir``) and put on the
converter subprocess's ``PYTHONPATH`` only. The converter imports two of the declared
dependencies without using them for SavedModels (Decision Forests, JAX's converter module); the
runner script ``tfjs_runner.py`` gives it empty stand-ins for those.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import subprocess
import sys

from blazepose.export.config import ExportError
from blazepose.pretrained.files import build_folder_atomically, default_cache_dir

# Exact versions: the converter with the Keras 2 package matching TF 2.21 and TF Hub (both
# imported by its modules).
TFJS_PACKAGES = ("tensorflowjs==4.22.0", "tf-keras==2.21.0", "tensorflow-hub==0.16.1")
READY_FILE = "READY"


def environment_key(packages=TFJS_PACKAGES) -> str:
    text = "\n".join((*packages, f"python{sys.version_info[0]}.{sys.version_info[1]}"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def default_environment_dir(cache_dir: os.PathLike | None = None) -> pathlib.Path:
    base = pathlib.Path(cache_dir) if cache_dir else default_cache_dir()
    return base / "tfjs-env" / environment_key()


def ensure_environment(cache_dir: os.PathLike | None = None, print_fn=print) -> pathlib.Path:
    """The folder holding the converter's packages; installs them the first time.

    Raises:
      ExportError: pip failed (its output is in the message).
    """
    target = default_environment_dir(cache_dir)

    def install(scratch: pathlib.Path) -> None:
        print_fn(f"installing the TF.js converter ({', '.join(TFJS_PACKAGES)}) into {target}")
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                   "--disable-pip-version-check", "--target", os.fspath(scratch),
                   *TFJS_PACKAGES]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise ExportError(f"installing the TF.js converter failed ({' '.join(command)}):\n"
                              f"{result.stderr[-3000:]}")

    return build_folder_atomically(target, install, READY_FILE, "\n".join(TFJS_PACKAGES) + "\n")
