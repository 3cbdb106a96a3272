r"""Builds (prepares) a data set for training, as ``tfds build`` does, with this project's
one-line errors instead of TFDS's traceback and without the TFDS CLI's extra dependencies.

  python -m launch.build_data --dataset=custom_pose --manual_dir=my_data --data_dir=tfds_data
  python -m launch.build_data --dataset=lsp/original --manual_dir=~/data/leeds --data_dir=D
  python -m launch.build_data --dataset=custom_pose --manual_dir=my_data --data_dir=D --overwrite

A bad record (a point far outside its image, a missing image, ...) stops the build with one
line naming the file and the record (``--verbosity=1`` for the traceback); nothing is kept.
Prints each split's example count, then one JSON line.
"""

from __future__ import annotations

import json
import os

from absl import app, flags

from datasets_tfds.prepare import prepare

_DATASET = flags.DEFINE_string("dataset", None, "The data set, name or name/config (e.g. "
                               "custom_pose, lsp/original).", required=True)
_MANUAL_DIR = flags.DEFINE_string("manual_dir", None, "The folder a manual data set is built "
                                  "from (see datasets_tfds/<name>/README.md).")
_DATA_DIR = flags.DEFINE_string("data_dir", None, "TFDS data directory to build into "
                                "(default: TFDS's own).")
_OVERWRITE = flags.DEFINE_bool("overwrite", False, "Build again and replace a prepared copy "
                               "(after the source files changed).")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    manual_dir = os.path.expanduser(_MANUAL_DIR.value) if _MANUAL_DIR.value else None
    if manual_dir is not None and not os.path.isdir(manual_dir):
        raise ValueError(f"--manual_dir {manual_dir}: no such folder")
    builder = prepare(_DATASET.value, _DATA_DIR.value, flag="--dataset", manual_dir=manual_dir,
                      overwrite=_OVERWRITE.value)
    splits = {name: info.num_examples for name, info in sorted(builder.info.splits.items())}
    for name, count in splits.items():
        print(f"{name}: {count} examples")
    print(json.dumps({"dataset": _DATASET.value, "data_dir": str(builder.data_dir),
                      "splits": splits}))


def run():
    app.run(main)


if __name__ == "__main__":
    run()
