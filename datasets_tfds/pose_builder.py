"""``PoseBuilder``: what the project's TFDS builders share, so each states only what differs.

A builder subclasses :class:`PoseBuilder` in ``datasets_tfds/<name>/<name>_dataset_builder.py``
as ``class Builder`` (``tfds build datasets_tfds/<name>`` imports that file under its own
module name, so packages do not import it; see ``synthetic_pose/__init__.py``) and states:

``TOPOLOGY``        the keypoint topology; the features are ``pose_features(K)`` (the shared
                    layout of :mod:`datasets_tfds.common`) plus :meth:`_extra_features`, and the
                    DatasetInfo metadata is ``topology_metadata(TOPOLOGY)`` plus
                    ``EXTRA_METADATA``. ``None`` (no keypoints, or known only from the data):
                    the builder gives :meth:`_features` itself and the metadata starts empty.
``HOMEPAGE``        the data set's page.
``UNLISTED_CONFIGS`` configs found by name but not built by ``tfds build`` without ``--config``.
``CONFIG_CLASS``    the builder's ``BuilderConfig`` subclass, if any (``typed_config``).
:meth:`_split_sources`  manual dir -> {split: what :meth:`_generate_examples` reads}.
:meth:`_generate_examples`  the examples of one split; by default the split's source
                    is a list of ``PersonRecord`` made into shared-layout examples
                    (:meth:`_record_examples`).

Description and citation come from the files beside the builder, as TFDS lays them out
(``dataset_info_from_configs``): ``README.md`` and ``CITATIONS.bib``. The builder's file is
``code_path`` (TFDS 4.9.10 would otherwise locate a packaged builder's file through
``importlib_resources``, a package it only requires on Python < 3.9) and its folder is where
those files are read (``pkg_dir_path``), whichever module name the file was imported under.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any, ClassVar

import tensorflow_datasets as tfds
from etils import epath

from blazepose.topology import Topology
from datasets_tfds.common import pose_features, topology_metadata
from datasets_tfds.custom_pose.annotation_files import PersonRecord, examples_by_image

__all__ = ["PoseBuilder"]

Example = tuple[Any, dict[str, Any]]


class PoseBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """Base of the project's builders (not registered itself; its subclasses are)."""

    TOPOLOGY: ClassVar[Topology | None] = None
    HOMEPAGE: ClassVar[str | None] = None
    EXTRA_METADATA: ClassVar[dict[str, Any]] = {}
    SUPERVISED_KEYS: ClassVar[tuple[str, str] | None] = None
    UNLISTED_CONFIGS: ClassVar[tuple[tfds.core.BuilderConfig, ...]] = ()
    CONFIG_CLASS: ClassVar[type[tfds.core.BuilderConfig]] = tfds.core.BuilderConfig

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "code_path" not in cls.__dict__:
            cls.code_path = epath.Path(sys.modules[cls.__module__].__file__)
        cls.pkg_dir_path = cls.code_path.parent

    @classmethod
    def get_builder_config(cls, name: str, version=None) -> tfds.core.BuilderConfig | None:
        """A config of ``BUILDER_CONFIGS``, else one of ``UNLISTED_CONFIGS`` by name.

        ``tfds build`` without ``--config`` builds every listed config; configs that need more
        files than the default one go into ``UNLISTED_CONFIGS``, and ``--config=NAME`` /
        ``tfds.builder("name/NAME")`` still find them.
        """
        listed = super().get_builder_config(name, version)
        if listed is not None:
            return listed
        return next((config for config in cls.UNLISTED_CONFIGS if config.name == name), None)

    @classmethod
    def prepared(cls, manual_dir: epath.PathLike, data_dir: epath.PathLike,
                 config: str | tfds.core.BuilderConfig | None = None) -> PoseBuilder:
        """A builder of ``config`` (default: the first listed), its data prepared into
        ``data_dir`` from the files in ``manual_dir``, as ``tfds build --manual_dir`` does."""
        builder = cls(data_dir=os.fspath(data_dir), config=config)
        builder.download_and_prepare(
            download_config=tfds.download.DownloadConfig(manual_dir=os.fspath(manual_dir)))
        return builder

    @property
    def typed_config(self) -> Any:
        """The builder config, checked to be a ``CONFIG_CLASS`` (the builder's own options)."""
        config = self.builder_config
        if not isinstance(config, self.CONFIG_CLASS):
            raise TypeError(f"{self.name} needs a {self.CONFIG_CLASS.__name__} config, got "
                            f"{type(config).__name__}")
        return config

    # --- DatasetInfo ----------------------------------------------------------------------------

    def _topology(self) -> Topology | None:
        """The keypoint topology of this builder config (default ``TOPOLOGY``)."""
        return self.TOPOLOGY

    def _extra_features(self) -> dict[str, tfds.features.FeatureConnector]:
        """Features beside the shared pose layout (none by default)."""
        return {}

    def _features(self) -> tfds.features.FeaturesDict | None:
        """``pose_features(K)`` plus :meth:`_extra_features`; None without a topology."""
        topology = self._topology()
        if topology is None:
            return None
        features = pose_features(topology.num_keypoints)
        extra = self._extra_features()
        return tfds.features.FeaturesDict({**features, **extra}) if extra else features

    def _metadata(self) -> tfds.core.MetadataDict:
        """``topology_metadata`` of the topology (empty without one) plus ``EXTRA_METADATA``."""
        topology = self._topology()
        metadata = tfds.core.MetadataDict() if topology is None else topology_metadata(topology)
        metadata.update(self.EXTRA_METADATA)
        return metadata

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            features=self._features(),
            supervised_keys=self.SUPERVISED_KEYS,
            homepage=self.HOMEPAGE,
            metadata=self._metadata(),
        )

    # --- splits and examples --------------------------------------------------------------------

    def _split_sources(self, manual_dir: epath.Path) -> dict[str, Any]:
        """{split: what ``_generate_examples`` reads} from the manual dir."""
        raise NotImplementedError(f"{self.name}: no _split_sources")

    def _split_generators(self, dl_manager: tfds.download.DownloadManager
                          ) -> dict[str, Iterator[Example]]:
        sources = self._split_sources(epath.Path(dl_manager.manual_dir))
        return {split: self._generate_examples(source) for split, source in sources.items()}

    def _generate_examples(self, source: Any) -> Iterator[Example]:
        """The examples of one split; by default ``source`` is a list of ``PersonRecord``."""
        return self._record_examples(source)

    def _record_examples(self, records: Iterable[PersonRecord],
                         extra: Callable[[PersonRecord, dict[str, Any]], dict[str, Any]]
                         | None = None) -> Iterator[Example]:
        """(record.image_id, example) in the shared layout; each image is read once.

        ``extra(record, example)`` gives the fields of :meth:`_extra_features` (it may raise
        ``record.error(...)`` on an inconsistent record).

        Raises:
          InvalidRecordError: an image cannot be read or decoded (naming the annotation file,
            the record and the image).
        """
        for record, example in examples_by_image(records, self._topology()):
            if isinstance(example, Exception):
                raise example
            if extra is not None:
                example.update(extra(record, example))
            yield record.image_id, example
