"""datasets_tfds.pose_builder.PoseBuilder: what every project builder inherits."""

from __future__ import annotations

import importlib

import pytest
import tensorflow_datasets as tfds

from datasets_tfds import BUILDER_MODULES
from datasets_tfds.mpii.mpii_dataset_builder import Builder as MpiiBuilder
from datasets_tfds.pose_builder import PoseBuilder

BUILDERS = [importlib.import_module(module).Builder for module in BUILDER_MODULES]


def test_the_base_is_not_a_data_set():
    registered = tfds.core.registered.list_imported_builders()
    assert "pose_builder" not in registered
    assert {builder.name for builder in BUILDERS} <= set(registered)


@pytest.mark.parametrize("builder", BUILDERS, ids=lambda builder: builder.name)
def test_description_and_citation_come_from_the_files_beside_the_builder(builder, tmp_path):
    assert issubclass(builder, PoseBuilder)
    folder = builder.code_path.parent
    assert builder.code_path.name == f"{builder.name}_dataset_builder.py"
    info = builder(data_dir=tmp_path).info
    assert info.description.strip() == (folder / "README.md").read_text().strip()
    citation = folder / "CITATIONS.bib"
    expected = citation.read_text().strip() if citation.exists() else ""
    assert (info.citation or "").strip() == expected


def test_a_config_of_another_class_is_refused_naming_the_builder(tmp_path):
    config = tfds.core.BuilderConfig(name="plain")
    with pytest.raises(TypeError, match="mpii needs a MpiiConfig config, got BuilderConfig"):
        _ = MpiiBuilder(data_dir=tmp_path, config=config).typed_config
