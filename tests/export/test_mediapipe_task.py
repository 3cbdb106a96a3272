"""The ``mediapipe_task`` export: MediaPipe's TFLite metadata, the interface checks made before
anything is written, and bundles loaded and run by Google's own runtime (mediapipe 1.2.2 in its
side environment, made once per cache folder: about a minute from PyPI)."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.lite.python import schema_py_generated as tflite_schema

import blazepose
from blazepose import topology
from blazepose.export import (
                              ExportConfig,
                              ExportError,
                              exporter,
                              mediapipe_task,
                              runtimes,
                              sources,
                              task_export,
)
from blazepose.mediapipe_runtime import client, environment
from blazepose.pretrained import files

ROOT = pathlib.Path(__file__).resolve().parents[2]
READER = pathlib.Path(__file__).with_name("read_task_metadata.py")
MEDIAPIPE_ORDER = [list(spec.shape) for spec in mediapipe_task.LANDMARK_OUTPUTS]
QUIET = {"print_fn": lambda *_: None}


@pytest.fixture(scope="module")
def google_files() -> dict:
    """Google's two networks (mediapipe 0.10.21), without MediaPipe's metadata."""
    return {name: pathlib.Path(files.fetch_model_file(name)).read_bytes()
            for name in ("detector", "full")}


@pytest.fixture(scope="module")
def mediapipe_python() -> pathlib.Path:
    return environment.ensure_python("tasks")


@pytest.fixture(scope="module")
def lite_source():
    """An untrained small network of the 39-output BlazePose layout with an offset head (which
    MediaPipe does not read): quick to convert."""
    return sources.ModelSource(blazepose.build_model("lite", offset_head=True),
                               topology.BLAZEPOSE_33, topology.MODEL_OUTPUT_NAMES[33:],
                               {"kind": "test"})


def _read_in_mediapipe(python, task) -> dict:
    """The bundle as MediaPipe's own flatbuffer bindings read it (read_task_metadata.py)."""
    result = subprocess.run([os.fspath(python), os.fspath(READER), os.fspath(task)],
                            capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def _metadata_names(tflite: bytes) -> list[str]:
    model = tflite_schema.Model.GetRootAsModel(tflite, 0)
    return [model.Metadata(i).Name().decode() for i in range(model.MetadataLength())]


def _run_tflite(tflite: bytes, image: np.ndarray) -> list[np.ndarray]:
    """Outputs in the subgraph's order (what MediaPipe reads), tf.lite.Interpreter."""
    interpreter = tf.lite.Interpreter(model_content=tflite, num_threads=2)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], image)
    interpreter.invoke()
    return [interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()]


# ----------------------------------------------------------------------------------------------
# Metadata.

def test_mediapipes_schema_reads_our_metadata(google_files, mediapipe_python, tmp_path):
    task = mediapipe_task.write_task(tmp_path / "google.task", google_files["detector"],
                                     google_files["full"], "test-7")
    bundle = _read_in_mediapipe(mediapipe_python, task)
    assert sorted(bundle) == [mediapipe_task.DETECTOR_FILE, mediapipe_task.LANDMARK_FILE]
    landmark, detector = bundle[mediapipe_task.LANDMARK_FILE], bundle[mediapipe_task.DETECTOR_FILE]
    assert landmark["stored"] and detector["stored"]
    assert landmark["outputs"] == MEDIAPIPE_ORDER
    assert detector["outputs"] == [[1, 2254, 12], [1, 2254, 1]]
    for entry, size, (mean, std) in ((landmark, 256, (0.0, 255.0)),
                                     (detector, 224, (127.5, 127.5))):
        assert entry["metadata_names"].count("TFLITE_METADATA") == 1
        metadata = entry["metadata"]
        assert (metadata["version"], metadata["min_parser_version"]) == ("test-7", "1.0.0")
        (image,) = metadata["inputs"]
        assert image["content_properties_type"] == 2  # ImageProperties
        assert image["color_space"] == 1 and image["default_size"] == [size, size]  # RGB
        assert image["process_units"] == [{"options_type": 1,  # NormalizationOptions
                                           "mean": [mean], "std": [std]}]
        assert all(o["content_properties_type"] == 1 for o in metadata["outputs"])  # Feature
    assert [o["name"] for o in landmark["metadata"]["outputs"]] == [
        "landmarks", "pose_flag", "segmentation", "heatmap", "world_landmarks"]


