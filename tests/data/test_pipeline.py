"""The whole input pipeline on TFDS data sets built here: batches, distribution, mixing, model."""

import collections
import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

import blazepose
import datasets_tfds.custom_pose.custom_pose_dataset_builder  # noqa: F401  (registers it)
from blazepose import topology
from blazepose.data import custom_format, pipeline
from blazepose.data.config import PipelineConfig


def _build(tmp_path_factory, name, num_keypoints, counts, seed, topology_name=None):
    folder = tmp_path_factory.mktemp(f"{name}_raw")
    custom_format.write_random_people(folder, counts, image_size=(120, 160),
                                      num_keypoints=num_keypoints, seed=seed)
    data_dir = tmp_path_factory.mktemp(f"{name}_tfds")
    config = topology_name or "auto"
    builder = tfds.builder(f"custom_pose/{config}", data_dir=str(data_dir))
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
        manual_dir=str(folder)))
    return pipeline.DataSource(f"custom_pose/{config}", data_dir=str(data_dir))


@pytest.fixture(scope="module")
def mpii_source(tmp_path_factory):
    return _build(tmp_path_factory, "mpii", 16, {"train": 24, "validation": 6}, seed=1)


@pytest.fixture(scope="module")
def coco_source(tmp_path_factory):
    return _build(tmp_path_factory, "coco", 17, {"train": 24}, seed=2, topology_name="coco_17")


def test_training_batches_feed_the_model(mpii_source):
    dataset = pipeline.build_dataset([mpii_source], PipelineConfig(seed=3), batch_size=4)
    batch = next(iter(dataset))
    assert batch["image"].shape == (4, 256, 256, 3) and batch["image"].dtype == tf.float32
    assert batch["heatmap"].shape == (4, 64, 64, 33)
    assert batch["landmarks"].shape == (4, 33, 2)
    # MPII's 16 points land on 12 BlazePose landmarks; the rest are unlabelled.
    mapped = {i for i in topology.MPII_16.to_blazepose if i is not None}
    labelled = batch["labelled"].numpy()
    assert not labelled[:, sorted(set(range(33)) - mapped)].any()
    model = blazepose.build_model("lite")
    outputs = model(batch["image"], training=False)
    assert outputs["heatmap"].shape[:3] == batch["heatmap"].shape[:3]


def test_evaluation_reads_every_example_once_in_order(mpii_source):
    source = pipeline.DataSource(mpii_source.name, "validation", data_dir=mpii_source.data_dir)
    dataset = pipeline.build_dataset([source], PipelineConfig(), batch_size=4, training=False)
    sizes = [b["image"].shape[0] for b in dataset]
    assert sizes == [4, 2]
    first = [b["landmarks"].numpy() for b in dataset]
    second = [b["landmarks"].numpy() for b in dataset]
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


def test_deterministic_mode_repeats_exactly(mpii_source):
    config = PipelineConfig(seed=5, deterministic=True, shuffle_buffer=16)

    def first_batches():
        dataset = pipeline.build_dataset([mpii_source], config, batch_size=4)
        return [b["image"].numpy() for b in dataset.take(3)]

    for a, b in zip(first_batches(), first_batches()):
        np.testing.assert_array_equal(a, b)


def test_mixing_follows_the_weights(mpii_source, coco_source):
    mpii = pipeline.DataSource(mpii_source.name, weight=3.0, data_dir=mpii_source.data_dir)
    coco = pipeline.DataSource(coco_source.name, weight=1.0, data_dir=coco_source.data_dir)
    config = PipelineConfig(seed=1, deterministic=True)
    dataset = pipeline.build_dataset([mpii, coco], config, batch_size=8)
    nose = topology.BLAZEPOSE_33.index("NOSE")  # labelled by COCO only
    counts = collections.Counter()
    for batch in dataset.take(30):
        for row in batch["labelled"].numpy():
            # Each set labels different BlazePose points; COCO is the only one with a nose.
            counts["coco" if row[nose] else "mpii"] += 1
    share = counts["mpii"] / sum(counts.values())
    assert 0.65 < share < 0.85, counts


def test_distributed_input_on_two_logical_cpus(mpii_source):
    devices = tf.config.list_logical_devices("CPU")
    assert len(devices) >= 2, "tests/conftest.py splits the CPU into logical devices"
    strategy = tf.distribute.MirroredStrategy([d.name for d in devices[:2]])
    dataset_fn = pipeline.distributed_dataset_fn([mpii_source], PipelineConfig(), 8)
    distributed = strategy.distribute_datasets_from_function(dataset_fn)
    batch = next(iter(distributed))
    per_replica = strategy.experimental_local_results(batch["image"])
    assert [t.shape[0] for t in per_replica] == [4, 4]


def test_custom_topology_is_rebuilt_from_metadata(tmp_path):
    info = tfds.core.DatasetInfo(
        builder=tfds.core.DatasetIdentity(name="x", version="1.0.0", data_dir=str(tmp_path),
                                          module_name="x"),
        metadata=tfds.core.MetadataDict(topology="my_rig", keypoint_names=["head", "l_hand",
                                                                           "r_hand"],
                                        edges=[[0, 1], [0, 2]], to_blazepose=[0, 15, -1]))
    rig = pipeline.topology_of(info)
    assert rig.keypoint_names == ("head", "l_hand", "r_hand")
    assert rig.flip_permutation == (0, 2, 1)
    assert rig.to_blazepose == (0, 15, None)


def test_example_map_runs_twice_the_usable_cores_unless_configured():
    cores = len(os.sched_getaffinity(0))
    assert pipeline._example_parallel_calls(PipelineConfig()) == 2 * cores
    assert pipeline._example_parallel_calls(
        PipelineConfig(example_parallel_calls=tf.data.AUTOTUNE)) == tf.data.AUTOTUNE
    assert pipeline._example_parallel_calls(PipelineConfig(example_parallel_calls=3)) == 3
    with pytest.raises(ValueError, match="example_parallel_calls"):
        PipelineConfig(example_parallel_calls=0)
