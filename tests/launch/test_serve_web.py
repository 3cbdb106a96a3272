"""launch.serve_web: serves the page, the model folder and TF.js on loopback, nothing else."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _env():
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=os.pathsep.join(
        [str(ROOT), os.environ.get("PYTHONPATH", "")]))


@pytest.fixture
def fake_export(tmp_path):
    """A folder shaped like a TF.js export (the server does not interpret it)."""
    folder = tmp_path / "web"
    folder.mkdir()
    (folder / "model.json").write_text(json.dumps({"format": "graph-model"}))
    (folder / "metadata.json").write_text(json.dumps({"format": "tfjs"}))
    (tmp_path / "secret.txt").write_text("not served")
    return folder


def _get(url):
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, b""


@pytest.mark.web  # TF.js comes from npm
def test_serves_page_model_and_tfjs_only(fake_export):
    process = subprocess.Popen(
        [sys.executable, "-m", "launch.serve_web", f"--model_dir={fake_export}", "--port=0"],
        cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()  # "serving ... on http://127.0.0.1:PORT/ ..."
        assert "http://127.0.0.1:" in line, (line, process.stderr.read()[-2000:]
                                             if process.poll() is not None else "")
        base = line.split(" on ")[1].split()[0]
        status, page = _get(base)
        assert status == 200 and b'src="vendor/tfjs/tf.min.js"' in page
        assert _get(base + "app.js")[0] == 200
        assert _get(base + "model/model.json") == (200, b'{"format": "graph-model"}')
        status, bundle = _get(base + "vendor/tfjs/tf.min.js")
        assert status == 200 and len(bundle) > 500_000
        for outside in ("package.json", "model/../../secret.txt", "model/%2e%2e/secret.txt",
                        "vendor/tfjs/../../../../package.json", "run_model.js"):
            assert _get(base + outside)[0] == 404, outside
    finally:
        process.kill()
        process.wait(timeout=30)


def test_refuses_a_folder_without_model_json(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "launch.serve_web", f"--model_dir={tmp_path}", "--port=0"],
        cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode != 0 and "model.json" in result.stderr
