"""The dependency rules of ARCHITECTURE.md: the library never imports the data-set builders, and
its numpy-only modules load neither TensorFlow nor Keras."""

import ast
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]

# Modules a user may import without TensorFlow (numpy, and what the standard library has).
NUMPY_ONLY = ["blazepose", "blazepose.topology", "blazepose.keypoints", "blazepose.track_file",
              "blazepose.analysis.counting", "blazepose.analysis.classification",
              "blazepose.synthesis.tracks", "blazepose.synthesis.scene",
              "blazepose.synthesis.sequences", "blazepose.synthesis.crowd",
              "blazepose.detector_anchors"]

# The TFLite inference path (run_video, count_reps and the pipeline with Google's files or an
# exported .tflite): LiteRT and OpenCV, no TensorFlow or Keras until a Keras backend is asked for.
TFLITE_PATH = ["blazepose.inference.pipeline", "blazepose.inference.video", "launch.run_video",
               "launch.count_reps", "blazepose.inference.tracking", "launch.evaluate_people"]


def _imported_modules(path: pathlib.Path) -> set[str]:
    """Every module name an import statement of ``path`` names (at any depth of the file)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_library_never_imports_the_builders():
    offenders = {}
    for path in sorted((ROOT / "blazepose").rglob("*.py")):
        bad = sorted(name for name in _imported_modules(path)
                     if name == "datasets_tfds" or name.startswith("datasets_tfds."))
        if bad:
            offenders[str(path.relative_to(ROOT))] = bad
    assert not offenders, f"blazepose/ must not import datasets_tfds: {offenders}"


def test_the_import_scan_sees_nested_imports(tmp_path):
    """The scan above would catch an import hidden inside a function."""
    module = tmp_path / "m.py"
    module.write_text("def f():\n    import datasets_tfds.common\n"
                      "    from datasets_tfds import x\n")
    assert {"datasets_tfds.common", "datasets_tfds"} <= _imported_modules(module)


@pytest.mark.parametrize("module", NUMPY_ONLY)
def test_numpy_only_modules_load_no_tensorflow(module):
    code = (f"import sys, {module}\n"
            "heavy = sorted(m for m in ('tensorflow', 'keras', 'tensorflow_datasets', 'cv2')"
            " if m in sys.modules)\n"
            "print(','.join(heavy))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, check=True)
    assert result.stdout.strip() == "", f"import {module} loaded {result.stdout.strip()}"


@pytest.mark.parametrize("module", TFLITE_PATH)
def test_tflite_inference_path_loads_no_tensorflow(module):
    code = (f"import sys; sys.argv = ['x']; import {module}\n"
            "print(','.join(m for m in ('tensorflow', 'keras') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, check=True)
    assert result.stdout.strip() == "", f"import {module} loaded {result.stdout.strip()}"


def test_build_model_is_still_reachable_from_the_package():
    code = ("import sys, blazepose\n"
            "assert 'keras' not in sys.modules\n"
            "model = blazepose.build_model('lite', num_keypoints=4)\n"
            "print(model.count_params() > 0, 'keras' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, check=True)
    assert result.stdout.split() == ["True", "True"]
