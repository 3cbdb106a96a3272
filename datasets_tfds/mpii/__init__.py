"""mpii: a TFDS builder for MPII Human Pose (see README.md).

The builder lives in ``mpii_dataset_builder`` and is not imported here: ``tfds build
datasets_tfds/mpii`` imports that file under its own module name, and importing it twice would
register the data set twice. ``release_file`` reads the annotation file, ``splits`` chooses
train and validation.
"""
