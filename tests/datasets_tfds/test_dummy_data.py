"""Every builder's dummy-data script writes exactly its committed dummy data.

``datasets_tfds/<name>/dummy_data/make_dummy_data.py`` (with ``datasets_tfds.dummy_data_tools``)
must reproduce the files beside it, so the dummy data can be regenerated after a format change.
Pictures are compared decoded, within 8 levels (JPEG encoders differ between TensorFlow builds);
files that do not decode (yoga82's saved HTML error page) and all other files byte for byte.
MPII's compressed ``.mat`` (zlib versions differ) is compared as loaded, in ``test_mpii.py``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import tensorflow as tf

ROOT = Path(__file__).parents[2]
BUILDERS = ["coco_keypoints", "custom_pose", "lsp", "lspet", "mpii", "pushups", "yoga82"]
COMPARED_AS_LOADED = {"mpii": {"mpii_human_pose_v1_u12_1.mat"}}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}


def load_script(dummy: Path) -> ModuleType:
    """``dummy/make_dummy_data.py`` as a module (the scripts are not in a package)."""
    spec = importlib.util.spec_from_file_location(f"{dummy.parent.name}_make_dummy_data",
                                                  dummy / "make_dummy_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def data_files(folder: Path) -> list[Path]:
    """Files below ``folder`` other than Python sources and caches, relative to it."""
    return sorted(path.relative_to(folder) for path in folder.rglob("*")
                  if path.is_file() and path.suffix != ".py" and "__pycache__" not in path.parts)


def decoded(data: bytes) -> np.ndarray | None:
    """Pixels as int ``[H, W, C]``, or None for bytes that are no image."""
    try:
        return tf.io.decode_image(data, expand_animations=False).numpy().astype(int)
    except tf.errors.InvalidArgumentError:
        return None


@pytest.mark.parametrize("name", BUILDERS)
def test_script_writes_the_committed_dummy_data(name, tmp_path):
    dummy = ROOT / "datasets_tfds" / name / "dummy_data"
    load_script(dummy).write_folder(tmp_path)
    committed = data_files(dummy)
    assert data_files(tmp_path) == committed
    for relative in committed:
        if relative.name in COMPARED_AS_LOADED.get(name, ()):
            continue
        ours, theirs = (tmp_path / relative).read_bytes(), (dummy / relative).read_bytes()
        pixels = decoded(theirs) if relative.suffix.lower() in IMAGE_SUFFIXES else None
        if pixels is None:
            assert ours == theirs, relative
        else:
            assert np.abs(decoded(ours) - pixels).max() <= 8, relative
