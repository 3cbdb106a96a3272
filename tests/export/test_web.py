"""The web page end to end: a TF.js export served on loopback, driven in headless Chromium
(Debian's ``chromium`` through ``playwright-core``); the landmarks it reports for an uploaded
picture must be the Keras model's on the same picture."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import threading

import numpy as np
import pytest
import tensorflow as tf

from blazepose.export import IMAGE_SIGNATURE, runtimes, web_assets

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
DRIVER = pathlib.Path(__file__).with_name("drive_page.js")

pytestmark = pytest.mark.web(browser=True)  # node, npm and Chromium (tests/conftest.py)


@pytest.fixture(scope="module")
def node_modules():
    return web_assets.ensure_node_modules(print_fn=lambda *_: None)


@pytest.fixture(scope="module")
def server(exports, node_modules):
    export = exports.get("google", "tfjs", with_preprocessing=True)
    httpd = web_assets.make_server(export.directory, node_modules, port=0, quiet=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def _centre_square(image: np.ndarray) -> np.ndarray:
    """The page's crop: the largest centred square, offsets rounded down."""
    height, width = image.shape[:2]
    size = min(height, width)
    top, left = (height - size) // 2, (width - size) // 2
    return image[top:top + size, left:left + size]


def test_page_reports_the_keras_landmarks_for_an_uploaded_picture(
        server, node_modules, exports, photo, tmp_path):
    # A landscape picture: the person in the middle, grey margins left and right.
    picture = np.pad(photo[..., :3], ((0, 0), (40, 56), (0, 0)), constant_values=128)
    picture_path = tmp_path / "picture.png"
    picture_path.write_bytes(tf.io.encode_png(picture).numpy())
    result_path, screenshot = tmp_path / "result.json", tmp_path / "page.png"
    completed = subprocess.run(
        ["node", str(DRIVER), server + "?backend=cpu", str(picture_path), str(screenshot),
         str(result_path)], env=dict(os.environ, NODE_PATH=str(node_modules), CHROMIUM=CHROMIUM),
        capture_output=True, text=True, timeout=400, check=False)
    output = json.loads(result_path.read_text()) if result_path.exists() else {}
    assert completed.returncode == 0, (completed.stderr[-3000:], output.get("console"))

    upload = output["upload"]
    height, width = picture.shape[:2]
    assert (upload["width"], upload["height"]) == (width, height)
    size = min(width, height)
    assert upload["crop"] == {"left": (width - size) // 2, "top": 0, "size": size}
    model = exports.sources["google"].model
    reference = runtimes.reference_runner(model, IMAGE_SIGNATURE)(
        _centre_square(picture)[np.newaxis])
    page = {"landmarks": np.asarray(upload["landmarks"], np.float32)[np.newaxis],
            "world_landmarks": reference["world_landmarks"],
            "pose_flag": np.asarray([upload["poseFlag"]], np.float32),
            "segmentation": reference["segmentation"]}
    stats = runtimes.compare(page, reference, IMAGE_SIGNATURE, 33)
    assert runtimes.violations(stats, "float32") == [], stats
    assert reference["pose_flag"][0] > 0.9, "the photograph shows a person"
    assert screenshot.stat().st_size > 10_000

    webcam = output["webcam"]  # Chromium's synthetic camera: a moving test pattern, 640x480
    assert (webcam["width"], webcam["height"]) == (640, 480), output.get("webcamStatus")
    assert np.isfinite(np.asarray(webcam["landmarks"])).all()
    assert len(webcam["landmarks"]) == 39
