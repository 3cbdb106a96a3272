"""Running a :class:`~blazepose.inference.PosePipeline` over a video, images or a webcam.

:func:`open_source` opens the input (and reads its first frame, so that an unreadable file fails
before any model is loaded); :func:`process_video` runs the pipeline with decoding and
annotation + encoding in their own threads (OpenCV releases the GIL while it decodes, draws and
encodes), and returns the per-frame records of the JSON output, a track file
(:mod:`blazepose.track_file`: schema, rounding, writer and reader): per frame the 33
``landmarks`` (x, y, z image pixels as :class:`~blazepose.inference.PoseResult`, visibility,
presence) and ``world_landmarks`` (metres), or ``null`` without a pose; with a pipeline of
``max_people > 1`` also the ``people`` list of every person with its ``track_id``
(:func:`blazepose.track_file.people_record`), and the annotated video labels each person.
"""

from __future__ import annotations

import dataclasses
import math
import os
import pathlib
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator

import cv2
import numpy as np
import tqdm

from blazepose import track_file
from blazepose.inference import annotate as annotate_lib

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
VIDEO_OUTPUT_EXTENSIONS = (".mp4",)
WEBCAM = "webcam"


class InputError(ValueError):
    """An input that cannot be read; the message names it."""


@dataclasses.dataclass
class Frame:
    """One input frame: ``bgr`` uint8 ``[H, W, 3]`` (OpenCV order), ``time_s`` seconds."""

    index: int
    time_s: float
    bgr: np.ndarray
    name: str = ""


@dataclasses.dataclass
class DecodeReport:
    """What decoding a video file found, for the cross-checks of :func:`decode_warnings`.

    Attributes:
      declared_frames: the container's frame count (0 when it gives none).
      declared_fps: the container's frame rate (the one ``time_s`` uses).
      decoded: frames decoded.
      decode_errors: reads that failed before the declared last frame.
      stream_ms: the demuxer's timestamp of each decoded frame (``CAP_PROP_POS_MSEC``).
      exhausted: decoding reached the end (or a read that no retry got past).
    """

    declared_frames: int
    declared_fps: float
    decoded: int = 0
    decode_errors: int = 0
    stream_ms: list[float] = dataclasses.field(default_factory=list)
    exhausted: bool = False


MAX_READ_RETRIES = 3
"""Reads tried after a failed one before a video is taken to end (a damaged frame may be
followed by decodable ones)."""

FRAME_COUNT_TOLERANCE = 1
"""Frames the decoded count may differ from the container's count without a warning (the
count in the header is an estimate for some containers)."""

FRAME_RATE_TOLERANCE = 0.05
"""Relative difference between the container's frame rate and the stream's timestamps above
which ``time_s`` is reported as doubtful."""


def decode_warnings(report: DecodeReport) -> list[str]:
    """One-line warnings about frames lost or times doubtful, from a finished decode.

    Checks: decode errors; the decoded frame count against the container's (only once decoding
    reached the end); the container's frame rate against the median step of the stream's
    timestamps (when they increase).
    """
    warnings = []
    if report.decode_errors:
        warnings.append(f"{report.decode_errors} frame read(s) failed (damaged data?) after "
                        f"frame {report.decoded - 1}")
    declared = report.declared_frames
    if report.exhausted and declared and abs(report.decoded - declared) > FRAME_COUNT_TOLERANCE:
        lost = declared - report.decoded
        warnings.append(
            f"decoded {report.decoded} frames but the container declares {declared}"
            + (f": {lost} frame(s) lost" if lost > 0 else ": the header is wrong")
            + f"; time_s assumes {report.declared_fps:g} fps and may be off")
    steps = np.diff(np.asarray(report.stream_ms, np.float64))
    if len(steps) >= 2 and (steps > 0).all() and report.declared_fps > 0:
        stream_fps = 1000.0 / float(np.median(steps))
        if abs(stream_fps - report.declared_fps) > FRAME_RATE_TOLERANCE * stream_fps:
            warnings.append(f"the container says {report.declared_fps:g} fps but the frames' "
                            f"timestamps advance at {stream_fps:.4g} fps; time_s uses "
                            f"{report.declared_fps:g} fps and may be off by a factor "
                            f"{report.declared_fps / stream_fps:.3g}")
    return warnings


