"""Dataset-scale conversion: any mix of skeleton files and folders -> one PYSKL pickle or ``.npz`` store.

>>> report = convert(["nturgbd_skeletons/", "kinetics/val/", "extra.bvh"], "all.pkl", to="pyskl", workers=4)
>>> report.failed          # [(path, why), ...]: every file that could not be read

Inputs are expanded like :class:`~.dataset.SkeletonDataset` indexes a folder (files
recursively, an OpenPose output folder as one source). Each source is parsed in a worker
process (``workers``; 1 = in this process) and its samples are written at once, atomically,
to a part file in ``<out>.parts/`` (or, if it failed, a small JSON with the reason; files
that are not skeleton data, such as label or caption files, are recorded as skipped). A
run that is interrupted keeps its parts, and the next run with the same output parses only
the sources without one (a source is parsed again when a file its reader used changed, as in
the dataset cache: :mod:`.reads`). The final
output is assembled from the parts and written atomically; then the parts are removed and
``<out>.report.json`` lists every converted, failed and skipped source.

PYSKL output (``to="pyskl"``): ``{"split": {...}, "annotations": [...]}`` pickled, each
annotation with PYSKL's keys ``frame_dir`` (unique sample name), ``label`` (the source's
0-based class id, -1 if it has none), ``keypoint`` ``(M, T, V, C)`` float32,
``total_frames`` and, for 2D data, ``keypoint_score`` ``(M, T, V)`` and (when known)
``img_shape`` / ``original_shape`` ``(h, w)``; absent bodies are zeros. Coordinates follow
PYSKL's conventions where it has one: NTU-25 in Kinect camera space (as PYSKL's
``ntu60_3danno.pkl``), 2D formats in pixels; other 3D topologies in skeletonllm's canonical
metres. Extra keys let :mod:`.formats.pyskl` read every annotation back exactly:
``topology`` (a built-in name or the full definition), ``coordinates`` (``kinect``,
``pixels`` or ``canonical``), ``fps``, ``label_name``, and for pixels ``pixel_origin`` /
``metres_per_pixel``. ``split`` holds ``all`` and, for samples that a standard protocol
covers (NTU, PKU-MMD names), the lists mmaction2's and PYSKL's NTU configs read (``xsub_train``,
``xsub_val``, ``xview_train``, ``xview_val``, and NTU-120's ``xset_train``, ``xset_val``) and
ours, ``<protocol>_train`` / ``<protocol>_val`` (``ntu60_xsub_train``, ``pku_xview_val``, ...). Labels keep
each source dataset's own class ids: converting several datasets into one file mixes
their label spaces (``label_name`` tells them apart). Orientations are not stored.

``.npz`` output (``to="npz"``): every sequence as it was loaded (topology, fps, label,
scores, orientations, metadata), compressed; it loads back with ``skeletonllm.load_all``.

Worker processes are started with ``spawn``: a script that calls :func:`convert` with
``workers > 1`` needs the usual ``if __name__ == "__main__":`` guard.
"""
from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from ..atomic import atomic_write_bytes, atomic_write_text
from ..errors import SkeletonLLMError
from .dataset import find_sources
from .formats import explain_unknown, get_format, sniff_format
from .formats._common import kinect_to_canonical
from .formats._people import metres_to_pixels
from .packing import read_header, read_npz, write_npz
from .reads import loader_version, note_file, note_folder, recording, signature, unchanged
from .sequence import SkeletonSequence
from .splits import PROTOCOLS, protocol_part
from .topology import BUILTIN_TOPOLOGIES, NTU25

TARGETS = ("pyskl", "npz")


@dataclass
class ConvertReport:
    """What :func:`convert` did. Paths are the sources as found; ``why`` is the error message."""

    output: Path
    converted: list[tuple[str, int]] = field(default_factory=list)  # (source, samples)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (source, why)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (source, why)
    parsed: int = 0  # sources parsed in this run (the rest came from parts of an earlier run)
    samples: int = 0

    def to_dict(self) -> dict:
        return {"output": str(self.output), "samples": self.samples, "parsed_this_run": self.parsed,
                "converted": [{"source": s, "samples": n} for s, n in self.converted],
                "failed": [{"source": s, "error": w} for s, w in self.failed],
                "skipped": [{"source": s, "reason": w} for s, w in self.skipped]}


# -- one source -> one part file ---------------------------------------------------------------
def _part_base(parts: Path, source: Path, format: str | None, options: dict) -> Path:
    key = json.dumps([str(source.resolve()), format, options], sort_keys=True, default=str)
    return parts / hashlib.sha1(key.encode()).hexdigest()[:20]


def _fresh(saved) -> bool:
    """Whether a part's ``signature`` (the readers' version, the files the reader used) still holds."""
    return isinstance(saved, list) and len(saved) == 2 and saved[0] == loader_version() and unchanged(saved[1])


def _write_status(base: Path, status: str, why: str, signature: list) -> None:
    # No fsync (also for the .npz parts below): a part damaged by a power cut fails to read
    # and its source is parsed again (_read_part).
    atomic_write_text(base.with_suffix(".json"), json.dumps({"status": status, "why": why, "signature": signature}),
                      fsync=False)
    base.with_suffix(".npz").unlink(missing_ok=True)  # a stale result of an earlier version of the file


