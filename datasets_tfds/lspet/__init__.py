"""lspet: a TFDS builder for Leeds Sports Pose Extended (manual download).

The builder lives in ``lspet_dataset_builder`` (imported by ``tfds build``, not here); the
reading code it shares with the lsp builder is ``datasets_tfds.lsp_common``.
"""