@dataclasses.dataclass
class Source:
    """An opened input.

    Attributes:
      kind: ``video``, ``image``, ``folder`` or ``webcam``.
      fps: frames per second of the timestamps (a single image: 0).
      width, height: of the first frame (every frame of a video has this size).
      frame_count: frames expected, when known (for the progress bar's ETA).
      frames: the frame iterator (the first frame included).
      decode: for a video file, what decoding found so far (:func:`decode_warnings`).
    """

    kind: str
    name: str
    fps: float
    width: int
    height: int
    frame_count: int | None
    frames: Iterator[Frame]
    close: Callable[[], None] = lambda: None
    decode: DecodeReport | None = None


def _read_image(path: pathlib.Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(f"{path}: not a readable image")
    return image


def _video_frames(capture, first: np.ndarray, fps: float, report: DecodeReport
                  ) -> Iterator[Frame]:
    """Frames at ``index / fps``; a failed read before the container's last frame is retried
    (:data:`MAX_READ_RETRIES`) and counted in ``report``."""
    index = 0
    frame = first
    while frame is not None:
        report.decoded += 1
        report.stream_ms.append(float(capture.get(cv2.CAP_PROP_POS_MSEC)))
        yield Frame(index, index / fps, frame)
        index += 1
        frame = None
        for attempt in range(MAX_READ_RETRIES + 1):
            ok, frame = capture.read()
            if ok and frame is not None:
                break
            frame = None
            if attempt == 0 and not (report.declared_frames
                                     and index < report.declared_frames):
                break  # the end the container announced
            report.decode_errors += attempt == 0
    report.exhausted = True


def _webcam_frames(capture, first: np.ndarray) -> Iterator[Frame]:
    start = time.monotonic()
    index = 0
    frame = first
    while frame is not None:
        yield Frame(index, time.monotonic() - start, frame)
        index += 1
        ok, frame = capture.read()
        if not ok:
            frame = None


def _folder_frames(paths: list[pathlib.Path], first: np.ndarray, fps: float) -> Iterator[Frame]:
    for index, path in enumerate(paths):
        image = first if index == 0 else _read_image(path)
        yield Frame(index, index / fps, image, path.name)


def open_source(spec: str, images_fps: float = 30.0) -> Source:
    """Opens ``spec``: a video file, an image file, a folder of images, or ``webcam`` /
    ``webcam:N`` (camera index N, default 0).

    A folder's images (by extension, sorted by name) are frames at ``images_fps``; they may
    differ in size. The first frame is read here.

    Raises:
      InputError: a missing path, an unreadable video or image, an empty folder, or a camera
        that does not deliver frames; the message names the input.
    """
    if spec == WEBCAM or spec.startswith(WEBCAM + ":"):
        index_text = spec.partition(":")[2] or "0"
        if not index_text.isdigit():
            raise InputError(f"--input {spec}: the camera index must be a number (webcam:0)")
        capture = cv2.VideoCapture(int(index_text))
        ok, first = capture.read() if capture.isOpened() else (False, None)
        if not ok:
            capture.release()
            raise InputError(f"{spec}: camera {index_text} cannot be opened or gives no frames")
        fps = capture.get(cv2.CAP_PROP_FPS)
        return Source(WEBCAM, spec, fps if fps and math.isfinite(fps) and fps > 0 else 30.0,
                      first.shape[1], first.shape[0], None, _webcam_frames(capture, first),
                      capture.release)
    path = pathlib.Path(spec)
    if not path.exists():
        raise InputError(f"{spec}: no such file or folder")
    if path.is_dir():
        paths = sorted(p for p in path.iterdir()
                       if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
        if not paths:
            raise InputError(f"{spec}: folder has no images ({', '.join(IMAGE_EXTENSIONS)})")
        first = _read_image(paths[0])
        return Source("folder", spec, images_fps, first.shape[1], first.shape[0], len(paths),
                      _folder_frames(paths, first, images_fps))
    if path.suffix.lower() in IMAGE_EXTENSIONS:
        first = _read_image(path)
        return Source("image", spec, 0.0, first.shape[1], first.shape[0], 1,
                      iter([Frame(0, 0.0, first, path.name)]))
    capture = cv2.VideoCapture(str(path))
    ok, first = capture.read() if capture.isOpened() else (False, None)
    if not ok or first is None:
        capture.release()
        raise InputError(f"{spec}: not a readable video (OpenCV/FFmpeg cannot decode it)")
    fps = capture.get(cv2.CAP_PROP_FPS)
    if not (fps and math.isfinite(fps) and fps > 0):
        fps = 30.0
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    report = DecodeReport(max(count, 0), fps)
    return Source("video", spec, fps, first.shape[1], first.shape[0], count if count > 0 else None,
                  _video_frames(capture, first, fps, report), capture.release, report)


_DONE = object()


class _Reader(threading.Thread):
    """Reads frames ahead into a bounded queue and converts them to RGB."""

    def __init__(self, frames: Iterator[Frame], limit: int | None, depth: int = 4):
        super().__init__(daemon=True, name="frame-reader")
        self._frames = frames
        self._limit = limit
        self.queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop_event = threading.Event()

    def run(self):
        try:
            for count, frame in enumerate(self._frames):
                if self._stop_event.is_set() or (self._limit and count >= self._limit):
                    break
                rgb = cv2.cvtColor(frame.bgr, cv2.COLOR_BGR2RGB)
                self._put((frame, rgb))
        except BaseException as error:  # handed to the consumer, raised there
            self._put(error)
        self._put(_DONE)

    def _put(self, item):
        while not self._stop_event.is_set():
            try:
                self.queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def stop(self):
        self._stop_event.set()

    def __iter__(self):
        while True:
            item = self.queue.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item


class _Writer(threading.Thread):
    """Annotates and encodes frames in the background (or only encodes, when already drawn)."""

    def __init__(self, path: str | None, fps: float, size: tuple[int, int], mask_overlay: bool,
                 depth: int = 4):
        super().__init__(daemon=True, name="frame-writer")
        self.path = path
        self.size = size
        self.mask_overlay = mask_overlay
        self.queue: queue.Queue = queue.Queue(maxsize=depth)
        self.error: BaseException | None = None
        self._writer = None
        self._image_output = path is not None and pathlib.Path(path).suffix.lower() in \
            IMAGE_EXTENSIONS
        if path is not None and not self._image_output:
            self._writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"),
                                           fps if fps > 0 else 1.0, size)
            if not self._writer.isOpened():
                raise InputError(f"--output {path}: OpenCV cannot write an mp4 video there")

    def run(self):
        try:
            while True:
                item = self.queue.get()
                if item is _DONE:
                    break
                frame, result, fps, drawn = item
                if not drawn:
                    annotate_lib.annotate(frame, result, mask_overlay=self.mask_overlay, fps=fps)
                if frame.shape[1::-1] != self.size:
                    frame = cv2.resize(frame, self.size, interpolation=cv2.INTER_AREA)
                if self._image_output:
                    if not cv2.imwrite(self.path, frame):
                        raise InputError(f"--output {self.path}: cannot write the image")
                elif self._writer is not None:
                    self._writer.write(frame)
        except BaseException as error:
            self.error = error
            while self.queue.get() is not _DONE:  # unblock the producer
                pass
        finally:
            if self._writer is not None:
                self._writer.release()

    def put(self, frame, result, fps, drawn):
        if self.error is not None:
            raise self.error
        self.queue.put((frame, result, fps, drawn))

    def finish(self):
        self.queue.put(_DONE)
        self.join()
        if self.error is not None:
            raise self.error


def display_available() -> tuple[bool, str]:
    """Whether a window can be shown: ``(ok, reason when not)``."""
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return False, "no display (DISPLAY / WAYLAND_DISPLAY are unset)"
    try:
        cv2.namedWindow("blazepose probe", cv2.WINDOW_AUTOSIZE)
        cv2.destroyWindow("blazepose probe")
    except cv2.error:
        return False, ("this OpenCV has no GUI support (opencv-python-headless); install "
                       "opencv-python for windows")
    return True, ""


@dataclasses.dataclass
class RunSummary:
    """What :func:`process_video` did: frame and detection counts, wall time, FPS, and the
    warnings about lost frames or doubtful times (also in the JSON's ``warnings``)."""

    frames: int
    frames_with_pose: int
    detector_runs: int
    seconds: float
    record: dict
    warnings: list[str] = dataclasses.field(default_factory=list)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def process_video(source: Source, pipeline, *, output: str | None = None,
                  output_json: str | None = None, show: bool = False,
                  mask_overlay: bool = False, max_frames: int | None = None,
                  progress: bool = True, static_images: bool = False,
                  progress_stream=None) -> RunSummary:
    """Runs ``pipeline`` over every frame of ``source``; writes the annotated video and JSON.

    Frames are decoded ahead in a reader thread; annotation and encoding run in a writer thread
    (in the main thread when ``show``, as OpenCV windows need it). A single image, and every
    frame with ``static_images``, goes through ``pipeline.process_image`` (detector every time,
    no smoothing); other frames through ``pipeline.process_frame``. A pipeline with
    ``max_people > 1`` goes through ``process_image_people`` / ``process_frame_people`` instead
    (``frames_with_pose`` then counts frames with anyone).

    Args:
      output: an ``.mp4`` path (or, for a single image, an image path), or None.
      output_json: the JSON path, or None.
      max_frames: stop after this many frames (None or 0: all).
      progress: a tqdm progress line (frames done of the total, frames/s, ETA) on
        ``progress_stream`` (default stderr), redrawn every 10 s when that is not a terminal.
    Returns:
      a :class:`RunSummary`; its ``record`` is the JSON object, whose ``warnings`` list what
      decoding a video file lost or doubts (:func:`decode_warnings`; empty when all is well).
    """
    static = static_images or source.kind == "image"
    pipeline.reset()
    writer = None
    if output is not None:
        writer = _Writer(output, source.fps, (source.width, source.height), mask_overlay)
        writer.start()
    total = source.frame_count
    if max_frames and total:
        total = min(total, max_frames)
    elif max_frames:
        total = max_frames if source.kind != WEBCAM else None
    reader = _Reader(source.frames, max_frames or None)
    reader.start()
    stream = progress_stream or sys.stderr
    meter = tqdm.tqdm(total=total, desc="video", unit="frame", file=stream, disable=not progress,
                      mininterval=0.25 if stream.isatty() else 10.0)
    start = time.perf_counter()
    records = []
    with_pose = detector_runs = 0
    people = getattr(pipeline, "max_people", 1) > 1
    last_time = None
    try:
        for count, (frame, rgb) in enumerate(reader, start=1):
            if static:
                result = (pipeline.process_image_people(rgb) if people
                          else pipeline.process_image(rgb))
                detector_runs += 1
            else:
                time_s = frame.time_s
                if last_time is not None and time_s <= last_time:
                    time_s = last_time + 1e-6  # a webcam may repeat a clock reading
                last_time = time_s
                result = (pipeline.process_frame_people(rgb, time_s) if people
                          else pipeline.process_frame(rgb, time_s))
                detector_runs += "detector_ms" in pipeline.last_timings
            if people:
                with_pose += bool(result)
                records.append(track_file.people_record(frame.index, frame.time_s, result))
            else:
                with_pose += result is not None
                records.append(track_file.result_record(frame.index, frame.time_s, result))
            meter.update()
            elapsed = time.perf_counter() - start
            fps = count / elapsed if elapsed > 0 else 0.0
            if show:
                annotate_lib.annotate(frame.bgr, result, mask_overlay=mask_overlay, fps=fps)
                cv2.imshow("BlazePose", frame.bgr)
                if cv2.waitKey(1) & 0xFF in (27, ord("q")):
                    break
            if writer is not None:
                writer.put(frame.bgr, result, fps, show)
    except KeyboardInterrupt:  # Ctrl-C ends a webcam run: keep what was processed
        pass
    finally:
        reader.stop()
        reader.join(timeout=10.0)  # never release the capture while the reader is in read()
        source.close()
        if writer is not None:
            writer.finish()
        if show:
            cv2.destroyAllWindows()
    seconds = time.perf_counter() - start
    meter.close()
    warnings = decode_warnings(source.decode) if source.decode is not None else []
    record = track_file.track_document(source.fps, source.width, source.height, records,
                                       warnings=warnings)
    if output_json is not None:
        track_file.write_track(output_json, record)
    return RunSummary(len(records), with_pose, detector_runs, seconds, record, warnings)