def test_attaching_again_replaces_the_metadata_and_the_model_computes_the_same(google_files,
                                                                              photo):
    full = google_files["full"]
    first_metadata = mediapipe_task.model_metadata(
        "a", "first", "1", mediapipe_task.LANDMARK_INPUTS, mediapipe_task.LANDMARK_OUTPUTS)
    second_metadata = mediapipe_task.model_metadata(
        "b", "second", "2", mediapipe_task.LANDMARK_INPUTS, mediapipe_task.LANDMARK_OUTPUTS)
    assert first_metadata[4:8] == b"M001" and first_metadata != second_metadata
    assert mediapipe_task.read_metadata(full) is None
    first = mediapipe_task.attach_metadata(full, first_metadata)
    second = mediapipe_task.attach_metadata(first, second_metadata)
    assert mediapipe_task.read_metadata(first) == first_metadata
    assert mediapipe_task.read_metadata(second) == second_metadata
    assert _metadata_names(second).count("TFLITE_METADATA") == 1
    assert len(second) <= len(first) + 64, "replaced in place, not appended"
    assert mediapipe_task.tensor_shapes(second) == mediapipe_task.tensor_shapes(full)
    crop = exporter.photo_crops(photo)[:1]
    for expected, actual in zip(_run_tflite(full, crop), _run_tflite(second, crop)):
        np.testing.assert_array_equal(actual, expected)


class _Outputs(tf.Module):
    """Five outputs with the shapes of MediaPipe's landmark network, each filled with its
    position in MediaPipe's order plus the input's mean."""

    @tf.function(input_signature=[tf.TensorSpec([1, 256, 256, 3], tf.float32, name="image")])
    def __call__(self, image):
        mean = tf.reduce_mean(image)
        return {spec.name: tf.fill(spec.shape, float(index)) + mean
                for index, spec in enumerate(mediapipe_task.LANDMARK_OUTPUTS)}


def test_outputs_are_put_in_mediapipes_order_and_keep_their_names():
    module = _Outputs()
    converted = tf.lite.TFLiteConverter.from_concrete_functions(
        [module.__call__.get_concrete_function()], module).convert()
    with pytest.raises(mediapipe_task.TaskExportError, match=r"reads output \d as"):
        mediapipe_task.check_interface(converted, mediapipe_task.LANDMARK_INPUTS,
                                       mediapipe_task.LANDMARK_OUTPUTS, "as converted")
    names = [spec.name for spec in mediapipe_task.LANDMARK_OUTPUTS]
    ordered = mediapipe_task.order_outputs(converted, names)
    mediapipe_task.check_interface(ordered, mediapipe_task.LANDMARK_INPUTS,
                                   mediapipe_task.LANDMARK_OUTPUTS, "ordered")
    image = np.full((1, 256, 256, 3), 0.25, np.float32)
    assert [float(o.flat[0]) for o in _run_tflite(ordered, image)] == [0.25, 1.25, 2.25, 3.25,
                                                                       4.25]
    interpreter = tf.lite.Interpreter(model_content=ordered)
    by_name = interpreter.get_signature_runner()(image=image)
    assert {k: float(v.flat[0]) for k, v in by_name.items()} == dict(
        zip(names, [0.25, 1.25, 2.25, 3.25, 4.25]))
    with pytest.raises(mediapipe_task.TaskExportError, match="expected exactly"):
        mediapipe_task.order_outputs(converted, names[:4])


# ----------------------------------------------------------------------------------------------
# Refused before anything is written.

def _without(model: keras.Model, name: str) -> keras.Model:
    return keras.Model(model.inputs, {k: v for k, v in model.output.items() if k != name})


@pytest.mark.parametrize("case, messages", [
    ("lsp_14", ["'lsp_14'", "output landmarks [14, 5] (needs [39, 5])",
                "landmarks [1, 195], pose_flag [1, 1], segmentation [1, 256, 256, 1], "
                "heatmap [1, 64, 64, 39], world_landmarks [1, 117]"]),
    ("no_segmentation", ["output segmentation missing", "segmentation [1, 256, 256, 1]"]),
])
def test_networks_mediapipe_cannot_run_are_refused_first(tmp_path, case, messages):
    if case == "lsp_14":
        source = sources.ModelSource(blazepose.build_model("lite", 14), topology.LSP_14, (),
                                     {"kind": "test"})
    else:
        model = _without(blazepose.build_model("lite"), "segmentation")
        source = sources.ModelSource(model, topology.BLAZEPOSE_33,
                                     topology.MODEL_OUTPUT_NAMES[33:], {"kind": "test"})
    with pytest.raises(ExportError) as raised:
        exporter.export_model(source, tmp_path / "task", ExportConfig("mediapipe_task"), **QUIET)
    for message in messages:
        assert message in str(raised.value)
    assert list(tmp_path.iterdir()) == []


