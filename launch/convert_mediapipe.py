r"""Converts Google's BlazePose .tflite files into our Keras 3 networks, weights included.

  python -m launch.convert_mediapipe --model=full --output=/tmp/blazepose_full.keras
  python -m launch.convert_mediapipe --model=detector --output=/tmp/pose_detector.keras

The file is fetched once from the `mediapipe==0.10.21` wheel on PyPI (checked by sha256) unless
--tflite names a local copy. The .keras file is written only after the converted model has been
reloaded in safe mode and has given the same outputs: on any error nothing is written.
Load it with `import blazepose; keras.models.load_model(PATH, safe_mode=True)`.
"""

from __future__ import annotations

import os
import pathlib
import tempfile

from absl import app, flags, logging

_MODEL = flags.DEFINE_enum("model", "full", ["full", "detector"], "Which of Google's models.")
_OUTPUT = flags.DEFINE_string("output", None, "Path of the .keras file to write.", required=True)
_TFLITE = flags.DEFINE_string("tflite", None, "A local copy of Google's file (sha256-checked).")
_CACHE_DIR = flags.DEFINE_string("cache_dir", None,
                                 "Cache for Google's files (default: ~/.cache/blazepose).")
_OVERWRITE = flags.DEFINE_bool("overwrite", False, "Replace an existing output file.")

flags.register_validator("output", lambda path: path is None or path.endswith(".keras"),
                         message="--output must end in .keras")


def convert(model_name: str, output: pathlib.Path, tflite: str | None, cache_dir: str | None,
            overwrite: bool) -> dict:
    """Converts, verifies the reloaded file, then moves it into place. Returns a summary."""
    import keras
    import numpy as np

    from blazepose.pretrained import importer

    if output.exists() and not overwrite:
        raise app.UsageError(f"--output {output} exists; pass --overwrite to replace it")
    model = importer.load_mediapipe_model(model_name, tflite_path=tflite, cache_dir=cache_dir)
    output.parent.mkdir(parents=True, exist_ok=True)
    size = model.inputs[0].shape[1]
    probe = np.random.default_rng(0).random((1, size, size, 3), dtype=np.float32)
    with tempfile.TemporaryDirectory(dir=output.parent) as scratch:
        staged = pathlib.Path(scratch) / output.name
        model.save(staged)
        reloaded = keras.models.load_model(staged, safe_mode=True)
        expected, actual = model(probe, training=False), reloaded(probe, training=False)
        for key in expected:
            if not np.array_equal(np.asarray(expected[key]), np.asarray(actual[key])):
                raise RuntimeError(f"reloaded {staged} differs from the converted model in {key}")
        os.replace(staged, output)
    return {"model": model_name, "output": str(output), "parameters": model.count_params(),
            "outputs": sorted(expected)}


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    import blazepose  # noqa: F401  (registers the custom layers)
    from blazepose.pretrained import files, importer, tflite_graph

    try:
        summary = convert(_MODEL.value, pathlib.Path(_OUTPUT.value), _TFLITE.value,
                          _CACHE_DIR.value, _OVERWRITE.value)
    except (files.ModelFileError, importer.WeightImportError, tflite_graph.TFLiteGraphError,
            FileNotFoundError) as error:
        raise SystemExit(f"convert_mediapipe: nothing written: {error}") from None
    logging.info("wrote %s", summary["output"])
    print(f"wrote {summary['output']}: {summary['model']}, {summary['parameters']:,} parameters, "
          f"outputs {summary['outputs']}")


def run():
    app.run(main)


if __name__ == "__main__":
    run()
