"""The TFLite reader and the structural weight importer, on small files made here (no network)."""

import types

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers

import blazepose
from blazepose.pretrained import importer, tflite_graph


def _small_network(seed: int) -> keras.Model:
    """Uses every op kind of the landmark model; ``left``/``right`` are identical-looking
    depthwise convolutions on the same tensor, told apart only by where their results go."""
    keras.utils.set_random_seed(seed)
    image = keras.Input((16, 16, 3), name="image")
    x = layers.ZeroPadding2D(1, name="pad")(image)
    x = layers.Conv2D(8, 3, strides=2, padding="valid", activation="relu6", name="stem")(x)
    left = layers.DepthwiseConv2D(3, padding="same", activation="relu6", name="left")(x)
    right = layers.DepthwiseConv2D(3, padding="same", activation="relu6", name="right")(x)
    left = layers.Conv2D(8, 1, name="left_project")(left)
    merged = layers.Add(name="add")([left, x])
    merged = layers.Activation("relu6", name="add_relu6")(merged)
    upsampled = layers.UpSampling2D(2, interpolation="bilinear", name="up")(merged)
    heat = layers.Conv2D(4, 1, name="heat")(upsampled)
    pooled = layers.MaxPooling2D(2, strides=2, name="pool")(right)
    flag = layers.Conv2D(1, 4, padding="valid", activation="sigmoid", name="flag_conv")(pooled)
    flag = layers.Reshape((1,), name="flag")(flag)
    return keras.Model(image, {"heat": heat, "flag": flag})


@pytest.fixture(scope="module")
def small_tflite(tmp_path_factory):
    """A float16 TFLite file converted from a SavedModel, like Google's files."""
    model = _small_network(seed=1)
    folder = tmp_path_factory.mktemp("small")
    model.export(str(folder / "saved_model"), verbose=False,
                 input_signature=[tf.TensorSpec([1, 16, 16, 3], tf.float32, name="image")])
    converter = tf.lite.TFLiteConverter.from_saved_model(str(folder / "saved_model"))
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_types = [tf.float16]
    path = folder / "small.tflite"
    path.write_bytes(converter.convert())
    return path, model


def _output_map(graph):
    return {graph.tensor_names[t]: key for t, key in graph.signature_outputs.items()}


def test_reader_folds_float16_dequantize_into_float32_weights(small_tflite):
    path, model = small_tflite
    graph = tflite_graph.read_tflite_graph(path)
    kinds = [op.kind for op in graph.ops]
    assert "DEQUANTIZE" not in kinds
    assert kinds.count("CONV_2D") == 4 and kinds.count("DEPTHWISE_CONV_2D") == 2
    assert graph.count_weights() == model.count_params()
    stem = next(op for op in graph.ops if op.kind == "CONV_2D")
    assert stem.options == {"stride": (2, 2), "padding": "VALID", "activation": "RELU6"}
    kernel = np.transpose(model.get_layer("stem").kernel.numpy(), (3, 0, 1, 2))
    np.testing.assert_array_equal(stem.constants[0], kernel.astype(np.float16).astype(np.float32))
    assert sorted(graph.signature_outputs.values()) == ["flag", "heat"]


def test_import_reproduces_the_interpreter(small_tflite):
    path, original = small_tflite
    graph = tflite_graph.read_tflite_graph(path)
    fresh = _small_network(seed=2)
    report = importer.import_tflite_weights(fresh, graph, _output_map(graph))
    assert report.weights_assigned == fresh.count_params()
    assert {keras_name for _, keras_name in report.assignments} == {
        "stem", "left", "right", "left_project", "heat", "flag_conv"}
    # The two look-alike depthwise convolutions got their own weights, not each other's.
    for name in ("left", "right"):
        np.testing.assert_array_equal(
            fresh.get_layer(name).kernel.numpy(),
            original.get_layer(name).kernel.numpy().astype(np.float16).astype(np.float32))

    interpreter = tf.lite.Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    image = np.random.default_rng(0).random((1, 16, 16, 3), dtype=np.float32)
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], image)
    interpreter.invoke()
    names = _output_map(graph)
    theirs = {names[d["name"]]: interpreter.get_tensor(d["index"])
              for d in interpreter.get_output_details()}
    ours = fresh(image, training=False)
    for key, value in theirs.items():
        np.testing.assert_allclose(np.asarray(ours[key]), value, atol=1e-5, err_msg=key)