def test_requests_mediapipe_cannot_use_are_refused_first(tmp_path, google_files, lite_source):
    with pytest.raises(ExportError, match="needs a quantisation-aware checkpoint"):
        exporter.export_model(lite_source, tmp_path / "int8", ExportConfig("mediapipe_task",
                                                                           "int8"), **QUIET)
    with pytest.raises(ExportError, match="--with_preprocessing does not apply"):
        ExportConfig("mediapipe_task", with_preprocessing=True)
    with pytest.raises(ExportError, match="expected a .tflite file or a .keras"):
        ExportConfig("mediapipe_task", detector="detector.onnx")
    with pytest.raises(ExportError, match="bundled only by --format=mediapipe_task"):
        ExportConfig("tflite", detector="detector.tflite")
    with pytest.raises(ExportError, match="no such file"):
        task_export.resolve_detector(tmp_path / "missing.tflite")
    landmark_file = tmp_path / "not_a_detector.tflite"
    landmark_file.write_bytes(google_files["full"])
    output = tmp_path / "task"
    config = ExportConfig("mediapipe_task", detector=str(landmark_file))
    with pytest.raises(ExportError, match=r"input 0 has shape \[1, 256, 256, 3\]; MediaPipe's "
                                          r"PoseLandmarker reads input 0 as image "
                                          r"\[1, 224, 224, 3\]"):
        exporter.export_model(lite_source, output, config, **QUIET)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not_a_detector.tflite"]


def test_mediapipe_figures_are_judged():
    agree = {"frames": 3, "found": 3, "found_google": 3, "median_px": 0.0, "max_px": 0.5}
    moved = dict(agree, median_px=2.0, max_px=9.0)
    lost = dict(agree, found=1)
    assert task_export.problems_of({"image": agree, "video": agree}, strict=True) == []
    assert task_export.problems_of({"image": moved, "video": agree}, strict=False) == []
    assert task_export.problems_of({"image": moved, "video": agree}, strict=True) == [
        "image mode: landmark median_px 2 > 0.1 px", "image mode: landmark max_px 9 > 1 px"]
    assert task_export.problems_of({"image": agree, "video": lost}, strict=False) == [
        "video mode: found the person in 1 of 3 frames, Google's models in 3"]


def test_keras_detector_is_converted_to_googles_detector(tmp_path, google_files):
    """A .keras detector (launch.convert_mediapipe --model=detector) becomes a detector with
    Google's interface that computes what Google's file computes."""
    from blazepose.pretrained import importer

    path = tmp_path / "detector.keras"
    importer.load_mediapipe_model("detector").save(path)
    detector = task_export.resolve_detector(path)
    converted = task_export.detector_tflite(detector, tmp_path, "none")
    mediapipe_task.check_interface(converted, mediapipe_task.DETECTOR_INPUTS,
                                   mediapipe_task.DETECTOR_OUTPUTS, "converted")
    image = np.random.default_rng(0).uniform(-1, 1, (1, 224, 224, 3)).astype(np.float32)
    for ours, googles in zip(_run_tflite(converted, image),
                             _run_tflite(google_files["detector"], image)):
        np.testing.assert_allclose(ours, googles, atol=2e-3, rtol=1e-3)

    image_input = keras.Input((224, 224, 3))
    keras.Model(image_input, {"scores": keras.layers.Dense(1)(image_input)}).save(
        tmp_path / "bad.keras")
    with pytest.raises(ExportError, match=r"output boxes missing.*boxes \[1, 2254, 12\]"):
        task_export.resolve_detector(tmp_path / "bad.keras")


# ----------------------------------------------------------------------------------------------
# Loaded and run by MediaPipe.

