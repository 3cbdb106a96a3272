"""Every flagfile under launch/configs selects a valid configuration."""

import pathlib

import pytest
from absl import flags

from launch import train

CONFIGS = sorted((pathlib.Path(train.__file__).parent / "configs").glob("*.cfg"))


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_flagfile_gives_a_valid_config(path):
    flags.FLAGS.unparse_flags()
    try:
        flags.FLAGS(["train", f"--flagfile={path}"])
        config = train.config_from_flags()
    finally:
        flags.FLAGS.unparse_flags()
    assert config.data.datasets
    assert len(config.data.weights) in (0, len(config.data.datasets))
    if path.stem in ("lsp_lspet", "mixed_real"):
        assert config.data.eval_datasets and config.init_from == "mediapipe_full"


def test_real_recipes_are_present():
    assert {"lsp_lspet", "mpii", "coco", "pushups", "heatmap_then_regression"} <= {
        p.stem for p in CONFIGS}