def test_structure_mismatch_names_the_op_and_layer(small_tflite):
    path, _ = small_tflite
    graph = tflite_graph.read_tflite_graph(path)
    image = keras.Input((16, 16, 3), name="image")
    x = layers.ZeroPadding2D(1, name="pad")(image)
    x = layers.Conv2D(6, 3, strides=2, padding="valid", activation="relu6", name="stem")(x)
    other = keras.Model(image, {"heat": x, "flag": layers.Reshape((384,), name="flag")(x)})
    with pytest.raises(importer.WeightImportError, match=r"op\d{4} CONV_2D.*stem"):
        importer.import_tflite_weights(other, graph, _output_map(graph))


def test_wrong_output_map_is_refused(small_tflite):
    path, _ = small_tflite
    graph = tflite_graph.read_tflite_graph(path)
    with pytest.raises(importer.WeightImportError, match="outputs differ"):
        importer.import_tflite_weights(_small_network(0), graph, {"x": "heat"})


def test_unreadable_files_are_clear_errors(tmp_path, small_tflite):
    path, _ = small_tflite
    text = tmp_path / "notes.tflite"
    text.write_text("this is not a model")
    with pytest.raises(tflite_graph.TFLiteGraphError, match="notes.tflite.*TFL3"):
        tflite_graph.read_tflite_graph(text)
    truncated = tmp_path / "truncated.tflite"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(tflite_graph.TFLiteGraphError, match="truncated"):
        tflite_graph.read_tflite_graph(truncated)


def _dim(dense_size=0, segments=None, indices=None):
    if segments is None:
        return types.SimpleNamespace(format=0, denseSize=dense_size)
    return types.SimpleNamespace(format=1, denseSize=0,
                                 arraySegments=types.SimpleNamespace(values=np.array(segments)),
                                 arrayIndices=types.SimpleNamespace(values=np.array(indices)))


def test_densify_csr_rows():
    dense = np.array([[0, 5, 0, 0], [0, 0, 0, 0], [7, 0, 0, 8]], np.float32)
    sparsity = types.SimpleNamespace(traversalOrder=[0, 1], blockMap=None,
                                     dimMetadata=[_dim(3), _dim(segments=[0, 1, 1, 3],
                                                                 indices=[1, 0, 3])])
    values = np.array([5, 7, 8], np.float32)
    np.testing.assert_array_equal(tflite_graph.densify(values, dense.shape, sparsity), dense)


def test_densify_with_blocks():
    # 4x4 matrix stored as 2x2 blocks of 1x2: block rows are dense, block columns sparse.
    dense = np.array([[1, 2, 0, 0], [0, 0, 3, 4], [0, 0, 0, 0], [5, 6, 0, 0]], np.float32)
    sparsity = types.SimpleNamespace(
        traversalOrder=[0, 1, 2, 3], blockMap=[0, 1],
        dimMetadata=[_dim(4), _dim(segments=[0, 1, 2, 2, 3], indices=[0, 1, 0]), _dim(1),
                     _dim(2)])
    values = np.array([1, 2, 3, 4, 5, 6], np.float32)
    np.testing.assert_array_equal(tflite_graph.densify(values, dense.shape, sparsity), dense)


def test_densify_rejects_inconsistent_counts():
    sparsity = types.SimpleNamespace(traversalOrder=[0, 1], blockMap=None,
                                     dimMetadata=[_dim(2), _dim(segments=[0, 1, 2],
                                                                 indices=[0, 1])])
    with pytest.raises(tflite_graph.TFLiteGraphError, match="stored values"):
        tflite_graph.densify(np.ones(3, np.float32), (2, 2), sparsity)


def test_transfer_weights_to_another_keypoint_count():
    source = blazepose.build_model("lite")
    for variable in source.weights:
        variable.assign(np.full(variable.shape, 0.25, np.float32))
    target = blazepose.build_model("lite", num_keypoints=16)
    report = importer.transfer_weights(source, target)
    assert set(report.fresh) == {"heatmap", "reg_landmarks", "reg_world"}
    assert "trunk_expand" in report.loaded and "reg_flag" in report.loaded
    assert np.all(target.get_layer("trunk_expand").kernel.numpy() == 0.25)
    assert not np.all(target.get_layer("heatmap").kernel.numpy() == 0.25)


