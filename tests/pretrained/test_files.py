"""Fetching and checking Google's files, with the download replaced by a local fake wheel."""

import hashlib
import pathlib
import zipfile

import pytest

from blazepose.pretrained import files

FAKE_CONTENTS = {"full": b"TFL3 fake landmark model", "detector": b"TFL3 fake detector"}


@pytest.fixture
def fake_registry(monkeypatch):
    """MODEL_FILES pointing at fake members, and a download that builds a wheel holding them."""
    fakes = {name: files.ModelFile(name, f"mediapipe/modules/{name}.tflite",
                                   hashlib.sha256(data).hexdigest())
             for name, data in FAKE_CONTENTS.items()}
    monkeypatch.setattr(files, "MODEL_FILES", fakes)
    downloads = []

    def fake_download(destination):
        wheel = pathlib.Path(destination) / f"mediapipe-{files.MEDIAPIPE_VERSION}-fake.whl"
        with zipfile.ZipFile(wheel, "w") as archive:
            for name, data in FAKE_CONTENTS.items():
                archive.writestr(fakes[name].wheel_member, data)
        downloads.append(wheel)
        return wheel

    monkeypatch.setattr(files, "download_wheel", fake_download)
    return downloads


def test_fetch_downloads_once_then_uses_the_cache(tmp_path, fake_registry):
    path = files.fetch_model_file("full", tmp_path)
    assert path.read_bytes() == FAKE_CONTENTS["full"]
    assert (path.parent / "detector.tflite").read_bytes() == FAKE_CONTENTS["detector"]
    assert files.fetch_model_file("detector", tmp_path).parent == path.parent
    assert files.fetch_model_file("full", tmp_path) == path
    assert len(fake_registry) == 1


def test_a_corrupted_cache_is_replaced(tmp_path, fake_registry):
    path = files.fetch_model_file("full", tmp_path)
    path.write_bytes(b"bit rot")
    assert files.fetch_model_file("full", tmp_path).read_bytes() == FAKE_CONTENTS["full"]
    assert len(fake_registry) == 2


def test_wheel_member_with_wrong_hash_is_refused_and_not_written(tmp_path, fake_registry):
    wrong = files.ModelFile("full", "mediapipe/modules/full.tflite", "0" * 64)
    wheel = tmp_path / "mediapipe-x.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(wrong.wheel_member, b"something else")
    target = tmp_path / "out" / "full.tflite"
    with pytest.raises(files.ModelFileError, match="sha256"):
        files.extract_member(wheel, wrong, target)
    assert not target.exists()
    with pytest.raises(files.ModelFileError, match="no member"):
        files.extract_member(wheel, files.ModelFile("x", "missing.tflite", "0" * 64), target)


def test_verify_names_the_file_and_both_hashes(tmp_path):
    path = tmp_path / "pose_landmark_full.tflite"
    path.write_bytes(b"truncated")
    with pytest.raises(files.ModelFileError, match=r"pose_landmark_full\.tflite.*sha256.*e9a5c5"):
        files.verify_model_file(path, files.MODEL_FILES["full"])


def test_unknown_model_name():
    with pytest.raises(ValueError, match="known"):
        files.get_model_file("heavy")


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("BLAZEPOSE_CACHE_DIR", str(tmp_path / "a"))
    assert files.default_cache_dir() == tmp_path / "a"
    monkeypatch.delenv("BLAZEPOSE_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert files.default_cache_dir() == tmp_path / "xdg" / "blazepose"


def test_build_folder_atomically_publishes_once_and_leaves_nothing_on_failure(tmp_path):
    from blazepose.pretrained.files import build_folder_atomically

    target = tmp_path / "cache" / "env"
    calls = []

    def fill(scratch):
        calls.append(scratch)
        (scratch / "payload.txt").write_text("built")

    assert build_folder_atomically(target, fill, "READY", "v1\n") == target
    assert (target / "payload.txt").read_text() == "built"
    assert (target / "READY").read_text() == "v1\n"
    build_folder_atomically(target, fill, "READY", "v1\n")
    assert len(calls) == 1, "a ready folder is kept, not rebuilt"

    def broken(scratch):
        (scratch / "half.txt").write_text("partial")
        raise RuntimeError("install failed")

    other = tmp_path / "cache" / "other"
    with pytest.raises(RuntimeError, match="install failed"):
        build_folder_atomically(other, broken, "READY", "v1\n")
    assert not other.exists()
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["env"], "no scratch left"
