"""launch.export --checkpoint=RUN_DIR exports the run's best checkpoint when it has one, else its
latest, and says which (stdout and metadata.json's source)."""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _export(*flags, timeout=600):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=os.pathsep.join(
        [str(ROOT), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-m", "launch.export", *flags], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def lite_run(tmp_path_factory) -> pathlib.Path:
    """A lite-variant run of the default preset: best checkpoint at step 3, latest at step 5."""
    from blazepose.train import config as config_lib
    from blazepose.train.trainer import Trainer

    default = config_lib.get_preset("default")
    config = dataclasses.replace(default, init_from=None,
                                 model=dataclasses.replace(default.model, variant="lite"))
    directory = tmp_path_factory.mktemp("lite_run")
    trainer = Trainer(config, directory, print_fn=lambda *_: None)
    trainer.step.assign(3)
    trainer.best_manager.save(checkpoint_number=3)
    trainer.step.assign(5)
    trainer.manager.save(checkpoint_number=5)
    return directory


def test_run_directory_exports_best_then_latest(lite_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(lite_run, run)
    flags = [f"--checkpoint={run}", "--variant=lite", "--format=saved_model", "--noverify"]
    result = _export(*flags, f"--output={tmp_path / 'best'}")
    assert result.returncode == 0, result.stderr[-3000:]
    best = run / "best" / "ckpt-3"
    assert f"exporting the run's best checkpoint {best.resolve()} (step 3)" in result.stdout
    source = json.loads((tmp_path / "best" / "metadata.json").read_text())["source"]
    assert (source["checkpoint"], source["step"]) == ("best", 3)

    shutil.rmtree(run / "best")
    result = _export(*flags, f"--output={tmp_path / 'latest'}")
    assert result.returncode == 0, result.stderr[-3000:]
    latest = run / "checkpoints" / "ckpt-5"
    assert f"exporting the run's latest checkpoint {latest.resolve()} (step 5)" in result.stdout
    source = json.loads((tmp_path / "latest" / "metadata.json").read_text())["source"]
    assert (source["checkpoint"], source["step"]) == ("latest", 5)
