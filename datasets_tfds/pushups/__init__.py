"""pushups: a TFDS builder for tf-blazepose's push-up frames (manual data).

The builder lives in ``pushups_dataset_builder`` (imported by ``tfds build``, not here); the
label-file reading and split rules are in ``label_files``.
"""
