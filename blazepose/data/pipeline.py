"""The tf.data input pipeline: TFDS records -> crops, augmentation, targets -> batches.

``decode -> person crop -> augmentation -> targets -> batch -> prefetch``, each step a pure
function of :mod:`blazepose.data.ops` composed with ``Dataset.map``. Works under
``tf.distribute`` (:func:`distributed_dataset_fn` for ``distribute_datasets_from_function``:
sharding by input context, per-replica batches), mixes data sets with weights after mapping them
to one topology, and is deterministic when asked (stateless per-example seeds).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence

import tensorflow as tf
import tensorflow_datasets as tfds

from blazepose import topology as topology_lib
from blazepose.data import ops
from blazepose.data.config import AugmentConfig, CropConfig, PipelineConfig

AUTOTUNE = tf.data.AUTOTUNE


@dataclasses.dataclass(frozen=True)
class DataSource:
    """One TFDS data set to read: ``name`` (e.g. ``synthetic_pose/small``), split, weight."""

    name: str
    split: str = "train"
    weight: float = 1.0
    data_dir: str | None = None


def record_to_features(record: dict, seed) -> dict:
    """A TFDS record (image left encoded) -> the pipeline's features (see :mod:`ops`).

    ``area`` is the person's area in source pixels² where the data set has one (COCO's segment
    area, for OKS), else -1.
    """
    return {
        "jpeg": record["image"],
        "keypoints": tf.cast(record["keypoints"], tf.float32),
        "visibility": tf.cast(record["visibility"], tf.float32),
        "labelled": tf.cast(record["labelled"], tf.bool),
        "person_box": tf.cast(record["person_box"], tf.float32),
        "area": tf.cast(record["area"], tf.float32) if "area" in record else tf.constant(-1.0),
        "seed": seed,
    }


_CROP_KEYS = ("image", "keypoints", "visibility", "labelled", "seed", "flip", "problem")
EVALUATION_KEYS = ("area",)
"""Kept in evaluation batches besides ``ops.TRAINING_KEYS``: ``area`` float32 [B], the person's
area in crop pixels² (-1 where the data set has none)."""


def _area_in_crop(features: dict) -> dict:
    """Scales ``area`` from source to crop pixels² by the crop's linear map."""
    linear = features["crop_matrix"][:2, :2]
    source_per_crop = tf.abs(tf.linalg.det(linear))  # source pixels² per crop pixel²
    area = features.get("area", tf.constant(-1.0))
    out = dict(features)
    out["area"] = tf.where(area > 0, area / source_per_crop, -1.0)
    return out


def example_transform(config: PipelineConfig, source: topology_lib.Topology, training: bool):
    """Per example: features with ``jpeg`` -> a uint8 crop with its keypoints (see ops).

    Geometry, occlusion, blur, JPEG re-encoding and noise happen here, on uint8 pixels: they
    differ in shape per example, or only some examples pay for them. The mirror flip, colour,
    float conversion and targets touch every pixel of every example and fuse well:
    :func:`batch_transform`. (Occlusion, blur and noise are drawn symmetrically, so applying
    them before the mirror changes nothing in distribution.)

    With ``config.compile_example_geometry`` (the default) the framing (topology mapping,
    person frame, random crop, record check) is one XLA-compiled call and so is the crop's
    warp plan (:func:`blazepose.data.ops.decode_crop_and_warp`): their few hundred scalar ops
    cost ~1 us each in tf.data, about 0.1 ms per example, the compiled calls a fraction of it.
    Outputs agree with the uncompiled ops to float rounding (tests/data/test_ops.py).
    """
    target = topology_lib.get_topology(config.topology)
    augment = config.augment if training else None

    def frame(features: dict, uniform) -> dict:
        return frame_example(ops.map_topology(features, source, target), config.crop, target,
                             augment, uniform)

    if config.compile_example_geometry:
        frame = tf.function(frame, jit_compile=True, autograph=False)

    def transform(features: dict) -> dict:
        # The encoded image stays outside the compiled framing (XLA has no strings), and so
        # do the random draws (XLA's would differ from TF's for the same seed).
        encoded = features["jpeg"]
        uniform = ops.crop_draws(features) if augment is not None else None
        features = frame({k: v for k, v in features.items() if k != "jpeg"}, uniform)
        features = ops.decode_crop_and_warp({**features, "jpeg": encoded}, config.crop,
                                            compiled=config.compile_example_geometry)
        if augment is not None:
            if augment.occlusion_probability > 0:
                features = ops.occlude(features, augment)
            if augment.blur_probability > 0:
                features = ops.blur(features, augment)
            if augment.jpeg_probability > 0:
                features = ops.degrade_jpeg(features, augment)
            if augment.noise_probability > 0:
                features = ops.add_noise(features, augment)
            return ops.select(features, _CROP_KEYS)
        return ops.select(_area_in_crop(features), _CROP_KEYS + EVALUATION_KEYS)

    return transform


