"""coco_keypoints: a TFDS builder for COCO 2017 person keypoints (see README.md).

The builder lives in ``coco_keypoints_dataset_builder`` and is not imported here: ``tfds build
datasets_tfds/coco_keypoints`` imports that file under its own module name, and importing it
twice would register the data set twice. ``person_keypoints`` reads the annotation files.
"""
