r"""Prints how closely our Keras networks with imported weights reproduce Google's .tflite files.

  python -m launch.mediapipe_parity                       # both models, tables + JSON last line
  python -m launch.mediapipe_parity --models=full --picture=/tmp/astronaut.png

Inputs: random images and a real photograph (scikit-image's astronaut, fetched from PyPI). For
each output: max / mean absolute difference between our model (TF, float32) and the TFLite
interpreter (XNNPACK) running Google's file, the largest reference magnitude, and the goal. A
second table measures float32 rounding itself: each runtime against our network evaluated in
float64 with the same weights.
"""

from __future__ import annotations

import json
import os

from absl import app, flags

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

_MODELS = flags.DEFINE_multi_enum("models", ["full", "detector"], ["full", "detector"],
                                  "Models to compare.")
_NUM_RANDOM = flags.DEFINE_integer("num_random", 3, "Random input images.", lower_bound=0)
_CACHE_DIR = flags.DEFINE_string("cache_dir", None, "Cache for Google's files and samples.")
_PICTURE = flags.DEFINE_string("picture", None,
                               "Write the photo with the converted model's landmarks (PNG).")


def _photo(cache_dir):
    import tensorflow as tf

    from blazepose import samples

    path = samples.fetch_sample("astronaut", cache_dir)
    return tf.io.decode_png(tf.io.read_file(str(path)), channels=3).numpy()


def _print_table(title, rows):
    print(f"\n{title}")
    header = f"{'output':26} {'max abs':>10} {'mean abs':>10} {'max |ref|':>10} {'goal':>8}  ok"
    print(header)
    print("-" * len(header))
    for name, figures, goal in rows:
        ok = "-" if goal is None else ("yes" if figures["max_abs"] <= goal else "NO")
        goal_text = "-" if goal is None else f"{goal:.0e}"
        print(f"{name:26} {figures['max_abs']:10.2e} {figures['mean_abs']:10.2e} "
              f"{figures['max_ref']:10.1f} {goal_text:>8}  {ok}")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    import numpy as np

    from blazepose.pretrained import files, importer, parity

    photo = _photo(_CACHE_DIR.value)
    report = {}
    for name in dict.fromkeys(_MODELS.value):
        model = importer.load_mediapipe_model(name, cache_dir=_CACHE_DIR.value)
        interpreter = parity.make_interpreter(files.fetch_model_file(name, _CACHE_DIR.value))
        make_inputs = parity.landmark_inputs if name == "full" else parity.detector_inputs
        random_images = make_inputs(None, count=_NUM_RANDOM.value)
        photo_images = make_inputs(photo, count=0)
        ours = parity.keras_runner(model)
        theirs = parity.tflite_runner(interpreter, parity.OUTPUT_MAPS[name])
        truth = parity.keras_runner(parity.float64_twin(model, parity.BUILDERS[name]))
        goals = parity.PARITY_GOALS[name]
        on_photo = parity.compare(ours, theirs, photo_images)
        on_random = parity.compare(ours, theirs, random_images) if len(random_images) else {}
        _print_table(f"{name}: ours vs Google's file, real photo (goals apply here)",
                     [(k, v, goals.get(k)) for k, v in on_photo.items()])
        if on_random:
            _print_table(f"{name}: ours vs Google's file, {len(random_images)} random images",
                         [(k, v, None) for k, v in on_random.items()])
        all_images = np.concatenate([random_images, photo_images])
        ours_error = parity.compare(ours, truth, all_images)
        theirs_error = parity.compare(theirs, truth, all_images)
        print(f"\n{name}: float32 rounding, max abs error against float64 evaluation")
        print(f"{'output':26} {'ours (TF)':>10} {'TFLite':>10}")
        for key in ours_error:
            print(f"{key:26} {ours_error[key]['max_abs']:10.2e} "
                  f"{theirs_error[key]['max_abs']:10.2e}")
        report[name] = {
            "photo": {k: v["max_abs"] for k, v in on_photo.items()},
            "random": {k: v["max_abs"] for k, v in on_random.items()},
            "goals_met_on_photo": all(on_photo[k]["max_abs"] <= g for k, g in goals.items()),
            "float32_error_ours": {k: v["max_abs"] for k, v in ours_error.items()},
            "float32_error_tflite": {k: v["max_abs"] for k, v in theirs_error.items()},
        }
        if name == "full" and _PICTURE.value:
            _draw(model, photo, _PICTURE.value)
            print(f"\nwrote {_PICTURE.value}")
    print(json.dumps(report))


def _draw(model, photo, path):
    import numpy as np
    import tensorflow as tf

    from blazepose import drawing, topology
    from blazepose.model import decoding

    crop = tf.image.resize(photo.astype(np.float32) / 255.0, (256, 256))[tf.newaxis]
    decoded = decoding.decode_outputs(model(crop, training=False))
    landmarks = decoded["landmarks"].numpy()[0, :topology.NUM_BLAZEPOSE_LANDMARKS]
    scale = np.array([photo.shape[1], photo.shape[0]])
    picture = drawing.draw_skeleton(photo, landmarks[:, :2] * scale, topology.BLAZEPOSE_33,
                                    visibility=landmarks[:, 3])
    tf.io.write_file(path, tf.io.encode_png(picture))


if __name__ == "__main__":
    app.run(main)
