"""Every flagfile under launch/configs selects a valid configuration.

The flags are parsed in a separate process: absl flags are process-global, and other launch
programs imported by the test session define flags of the same names.
"""

import json
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
CONFIGS = sorted((ROOT / "launch" / "configs").glob("*.cfg"))

_PARSE_EACH = """
import dataclasses, json, sys
from absl import flags
from launch import train
for path in sys.argv[1:]:
    flags.FLAGS.unparse_flags()
    flags.FLAGS(["train", "--flagfile=" + path])
    print(json.dumps({"file": path, "config": dataclasses.asdict(train.config_from_flags())}))
"""


def test_every_flagfile_gives_a_valid_config():
    result = subprocess.run([sys.executable, "-c", _PARSE_EACH, *map(str, CONFIGS)], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    configs = {pathlib.Path(line["file"]).stem: line["config"] for line in map(
        json.loads, result.stdout.splitlines())}
    assert set(configs) == {path.stem for path in CONFIGS}
    assert {"lsp_lspet", "mpii", "coco", "pushups", "mixed_real",
            "heatmap_then_regression"} <= set(configs)
    for name, config in configs.items():
        data = config["data"]
        assert data["datasets"], name
        assert len(data["weights"]) in (0, len(data["datasets"])), name
    assert configs["lsp_lspet"]["data"]["eval_datasets"] == ["lsp/original@test"]
    assert configs["mixed_real"]["init_from"] == "mediapipe_full"
    assert configs["heatmap_then_regression"]["phase"] == "heatmap"
    assert configs["coco"]["data"]["datasets"] == ["coco_keypoints"]
