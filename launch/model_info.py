r"""Builds BlazePose networks, checks them end to end and prints what they are.

For each variant: parameter counts per part (encoder, decoder, heads, segmentation, regression),
output shapes, one forward pass on a test image, decoded landmarks, and a `.keras` save / load
round trip in safe mode whose outputs must be bit-identical.

  python -m launch.model_info                          # all variants
  python -m launch.model_info --variants=full --num_keypoints=16 --output_dir=/tmp/models
"""

from __future__ import annotations

import json
import pathlib
import tempfile

import keras
import numpy as np
from absl import app, flags

import blazepose
from blazepose.model import decoding

_VARIANTS = flags.DEFINE_list("variants", ["lite", "full", "heavy"], "Variants to build.")
_NUM_KEYPOINTS = flags.DEFINE_integer("num_keypoints", 33, "Keypoints K predicted by the heads.",
                                      lower_bound=1)
_OFFSET_HEAD = flags.DEFINE_bool("offset_head", False, "Add the 64x64 offset-map head.")
_OUTPUT_DIR = flags.DEFINE_string("output_dir", None,
                                  "Where to keep the .keras files (default: a temporary folder).")


_KNOWN_VARIANTS = ("lite", "full", "heavy")  # blazepose.model.architecture.VARIANTS (tested)
flags.register_validator(
    "variants", lambda values: bool(values) and set(values) <= set(_KNOWN_VARIANTS),
    message=f"--variants takes a comma-separated subset of {list(_KNOWN_VARIANTS)}")


def _part_of(layer_name: str) -> str:
    for prefix, part in (("reg", "regression"), ("seg", "segmentation"), ("heatmap", "heads"),
                         ("offsets", "heads"), ("dec", "decoder"), ("tap", "decoder")):
        if layer_name.startswith(prefix):
            return part
    return "encoder"


def describe(variant: str, num_keypoints: int, offset_head: bool, output_dir: pathlib.Path
             ) -> dict:
    """Builds, runs, saves and reloads one variant; returns the figures that are printed."""
    model = blazepose.build_model(variant, num_keypoints, offset_head=offset_head)
    parts: dict[str, int] = {}
    for layer in model.layers:
        parts[_part_of(layer.name)] = parts.get(_part_of(layer.name), 0) + layer.count_params()

    # A test image: a bright upright "person" bar on a dark gradient; any input works.
    rows, cols = np.mgrid[0:256, 0:256].astype(np.float32) / 255.0
    image = np.stack([rows * 0.3, cols * 0.3, (rows + cols) * 0.15], axis=-1)
    image[40:220, 110:146] = 0.9
    batch = image[np.newaxis]

    outputs = {k: np.asarray(v) for k, v in model(batch, training=False).items()}
    decoded = decoding.decode_outputs(outputs)
    path = output_dir / f"blazepose_{variant}_k{num_keypoints}.keras"
    model.save(path)
    reloaded = keras.models.load_model(path, safe_mode=True)
    again = {k: np.asarray(v) for k, v in reloaded(batch, training=False).items()}
    identical = all(np.array_equal(outputs[k], again[k]) for k in outputs)
    return {
        "variant": variant,
        "parameters": model.count_params(),
        "parts": parts,
        "outputs": {k: list(v.shape) for k, v in sorted(outputs.items())},
        "pose_flag": float(decoded["pose_flag"][0]),
        "nose_xy": [round(float(v), 4) for v in decoded["landmarks"][0, 0, :2]],
        "saved": str(path),
        "reload_identical": identical,
    }


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    with tempfile.TemporaryDirectory() as scratch:
        output_dir = pathlib.Path(_OUTPUT_DIR.value or scratch)
        output_dir.mkdir(parents=True, exist_ok=True)
        results = [describe(v, _NUM_KEYPOINTS.value, _OFFSET_HEAD.value, output_dir)
                   for v in _VARIANTS.value]
    header = (f"{'variant':8} {'params':>11} {'encoder':>10} {'decoder':>9} {'heads':>7} "
              f"{'segment.':>9} {'regress.':>10}  reload")
    print(header)
    print("-" * len(header))
    for r in results:
        p = r["parts"]
        print(f"{r['variant']:8} {r['parameters']:>11,} {p.get('encoder', 0):>10,} "
              f"{p.get('decoder', 0):>9,} {p.get('heads', 0):>7,} {p.get('segmentation', 0):>9,} "
              f"{p.get('regression', 0):>10,}  "
              f"{'identical' if r['reload_identical'] else 'DIFFERS'}")
    for r in results:
        print(f"{r['variant']}: outputs {r['outputs']}")
    print(json.dumps({r["variant"]: {k: r[k] for k in ("parameters", "reload_identical")}
                      for r in results}))
    if not all(r["reload_identical"] for r in results):
        raise SystemExit("a .keras round trip changed the outputs")


def run():
    app.run(main)


if __name__ == "__main__":
    run()
