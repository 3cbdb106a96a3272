"""Reads a ``.task`` bundle with MediaPipe's own flatbuffer bindings; run in MediaPipe's side
environment (imports only the mediapipe wheel's generated schema modules, never TensorFlow or
this package).

  python read_task_metadata.py BUNDLE.task

Prints JSON: per member (``pose_detector.tflite``, ``pose_landmarks_detector.tflite``), the
zip compression, the input and output tensor shapes in subgraph order, and the
``TFLITE_METADATA`` as MediaPipe's ``metadata_schema_py_generated`` parses it (``null`` when
absent or when its file identifier is not ``M001``).
"""

from __future__ import annotations

import json
import sys
import zipfile

from mediapipe.tasks.metadata import metadata_schema_py_generated as metadata_schema
from mediapipe.tasks.metadata import schema_py_generated as tflite_schema


def _text(value):
    return value.decode() if isinstance(value, bytes) else value


def _tensor(tensor) -> dict:
    entry = {"name": _text(tensor.name), "description": _text(tensor.description),
             "content_properties_type": None, "process_units": []}
    if tensor.content is not None:
        entry["content_properties_type"] = tensor.content.contentPropertiesType
        properties = tensor.content.contentProperties
        if hasattr(properties, "colorSpace"):
            entry["color_space"] = properties.colorSpace
            size = properties.defaultSize
            entry["default_size"] = None if size is None else [size.width, size.height]
    for unit in tensor.processUnits or []:
        entry["process_units"].append({"options_type": unit.optionsType,
                                       "mean": [float(v) for v in unit.options.mean],
                                       "std": [float(v) for v in unit.options.std]})
    return entry


def _metadata(buffer: bytes):
    if not metadata_schema.ModelMetadata.ModelMetadataBufferHasIdentifier(buffer, 0):
        return None
    root = metadata_schema.ModelMetadataT.InitFromObj(
        metadata_schema.ModelMetadata.GetRootAsModelMetadata(buffer, 0))
    subgraph = root.subgraphMetadata[0]
    return {"name": _text(root.name), "description": _text(root.description),
            "version": _text(root.version), "min_parser_version": _text(root.minParserVersion),
            "subgraphs": len(root.subgraphMetadata),
            "inputs": [_tensor(t) for t in subgraph.inputTensorMetadata],
            "outputs": [_tensor(t) for t in subgraph.outputTensorMetadata]}


def _member(data: bytes) -> dict:
    model = tflite_schema.Model.GetRootAsModel(data, 0)
    graph = model.Subgraphs(0)

    def shape(index):
        return graph.Tensors(index).ShapeAsNumpy().tolist()

    entry = {"inputs": [shape(graph.Inputs(i)) for i in range(graph.InputsLength())],
             "outputs": [shape(graph.Outputs(i)) for i in range(graph.OutputsLength())],
             "metadata_names": [], "metadata": None}
    for index in range(model.MetadataLength()):
        item = model.Metadata(index)
        entry["metadata_names"].append(_text(item.Name()))
        if item.Name() == b"TFLITE_METADATA":
            buffer = model.Buffers(item.Buffer()).DataAsNumpy().tobytes()
            entry["metadata"] = _metadata(buffer)
    return entry


def main(argv: list[str]) -> int:
    result = {}
    with zipfile.ZipFile(argv[1]) as archive:
        for info in archive.infolist():
            result[info.filename] = {"stored": info.compress_type == zipfile.ZIP_STORED,
                                     **_member(archive.read(info.filename))}
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