def _export_command(*flags) -> subprocess.CompletedProcess:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=os.pathsep.join(
        [str(ROOT), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-m", "launch.export", *flags], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=600, check=False)


def _assert_the_astronaut(poses) -> None:
    assert len(poses) == 1
    landmarks = poses[0].landmarks
    nose, left_hip = landmarks[0], landmarks[23]
    assert 150 < nose[0] < 300 and 50 < nose[1] < 200 and nose[3] > 0.9  # her face
    assert left_hip[1] > nose[1] + 150  # hips far below the face, off the photo


def test_export_of_googles_weights_runs_in_mediapipe_as_googles_files(tmp_path, mediapipe_python,
                                                                      photo):
    output = tmp_path / "task"
    result = _export_command("--model=mediapipe_full", "--format=mediapipe_task",
                             f"--output={output}", f"--mediapipe_python={mediapipe_python}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(p.name for p in output.iterdir()) == ["metadata.json", "pose_landmarker.task"]
    metadata = json.loads((output / "metadata.json").read_text())
    assert (metadata["format"], metadata["quantization"]) == ("mediapipe_task", "none")
    assert list(metadata["outputs"]) == ["landmarks", "pose_flag", "segmentation", "heatmap",
                                         "world_landmarks"]
    figures = metadata["mediapipe"]
    assert figures["runtime"].startswith("mediapipe 1.2.2")
    assert figures["tolerances"] == task_export.GOOGLE_AGREEMENT_PX
    for mode, frames in (("image", 1), ("video", task_export.VIDEO_FRAMES)):
        entry = figures[mode]
        assert entry["found"] == entry["found_google"] == entry["frames"] == frames
        assert entry["median_px"] <= 0.1 and entry["max_px"] <= 1.0, entry
    assert metadata["verification"]["landmark_pixel_error_max"] < 0.02
    members = metadata["bundle"]["members"]
    assert members[mediapipe_task.LANDMARK_FILE]["precision"] == "float32"
    assert members[mediapipe_task.DETECTOR_FILE]["source"]["kind"] == "mediapipe"

    # Independently of the exporter: MediaPipe reads the bundle, finds her in both modes.
    task = output / "pose_landmarker.task"
    bundle = _read_in_mediapipe(mediapipe_python, task)
    assert bundle[mediapipe_task.LANDMARK_FILE]["outputs"] == MEDIAPIPE_ORDER
    image = client.run_pose_landmarker(task, [photo], python=mediapipe_python)
    video = client.run_pose_landmarker(task, [photo] * 2, video=True, timestamps_ms=[0, 33],
                                       python=mediapipe_python)
    for poses in image + video:
        _assert_the_astronaut(poses)


def test_fine_tuned_checkpoint_float16_bundle_runs_in_mediapipe(model_sources, exports, crops,
                                                                tmp_path, mediapipe_python,
                                                                photo):
    """The ``default`` source is a trainer checkpoint whose weights moved well away from
    Google's (its Keras landmarks differ by 5-17 px median on 256-px photo crops): its bundle
    must load, find the person in every frame and give its own landmarks, not Google's."""
    result = exporter.export_model(
        model_sources["default"], tmp_path / "task16", ExportConfig("mediapipe_task", "float16"),
        saved_model_dir=exports.get("default", "saved_model").directory,
        verify_crops=crops["check"][:3], mediapipe_python=mediapipe_python, **QUIET)
    metadata = result.metadata
    assert metadata["source"]["kind"] == "checkpoint"
    figures = metadata["mediapipe"]
    assert figures["tolerances"] is None  # not Google's networks: recorded, not bounded
    for mode in task_export.MODES:
        entry = figures[mode]
        assert entry["found"] == entry["found_google"] == entry["frames"]
        assert entry["median_px"] > 1.0, entry  # its own weights, not Google's
    assert metadata["verification"]["precision"] == "float16"
    landmark = metadata["bundle"]["members"][mediapipe_task.LANDMARK_FILE]
    assert landmark["precision"] == "float16 weights"
    assert landmark["bytes"] < 7_000_000  # float16: half of the 12.7 MB float32 network
    # The network inside the bundle, in the TFLite interpreter, against the Keras model.
    stats = runtimes.compare(
        runtimes.task_landmark_runner(result.model_path)(crops["check"][:3]),
        runtimes.reference_runner(model_sources["default"].model, "serving_default")(
            crops["check"][:3]), "serving_default", 33)
    assert runtimes.violations(stats, "float16") == []
    _assert_the_astronaut(client.run_pose_landmarker(result.model_path, [photo],
                                                     python=mediapipe_python)[0])


def test_a_bundle_mediapipe_refuses_is_an_export_error_and_nothing_is_kept(
        monkeypatch, tmp_path, mediapipe_python, lite_source, photo):
    """Without its TFLite metadata MediaPipe refuses a float network; the export fails with
    MediaPipe's own message and leaves nothing behind. (Before that, the network with an offset
    head was converted without it and agreed with the Keras model.)"""
    monkeypatch.setattr(mediapipe_task, "with_landmark_metadata",
                        lambda tflite, version, what="": tflite)
    printed = []
    with pytest.raises(ExportError, match="MediaPipe's PoseLandmarker cannot run the exported "
                                          "bundle.*NormalizationOptions"):
        exporter.export_model(lite_source, tmp_path / "task", ExportConfig("mediapipe_task"),
                              verify_crops=exporter.photo_crops(photo)[:1],
                              mediapipe_python=mediapipe_python, print_fn=printed.append)
    assert printed[-1].startswith("running the bundle in MediaPipe"), printed
    assert list(tmp_path.iterdir()) == []
