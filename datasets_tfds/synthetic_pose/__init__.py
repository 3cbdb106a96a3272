"""synthetic_pose: procedurally rendered people and exercise sequences (see README.md), made by
the simulator in :mod:`blazepose.synthesis`.

The TFDS builder lives in ``synthetic_pose_dataset_builder`` and is deliberately not imported
here: ``tfds build datasets_tfds/synthetic_pose`` imports that file under its own module name,
and importing it twice would register the data set twice.
"""