def convert_one(source: str, base: str, format: str | None, options: dict) -> tuple[str, int, str]:
    """Parse ``source`` and write its part (``base`` + ``.npz``, or ``.json`` if it failed or is
    not skeleton data). Returns ``(status, samples, message)``; runs in a worker process."""
    src, base = Path(source), Path(base)
    name, seqs, why = None, None, None
    # A part is keyed like the dataset cache: on every file the reader used (a failure too: an .asf
    # that was missing may appear) and on the readers' version.
    with recording() as reads:
        (note_folder if src.is_dir() else note_file)(src)
        try:
            name = format or sniff_format(src)
            if name is not None:
                seqs = get_format(name).read(src, **options)
        except Exception as exc:  # one bad file never stops the run: record why, go on
            why = str(exc) if isinstance(exc, SkeletonLLMError) else f"{src}: {type(exc).__name__}: {exc}"
    sig = [loader_version(), signature(reads)]
    if why is not None:
        _write_status(base, "failed", why, sig)
        return "failed", 0, why
    if name is None:
        why = f"not skeleton data: {explain_unknown(src)}"
        _write_status(base, "skipped", why, sig)
        return "skipped", 0, why
    write_npz(base.with_suffix(".npz"), {"source": str(src), "format": name, "signature": sig}, seqs, fsync=False)
    base.with_suffix(".json").unlink(missing_ok=True)
    return "ok", len(seqs), ""


def _read_part(base: Path, source: Path, header_only: bool = False) -> tuple[str, object] | None:
    """``("ok", (format, seqs))``, ``("failed"|"skipped", why)``, or None if missing or stale
    (``header_only``: ``("ok", None)``, without reading the arrays)."""
    try:
        if base.with_suffix(".npz").is_file():
            if header_only:
                return ("ok", None) if _fresh(read_header(base.with_suffix(".npz")).get("signature")) else None
            header, seqs = read_npz(base.with_suffix(".npz"))
            return ("ok", (header["format"], seqs)) if _fresh(header.get("signature")) else None
        if base.with_suffix(".json").is_file():
            rec = json.loads(base.with_suffix(".json").read_text())
            return (rec["status"], rec["why"]) if _fresh(rec.get("signature")) else None
    except Exception:  # a damaged part is parsed again
        return None
    return None


# -- sequences -> PYSKL annotations ----------------------------------------------------------------
def to_pyskl(seq: SkeletonSequence, frame_dir: str) -> dict:
    """One PYSKL annotation of a sequence (module docstring)."""
    topo = seq.topology
    meta = seq.metadata
    ann = {"frame_dir": frame_dir, "label": -1 if seq.label_id is None else int(seq.label_id),
           "total_frames": seq.num_frames, "fps": float(seq.fps),
           "topology": topo.name if BUILTIN_TOPOLOGIES.get(topo.name) == topo else topo.to_dict()}
    if seq.label is not None:
        ann["label_name"] = seq.label
    if topo == NTU25:
        kp, ann["coordinates"] = kinect_to_canonical(seq.joints), "kinect"  # the flip is its own inverse
    elif topo.dims == 2 and "pixel_origin" in meta and "metres_per_pixel" in meta:
        kp, ann["coordinates"] = metres_to_pixels(seq.joints, seq.present, meta), "pixels"
        ann["pixel_origin"] = [float(v) for v in meta["pixel_origin"]]
        ann["metres_per_pixel"] = float(meta["metres_per_pixel"])
        size = meta.get("image_size") or ([meta["img_shape"][1], meta["img_shape"][0]] if "img_shape" in meta else None)
        if size is not None:
            ann["img_shape"] = ann["original_shape"] = (int(round(size[1])), int(round(size[0])))
    else:
        kp, ann["coordinates"] = seq.joints[..., :topo.dims], "canonical"
    kp = np.array(kp, np.float32)
    kp[~seq.present] = 0.0
    ann["keypoint"] = np.ascontiguousarray(np.transpose(kp, (1, 0, 2, 3)))
    if topo.dims == 2:
        score = seq.scores if seq.scores is not None else seq.present[..., None].repeat(topo.num_joints, -1)
        ann["keypoint_score"] = np.ascontiguousarray(np.transpose(np.asarray(score, np.float32), (1, 0, 2)))
    return ann


#: The split names mmaction2's and PYSKL's stock NTU configs read (``split='xsub_train'``), and the
#: protocol each comes from. NTU-120's cross-subject lists extend NTU-60's (the same subjects train), so
#: ``xsub_*`` is one list for either dataset: NTU-60's on NTU-60 files, NTU-120's on NTU-120 files.
MMACTION_SPLITS = {"xsub": "ntu120_xsub", "xview": "ntu60_xview", "xset": "ntu120_xset"}