def frame_example(features: dict, crop: CropConfig, target: topology_lib.Topology,
                  augment: AugmentConfig | None, uniform=None) -> dict:
    """Chooses an example's crop and says whether it can be used: adds ``crop_matrix`` and
    ``flip`` (:func:`blazepose.data.ops.sample_crop`, keypoints in ``target``'s layout) and
    ``problem`` int32 (:func:`blazepose.data.ops.record_problem`, 0: usable). A record with a
    problem is framed from harmless stand-in values (``ops.finite_geometry``), so it crops
    without error and is dropped after the map (:func:`filter_usable`); :func:`check_records`
    counts and names such records. ``uniform``: ``ops.crop_draws(features)`` when drawn
    already."""
    safe = ops.finite_geometry(features)
    frame = ops.person_frame(safe, crop, target)
    out = ops.sample_crop(safe, crop, augment, target, frame, uniform)
    out["problem"] = ops.record_problem(features, crop, target, frame)
    return out


def filter_usable(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """Drops the examples of :func:`example_transform` whose record has a problem."""
    return dataset.filter(lambda features: tf.equal(features["problem"], 0))


@dataclasses.dataclass
class RecordCheck:
    """What :func:`check_records` found in one split.

    Attributes:
      source: ``name@split``.
      total: records read.
      problems: count per problem (keys from ``ops.RECORD_PROBLEMS[1:]``, only those found).
      examples: per problem, the ``image_id`` of the first ``max_named`` records.
    """

    source: str
    total: int = 0
    problems: dict = dataclasses.field(default_factory=dict)
    examples: dict = dataclasses.field(default_factory=dict)

    @property
    def skipped(self) -> int:
        return sum(self.problems.values())

    def summary(self) -> str:
        """One line per problem, naming the first records, or that every record is usable."""
        if not self.skipped:
            return f"{self.source}: {self.total} records, all usable"
        lines = [f"{self.source}: {self.total} records, {self.skipped} skipped"]
        for problem, count in self.problems.items():
            named = ", ".join(self.examples[problem])
            more = f" and {count - len(self.examples[problem])} more" if count > len(
                self.examples[problem]) else ""
            lines.append(f"  {count} with {problem}: {named}{more}")
        return "\n".join(lines)


def check_records(source: DataSource, config: PipelineConfig, max_named: int = 5
                  ) -> RecordCheck:
    """Reads the keypoints of every record of ``source`` (images are not decoded) and counts
    the records the pipeline drops, with the same test (:func:`blazepose.data.ops.record_problem`
    on the data mapped to ``config.topology``), naming the first ``max_named`` of each kind."""
    builder = tfds.builder(source.name, data_dir=source.data_dir)
    topology = topology_of(builder.info)
    target = topology_lib.get_topology(config.topology)
    dataset = builder.as_dataset(split=source.split, shuffle_files=False,
                                 decoders={"image": tfds.decode.SkipDecoding()})

    def problem_of(record):
        features = ops.map_topology(record_to_features(record, tf.zeros([2], tf.int64)),
                                    topology, target)
        return record["image_id"], ops.record_problem(features, config.crop, target)

    check = RecordCheck(f"{source.name}@{source.split}")
    batches = dataset.map(problem_of, num_parallel_calls=AUTOTUNE).batch(1024)
    for ids, problems in batches.as_numpy_iterator():
        check.total += len(ids)
        for image_id, problem in zip(ids, problems):
            if problem:
                name = ops.RECORD_PROBLEMS[int(problem)]
                check.problems[name] = check.problems.get(name, 0) + 1
                named = check.examples.setdefault(name, [])
                if len(named) < max_named:
                    named.append(image_id.decode("utf-8", "replace"))
    return check


def batch_transform(config: PipelineConfig, training: bool):
    """Per batch: mirror flip, float images in [0, 1], colour augmentation, training targets.

    With ``config.compile_batch_ops`` (the default) the stage is one XLA-compiled function: the
    mirror, the conversion, the colour map and the clip fuse into one pass over the pixels, and
    the heatmaps into one loop, about 4x less CPU than the same ops run one by one (benchmarks/
    input_pipeline.py). Batch shapes are static in training (drop_remainder), so it compiles once
    per process (plus once for a short last batch in evaluation).
    """
    augment = config.augment if training else None
    flip_permutation = tuple(topology_lib.get_topology(config.topology).flip_permutation)

    def transform(batch: dict) -> dict:
        if augment is not None and augment.flip_probability > 0:
            batch = ops.mirror(batch, flip_permutation)
        batch = ops.to_float(batch)
        if augment is not None and augment.colour_probability > 0:
            batch = ops.adjust_colour(batch, augment)
        batch = ops.make_targets(batch, config.targets, config.crop.size)
        return ops.select(batch, ops.TRAINING_KEYS + (() if training else EVALUATION_KEYS))

    if config.compile_batch_ops:
        return tf.function(transform, jit_compile=True, autograph=False)
    return transform


def full_transform(config: PipelineConfig, source: topology_lib.Topology, training: bool):
    """Both stages on one example (for tests and single-image use): :func:`example_transform`
    then :func:`batch_transform` on a batch of one."""
    per_example = example_transform(config, source, training)
    per_batch = batch_transform(config, training)

    def transform(features: dict) -> dict:
        crop = per_example(features)
        batch = per_batch(tf.nest.map_structure(lambda t: t[tf.newaxis], crop))
        return tf.nest.map_structure(lambda t: t[0], batch)

    return transform


def _read(source: DataSource, input_context: tf.distribute.InputContext | None, training: bool,
          config: PipelineConfig) -> tuple[tf.data.Dataset, topology_lib.Topology]:
    builder = tfds.builder(source.name, data_dir=source.data_dir)
    # Workers read disjoint files; a split with fewer files than workers is sharded by record.
    pipelines = input_context.num_input_pipelines if input_context else 1
    by_file = pipelines <= builder.info.splits[source.split].num_shards
    read_config = tfds.ReadConfig(
        input_context=input_context if by_file else None, interleave_cycle_length=AUTOTUNE,
        shuffle_seed=config.seed if config.deterministic else None,
        try_autocache=False)
    dataset = builder.as_dataset(split=source.split, shuffle_files=training,
                                 read_config=read_config,
                                 decoders={"image": tfds.decode.SkipDecoding()})
    if not by_file:
        dataset = dataset.shard(pipelines, input_context.input_pipeline_id)
    return dataset, topology_of(builder.info)


def topology_of(info: tfds.core.DatasetInfo) -> topology_lib.Topology:
    """The keypoint topology a prepared data set declares in its metadata.

    A registered name gives the registered topology; a user's own topology (custom_pose with a
    topology file) is rebuilt from the names, edges and BlazePose mapping stored beside it.
    """
    metadata = info.metadata or {}
    if "topology" not in metadata:
        raise ValueError(f"data set {info.full_name} declares no keypoint topology in its "
                         "metadata; was it built by one of this project's builders?")
    return topology_lib.Topology.from_dict(metadata, source=f"data set {info.full_name}")


def _example_parallel_calls(config: PipelineConfig) -> int:
    if config.example_parallel_calls is not None:
        return config.example_parallel_calls
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return 2 * (cores or 1)


def _example_seed(seed: int, stream: int, index) -> tf.Tensor:
    """The distinct int64 [2] seed of record ``index`` (from ``enumerate``) of a stream."""
    return tf.stack([tf.constant(seed * 1_000_003 + stream, tf.int64), index])


def build_dataset(sources: Sequence[DataSource], config: PipelineConfig, batch_size: int,
                  training: bool = True,
                  input_context: tf.distribute.InputContext | None = None,
                  repeat: bool | None = None,
                  data_service: str | None = None) -> tf.data.Dataset:
    """Batches of training features (``ops.TRAINING_KEYS``), ``batch_size`` per replica.

    Several sources are mapped to ``config.topology`` and mixed with their weights. Training
    shuffles, repeats and drops remainders; evaluation reads each example once in order.
    ``data_service`` (``grpc://host:port`` of a tf.data service dispatcher) moves the whole
    preprocessing onto the service's workers, which must see the same data directory.
    """
    if not sources:
        raise ValueError("build_dataset needs at least one DataSource")
    repeat = training if repeat is None else repeat
    # Evaluation always reads in order, so results line up with the records.
    deterministic = config.deterministic or not training
    options = tf.data.Options()
    options.deterministic = deterministic
    options.experimental_optimization.map_parallelization = True
    per_source = []
    for stream, source in enumerate(sources):
        dataset, topology = _read(source, input_context, training, config)
        if repeat:
            dataset = dataset.repeat()
        # Records are numbered before shuffling, so each keeps its seed; per-worker seeds differ
        # so workers do not draw identical augmentations. The seed is made in the transform's
        # own map: a separate map stage cost more than the two ops.
        worker = input_context.input_pipeline_id if input_context else 0
        dataset = dataset.enumerate()
        if training and config.shuffle_buffer > 1:
            dataset = dataset.shuffle(config.shuffle_buffer,
                                      seed=config.seed if config.deterministic else None)
        transform = example_transform(config, topology, training)
        base_seed = config.seed + 7919 * worker
        dataset = dataset.map(
            lambda index, record, t=transform, b=base_seed, s=stream: t(record_to_features(
                record, _example_seed(b, s, index))),
            num_parallel_calls=_example_parallel_calls(config), deterministic=deterministic)
        per_source.append(filter_usable(dataset))
    if len(per_source) == 1:
        dataset = per_source[0]
    else:
        weights = [float(s.weight) for s in sources]
        if min(weights) < 0 or sum(weights) <= 0:
            raise ValueError(f"data set weights must be >= 0 with a positive sum, got {weights}")
        dataset = tf.data.Dataset.sample_from_datasets(
            per_source, weights=[w / sum(weights) for w in weights],
            seed=config.seed if config.deterministic else None,
            stop_on_empty_dataset=not repeat)
    dataset = dataset.batch(batch_size, drop_remainder=training, num_parallel_calls=AUTOTUNE,
                            deterministic=deterministic)
    dataset = dataset.map(batch_transform(config, training), num_parallel_calls=AUTOTUNE,
                          deterministic=deterministic)
    dataset = dataset.with_options(options)
    if data_service:
        dataset = dataset.apply(tf.data.experimental.service.distribute(
            processing_mode=tf.data.experimental.service.ShardingPolicy.OFF,
            service=data_service, job_name=f"blazepose_{'train' if training else 'eval'}"))
    return dataset.prefetch(AUTOTUNE)


def distributed_dataset_fn(sources: Sequence[DataSource], config: PipelineConfig,
                           global_batch_size: int, training: bool = True,
                           data_service: str | None = None):
    """A function for ``strategy.distribute_datasets_from_function``."""

    def dataset_fn(input_context: tf.distribute.InputContext) -> tf.data.Dataset:
        per_replica = input_context.get_per_replica_batch_size(global_batch_size)
        return build_dataset(sources, config, per_replica, training, input_context,
                             data_service=data_service)

    return dataset_fn


__all__ = ["EVALUATION_KEYS", "DataSource", "RecordCheck", "batch_transform", "build_dataset",
           "check_records", "distributed_dataset_fn", "example_transform", "filter_usable",
           "full_transform", "record_to_features", "topology_of"]
