"""Bad export requests fail with a clear error before any file is written; an existing export is
replaced only when asked."""

from __future__ import annotations

import dataclasses

import pytest

import blazepose
from blazepose import topology
from blazepose.export import ExportConfig, ExportError, export_model, metadata, sources
from blazepose.train.trainer import CheckpointMismatchError, Trainer


@pytest.mark.parametrize("kwargs, message", [
    ({"format": "keras"}, "unknown --format 'keras'"),
    ({"format": "tflite", "quantize": "int4"}, "unknown --quantize 'int4'"),
    ({"format": "onnx", "quantize": "int8"}, "--format=onnx cannot be quantised to int8"),
    ({"format": "saved_model", "quantize": "float16"}, "supports --quantize=none"),
    ({"format": "tfjs", "quantize": "int8"}, "supports --quantize=none|float16"),
])
def test_unknown_or_unsupported_requests_are_refused(kwargs, message):
    with pytest.raises(ExportError, match=message.replace("|", r"\|")):
        ExportConfig(**kwargs)


@pytest.fixture(scope="module")
def lite_source():
    """A small untrained network: enough to check the export mechanics quickly."""
    return sources.ModelSource(blazepose.build_model("lite"), topology.BLAZEPOSE_33,
                               topology.MODEL_OUTPUT_NAMES[33:], {"kind": "test"})


def test_existing_output_is_kept_unless_overwrite(lite_source, tmp_path):
    output = tmp_path / "export"
    output.mkdir()
    (output / "keep.txt").write_text("mine")
    with pytest.raises(ExportError, match="exists; pass --overwrite"):
        export_model(lite_source, output, ExportConfig("saved_model"), print_fn=lambda *_: None)
    assert [p.name for p in output.iterdir()] == ["keep.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"], "no scratch folders left"

    export_model(lite_source, output, ExportConfig("saved_model"), overwrite=True,
                 print_fn=lambda *_: None)
    assert not (output / "keep.txt").exists()
    assert metadata.read_metadata(output)["source"] == {"kind": "test"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]


def test_int8_without_representative_data_is_refused_first(lite_source, tmp_path):
    with pytest.raises(ExportError, match="needs representative crops"):
        export_model(lite_source, tmp_path / "int8", ExportConfig("tflite", "int8"))
    assert list(tmp_path.iterdir()) == []


def test_checkpoint_of_another_architecture_is_refused_with_what_differs(default_config,
                                                                          tmp_path):
    lite = dataclasses.replace(default_config, init_from=None, model=dataclasses.replace(
        default_config.model, variant="lite"))
    trainer = Trainer(lite, tmp_path / "run", print_fn=lambda *_: None)
    trainer.manager.save(checkpoint_number=1)
    with pytest.raises(CheckpointMismatchError, match="variant.*'lite'.*'full'"):
        sources.from_checkpoint(tmp_path / "run", default_config)
    # The run's config.json is what it recorded; with it removed the variables still
    # cannot be restored into the other network.
    (tmp_path / "run" / "config.json").unlink()
    with pytest.raises(CheckpointMismatchError, match="no config.json"):
        sources.from_checkpoint(tmp_path / "run", default_config)


def test_checkpoint_paths_are_checked(tmp_path, default_config):
    with pytest.raises(ExportError, match="no checkpoint in"):
        sources.from_checkpoint(tmp_path, default_config)
    with pytest.raises(ExportError, match="neither a training run directory"):
        sources.from_checkpoint(tmp_path / "missing" / "ckpt-3", default_config)


def test_keras_file_must_be_a_landmark_network(tmp_path):
    with pytest.raises(ExportError, match="not an existing .keras file"):
        sources.from_keras_file(tmp_path / "nothing.keras")
    import keras

    other = keras.Sequential([keras.Input((8,)), keras.layers.Dense(2)])
    path = tmp_path / "dense.keras"
    other.save(path)
    with pytest.raises(ExportError, match="expected one input"):
        sources.from_keras_file(path)
