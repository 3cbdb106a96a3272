"""lsp: a TFDS builder for Leeds Sports Pose (manual download).

The builder lives in ``lsp_dataset_builder`` (imported by ``tfds build``, not here, so that
importing the package does not register it); the reading code it shares with the lspet builder
is ``datasets_tfds.lsp_common``.
"""