def _splits(names: list[str]) -> dict[str, list[str]]:
    """``all``, mmaction2's names (``xsub_train``, ``xsub_val``, ``xview_*``, ``xset_*``) and ours
    (``ntu60_xsub_train`` ... ``pku_xview_val``) for the samples each protocol covers. A part with no
    sample is left out (mmaction2 stops on an empty list with an obscure error; a missing name is a
    plain ``KeyError: 'xsub_val'``)."""
    split = {"all": list(names)}
    for prefix, proto in [(p, p) for p in PROTOCOLS] + list(MMACTION_SPLITS.items()):
        for name in names:
            part = protocol_part(proto, name)
            if part is not None:
                split.setdefault(f"{prefix}_{'train' if part == 'train' else 'val'}", []).append(name)
    return split


def _sample_names(source: Path, seqs: list[SkeletonSequence], used: set[str]) -> list[str]:
    """Unique sample names: the file's name up to its first dot (a folder's name), ``_k`` for the
    k-th sample of a multi-sample file (or its own ``frame_dir``), parent folders prefixed on clashes."""
    stem = source.name.split(".")[0] or source.stem
    out = []
    for k, s in enumerate(seqs):
        base = str(s.metadata.get("frame_dir") or (stem if len(seqs) == 1 else f"{stem}_{k}"))
        name, parents = base, list(source.resolve().parent.parts[::-1])
        while name in used and parents:
            name = f"{parents.pop(0)}/{name}"
        n = 1
        while name in used:
            n += 1
            name = f"{base}_{n}"
        used.add(name)
        out.append(name)
    return out


# -- the whole run ---------------------------------------------------------------------------------
def expand_sources(sources) -> tuple[list[Path], list[tuple[str, str]]]:
    """Sources as given -> (sample sources, [(missing source, why)])."""
    out, seen, missing = [], set(), []
    for s in sources:
        p = Path(s)
        if not p.exists():
            missing.append((str(p), f"{p}: file or folder not found"))
            continue
        for f in find_sources(p):
            key = f.resolve()
            if key not in seen:
                seen.add(key)
                out.append(f)
    return out, missing


def convert(sources, out, to: str = "pyskl", workers: int = 1, format: str | None = None,
            options: dict | None = None, progress: bool = True, keep_parts: bool = False) -> ConvertReport:
    """Convert ``sources`` (files and folders) into one output file (module docstring)."""
    if to not in TARGETS:
        raise ValueError(f"--to must be one of {TARGETS}, got {to!r}")
    out = Path(out)
    options = dict(options or {})
    parts = out.with_name(out.name + ".parts")
    parts.mkdir(parents=True, exist_ok=True)
    inputs, missing = expand_sources(sources)
    bases = {src: _part_base(parts, src, format, options) for src in inputs}
    todo = [src for src in inputs if _read_part(bases[src], src, header_only=True) is None]
    report = ConvertReport(out, parsed=len(todo))
    _run(todo, bases, format, options, workers, progress)

    seqs_out, names, used = [], [], set()
    for src in inputs:
        got = _read_part(bases[src], src)
        if got is None:  # the part vanished or went stale during the run
            report.failed.append((str(src), f"{src}: no result (changed while converting?)"))
            continue
        status, value = got
        if status == "ok":
            _, seqs = value
            report.converted.append((str(src), len(seqs)))
            for seq, name in zip(seqs, _sample_names(src, seqs, used)):
                seq.metadata["frame_dir"] = name
                seqs_out.append(seq)
                names.append(name)
        else:
            (report.failed if status == "failed" else report.skipped).append((str(src), value))
    report.failed.extend(missing)
    report.samples = len(seqs_out)
    if not seqs_out:
        raise SkeletonLLMError(f"nothing to write: none of {len(inputs)} sources could be converted "
                               f"({len(report.failed)} failed, {len(report.skipped)} not skeleton data)")
    if to == "pyskl":
        data = {"split": _splits(names), "annotations": [to_pyskl(s, n) for s, n in zip(seqs_out, names)]}
        atomic_write_bytes(out, pickle.dumps(data, protocol=4))
    else:
        write_npz(out, {"kind": "skeletonllm-store", "version": 1}, seqs_out, compress=True)
    atomic_write_text(out.with_name(out.name + ".report.json"), json.dumps(report.to_dict(), indent=1))
    if not keep_parts:
        shutil.rmtree(parts, ignore_errors=True)
    return report


def _run(todo: list[Path], bases: dict, format, options, workers: int, progress: bool) -> None:
    from tqdm.auto import tqdm

    bar = tqdm(total=len(todo), desc="convert", unit="file", disable=not progress or not todo)
    try:
        if workers <= 1 or len(todo) <= 1:
            for src in todo:
                convert_one(str(src), str(bases[src]), format, options)
                bar.update()
            return
        # spawn: workers start clean (no inherited threads or torch state); they import only skeleton/.
        with ProcessPoolExecutor(max_workers=min(workers, len(todo)), mp_context=get_context("spawn")) as pool:
            futures = [pool.submit(convert_one, str(src), str(bases[src]), format, options) for src in todo]
            try:
                for fut in as_completed(futures):
                    fut.result()
                    bar.update()
            except BaseException:
                for f in futures:
                    f.cancel()
                raise
    finally:
        bar.close()


def default_workers() -> int:
    return max(1, min(8, os.cpu_count() or 1))