def test_per_keypoint_heads_start_from_the_counterparts_of_their_keypoints():
    """A COCO-17 network loaded keypoint by keypoint predicts, for each of its points, what the
    39-landmark source predicts for the BlazePose counterpart; LSP's neck and head top, which
    have none, start fresh."""
    from blazepose import topology

    keras.utils.set_random_seed(5)
    source = blazepose.build_model("lite")
    coco = topology.COCO_17
    target = blazepose.build_model("lite", num_keypoints=coco.num_keypoints)
    report = importer.transfer_weights(source, target, coco.to_blazepose)
    assert not report.fresh or set(report.fresh) <= {"reg_flag"}
    image = tf.random.stateless_uniform([1, 256, 256, 3], [1, 2])
    ours, theirs = target(image), source(image)
    counterparts = list(coco.to_blazepose)
    np.testing.assert_allclose(ours["landmarks"].numpy(),
                               theirs["landmarks"].numpy()[:, counterparts], rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(ours["heatmap"].numpy(),
                               theirs["heatmap"].numpy()[..., counterparts], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ours["world_landmarks"].numpy(),
                               theirs["world_landmarks"].numpy()[:, counterparts], rtol=1e-4,
                               atol=1e-4)

    lsp = topology.LSP_14
    fresh_target = blazepose.build_model("lite", num_keypoints=lsp.num_keypoints)
    initial = fresh_target.get_layer("heatmap").kernel.numpy().copy()
    importer.transfer_weights(source, fresh_target, lsp.to_blazepose)
    kernel = fresh_target.get_layer("heatmap").kernel.numpy()
    unmapped = [i for i, b in enumerate(lsp.to_blazepose) if b is None]
    np.testing.assert_array_equal(kernel[..., unmapped], initial[..., unmapped])
    mapped = [i for i, b in enumerate(lsp.to_blazepose) if b is not None]
    np.testing.assert_array_equal(
        kernel[..., mapped],
        source.get_layer("heatmap").kernel.numpy()[..., [lsp.to_blazepose[i] for i in mapped]])


def test_keypoints_without_a_counterpart_start_between_their_skeleton_neighbours():
    from blazepose import topology

    lsp = topology.LSP_14
    sources = importer.keypoint_sources_of(lsp)
    shoulders = (11, 12)  # BlazePose LEFT_SHOULDER, RIGHT_SHOULDER
    assert sources[lsp.index("neck")] == shoulders
    assert sources[lsp.index("head_top")] == shoulders  # via the neck, two edges away
    assert sources[lsp.index("left_hip")] == 23
    keras.utils.set_random_seed(6)
    source = blazepose.build_model("lite")
    target = blazepose.build_model("lite", num_keypoints=lsp.num_keypoints)
    importer.transfer_weights(source, target, sources)
    image = tf.random.stateless_uniform([1, 256, 256, 3], [3, 4])
    neck = target(image)["landmarks"].numpy()[0, lsp.index("neck"), :2]
    mid_shoulder = source(image)["landmarks"].numpy()[0, list(shoulders), :2].mean(axis=0)
    np.testing.assert_allclose(neck, mid_shoulder, rtol=1e-4, atol=1e-3)


def test_transfer_weights_refuses_an_unrelated_model():
    image = keras.Input((4,))
    unrelated = keras.Model(image, layers.Dense(2, name="dense")(image))
    with pytest.raises(importer.WeightImportError, match="no layer"):
        importer.transfer_weights(unrelated, blazepose.build_model("lite"))


def test_initialize_from_a_keras_file(tmp_path):
    source = blazepose.build_model("lite")
    path = tmp_path / "source.keras"
    source.save(path)
    target = blazepose.build_model("lite", num_keypoints=7)
    report = importer.initialize_from(target, str(path))
    np.testing.assert_array_equal(target.get_layer("stem_conv").kernel.numpy(),
                                  source.get_layer("stem_conv").kernel.numpy())
    assert "heatmap" in report.fresh
    with pytest.raises(ValueError, match="neither"):
        importer.initialize_from(target, str(tmp_path / "missing.keras"))
