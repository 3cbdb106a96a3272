"""yoga82: a TFDS builder for the Yoga-82 pose classification data set (manual download).

The builder lives in ``yoga82_dataset_builder`` (imported by ``tfds build``, not here, so that
importing the package does not register the builder).
"""
