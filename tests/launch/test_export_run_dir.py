"""launch.export --model_dir=RUN exports the network the run's config.json describes, with its
best checkpoint when it has one, else its latest, and says which (stdout and metadata.json's
source); older runs are read from architecture.json."""

from __future__ import annotations

import dataclasses
import json
import shutil

from blazepose.train import config as config_lib
from blazepose.train import runs


def _exported_source(launch, output, *flags) -> dict:
    result = launch("export", *flags, "--format=saved_model", "--noverify", f"--output={output}")
    assert result.returncode == 0, result.stderr[-3000:]
    source = json.loads((output / "metadata.json").read_text())["source"]
    which = "" if source["checkpoint"] == "prefix" else f"the run's {source['checkpoint']} "
    assert (f"exporting {which}checkpoint {source['path']} (step {source['step']})"
            in result.stdout)
    return source


def test_run_directory_exports_best_then_latest(launch, lite_offset_run, lite_offset_config,
                                                tmp_path):
    run = tmp_path / "run"
    shutil.copytree(lite_offset_run, run)
    source = _exported_source(launch, tmp_path / "best", f"--model_dir={run}")
    assert (source["checkpoint"], source["step"]) == ("best", 3)
    assert source["path"] == str((run / "best" / "ckpt-3").resolve())
    assert (source["variant"], source["offset_head"]) == ("lite", True)

    source = _exported_source(launch, tmp_path / "latest", f"--model_dir={run}",
                              "--checkpoint=latest")
    assert (source["checkpoint"], source["step"]) == ("latest", 5)

    # The older flag: --checkpoint names the run directory; without best/ it is the latest.
    shutil.rmtree(run / "best")
    source = _exported_source(launch, tmp_path / "fallback", f"--checkpoint={run}")
    assert (source["checkpoint"], source["step"]) == ("latest", 5)
    assert source["path"] == str((run / "checkpoints" / "ckpt-5").resolve())

    # A run written before config.json: its architecture.json describes the network.
    (run / config_lib.RUN_CONFIG_FILE).unlink()
    (run / runs.ARCHITECTURE_FILE).write_text(json.dumps({
        "model": dataclasses.asdict(lite_offset_config.model),
        "topology": lite_offset_config.data.pipeline.topology}))
    source = _exported_source(launch, tmp_path / "old", f"--model_dir={run}")
    assert (source["checkpoint"], source["variant"], source["offset_head"]) == (
        "latest", "lite", True)
