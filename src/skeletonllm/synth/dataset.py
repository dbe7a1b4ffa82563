"""A procedural motion dataset with zero-shot class splits, captions, rationales and QA.

    ds = SyntheticMotionSet.for_split("synth_24_6", num_per_class=20, seed=0)
    train = [ds[i] for i in ds.seen_indices()]          # SyntheticSample
    seqs = ds.sequences("ntu25")                        # list[SkeletonSequence]
    ds.all_topologies(0)                                 # same motion, every format
    ds.save("cache/synth"); ds2 = SyntheticMotionSet.load("cache/synth")

Sample ``k`` of class ``c`` draws everything from ``SeedSequence([seed, crc32(c), k])``,
so it does not depend on which other classes or how many samples the set holds. Its
motion, text and per-format sensor noise use separate child streams: asking for another
topology never changes the motion or the words.
"""
from __future__ import annotations

import json
import os
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from ..atomic import atomic_directory
from ..errors import SkeletonFormatError
from ..skeleton import BUILTIN_TOPOLOGIES, SkeletonSequence, Topology, get_topology
from .actions import ACTION_CLASSES, CORE_CLASSES, DEPICTION_CLASSES, build_program, get_action
from .body import BodyMotion, BodyShape, Placement, pose_body, pose_bodies
from .emit import View2D, emit_sequence
from .program import MotionProgram
from .text import QAItem, captions, qa_items, rationale

FORMAT_NAME = "skeletonllm-synthetic-motion"
FORMAT_VERSION = 1
ALL_TOPOLOGIES = ("ntu25", "kinect_v1_20", "smpl22", "coco17")


# -- splits -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class ClassSplit:
    """Seen (training) and unseen (zero-shot test) classes."""

    name: str
    seen: tuple[str, ...]
    unseen: tuple[str, ...]

    @property
    def classes(self) -> tuple[str, ...]:
        return self.seen + self.unseen


_UNSEEN_6 = ("kick left leg", "wave left hand", "punch with right arm", "lift right leg sideways", "raise both arms",
             "swing left arm")
_SEEN_24 = tuple(c for c in CORE_CLASSES if c not in _UNSEEN_6)
_DEPICTION = {n for names in DEPICTION_CLASSES.values() for n in names if n not in CORE_CLASSES}

SPLITS: dict[str, ClassSplit] = {
    # Every unseen class is a known movement on a known part, with a side that part was
    # seen on: "kick left leg" from "kick right leg" + "raise left leg".
    "synth_24_6": ClassSplit("synth_24_6", _SEEN_24, _UNSEEN_6),
    # Harder: some movements were seen only on another part ("swing" only on arms before
    # "swing left leg" / "swing right leg"), and fewer examples of each side remain.
    "synth_20_10": ClassSplit("synth_20_10", tuple(c for c in CORE_CLASSES if c not in (
        "kick left leg", "wave left hand", "punch with right arm", "raise both arms", "swing left leg",
        "swing right leg", "lift left arm sideways", "touch head with right hand", "raise right leg",
        "wave both hands")), (
        "kick left leg", "wave left hand", "punch with right arm", "raise both arms", "swing left leg",
        "swing right leg", "lift left arm sideways", "touch head with right hand", "raise right leg",
        "wave both hands")),
    # The 46 classes that are not depiction classes.
    "synth_36_10": ClassSplit("synth_36_10", tuple(c for c in ACTION_CLASSES if c not in _DEPICTION and c not in (
        "kick left leg", "wave left hand", "punch with right arm", "raise both arms", "hop on right leg",
        "lean torso left", "twist torso right", "turn head left", "reach forward with right arm",
        "touch head with right hand")), (
        "kick left leg", "wave left hand", "punch with right arm", "raise both arms", "hop on right leg",
        "lean torso left", "twist torso right", "turn head left", "reach forward with right arm",
        "touch head with right hand")),
    # synth_24_6 plus the depiction classes (``actions.DEPICTION_CLASSES``): pairs told apart only
    # by depth, speed or which crossing limb is in front. Both members of each new pair are
    # unseen (so that telling them apart is part of the zero-shot test); the seen classes teach
    # each new movement on the other side or on another part.
    "synth_31_13": ClassSplit("synth_31_13", _SEEN_24 + (
        "stretch right arm forward", "stretch right arm backward", "step forward with right leg",
        "step back with right leg", "wave right hand slowly", "cross left hand over right",
        "cross right hand over left"), _UNSEEN_6 + (
        "stretch left arm forward", "stretch left arm backward", "step forward with left leg",
        "step back with left leg", "wave left hand slowly", "cross left arm over right", "cross right arm over left")),
}


def get_split(name: str) -> ClassSplit:
    try:
        return SPLITS[name]
    except KeyError:
        raise KeyError(f"unknown synthetic split '{name}'; known: {sorted(SPLITS)}") from None


def check_compositional(split: ClassSplit, require_pairs: bool = False) -> dict:
    """Verify that every unseen class is a new composition of seen parts.

    Always required: each unseen class's movement, part and side each occur in some seen
    class, and no unseen class is also seen. With ``require_pairs`` also: its (movement,
    part) pair and its (part, side) pair each occur in some seen class.

    Returns a report ``{class: {"movement": [...seen classes...], "part": ..., "side": ...,
    "movement+part": ..., "part+side": ...}}``; raises ``ValueError`` listing every violation.
    """
    problems = []
    overlap = set(split.seen) & set(split.unseen)
    if overlap:
        problems.append(f"classes both seen and unseen: {sorted(overlap)}")
    if len(set(split.seen)) != len(split.seen) or len(set(split.unseen)) != len(split.unseen):
        problems.append("duplicate class names")
    seen = [get_action(n) for n in split.seen]
    report = {}
    for name in split.unseen:
        u = get_action(name)
        r = {
            "movement": [s.name for s in seen if s.movement == u.movement],
            "part": [s.name for s in seen if s.part == u.part],
            "side": [s.name for s in seen if s.side == u.side],
            "movement+part": [s.name for s in seen if (s.movement, s.part) == (u.movement, u.part)],
            "part+side": [s.name for s in seen if (s.part, s.side) == (u.part, u.side)],
        }
        report[name] = r
        need = ("movement", "part", "side") + (("movement+part", "part+side") if require_pairs else ())
        for key in need:
            if not r[key]:
                problems.append(f"unseen '{name}': its {key} {_atom(u, key)!r} occurs in no seen class")
    if problems:
        raise ValueError(f"split '{split.name}' is not compositional: " + "; ".join(problems))
    return report


def _atom(a, key: str):
    return {"movement": a.movement, "part": a.part, "side": a.side, "movement+part": (a.movement, a.part),
            "part+side": (a.part, a.side)}[key]


# -- generation -------------------------------------------------------------------------------

@dataclass
class SynthConfig:
    """Randomisation ranges of the generator.

    Attributes:
        frames: clip length range in frames (at ``fps``); two-person clips use the upper
            part of the range (they have more steps).
        noise_std: range of the per-sample sensor noise (metres; i.i.d. per joint and frame).
        drop_prob: probability that a clip has dropped frames (``present = False``).
        max_drop_runs / max_drop_len: at most this many gaps of at most this many frames.
        sway_prob: probability of a slow idle sway of the torso.
        facing_jitter: the actor faces the camera within +- this many degrees.
        height_range: stature range in metres.
        distance_range: camera-to-actor distance (metres).
    """

    frames: tuple[int, int] = (40, 90)
    fps: float = 30.0
    noise_std: tuple[float, float] = (0.003, 0.012)
    drop_prob: float = 0.35
    max_drop_runs: int = 2
    max_drop_len: int = 3
    sway_prob: float = 0.5
    facing_jitter: float = 30.0
    height_range: tuple[float, float] = (1.55, 1.92)
    distance_range: tuple[float, float] = (2.6, 3.4)

    @classmethod
    def clean(cls) -> "SynthConfig":
        """No sensor noise, no dropped frames, no sway (for checks of the geometry)."""
        return cls(noise_std=(0.0, 0.0), drop_prob=0.0, sway_prob=0.0)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "SynthConfig":
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


@dataclass
class SyntheticSample:
    """One generated clip: its program, text and (lazily emitted) skeleton sequences.

    Attributes:
        index: position in the set; ``label`` / ``label_id`` its class.
        program: the motion program (what moved, when, how).
        captions: 2-3 captions; ``rationale``: steps ending in ``Label: <action>``;
        qa: one question per type (temporal, causal, fine-grained, contrastive).
        present: ``(T, M)`` tracked frames; ``view``: the 2D camera; ``noise_std``: metres.
    """

    index: int
    label: str
    label_id: int
    k: int
    program: MotionProgram
    captions: list[str]
    rationale: str
    qa: list[QAItem]
    present: np.ndarray
    view: View2D
    noise_std: float
    noise_entropy: int
    shapes: list[BodyShape] = field(repr=False, default_factory=list)
    _bodies: list[BodyMotion] | None = field(default=None, repr=False)
    _sequences: dict[str, SkeletonSequence] = field(default_factory=dict, repr=False)

    def bodies(self) -> list[BodyMotion]:
        """The posed rig of each actor (world frame), computed once."""
        if self._bodies is None:
            self._bodies = [pose_body(self.shapes[a], self.program.tracks(a), self.program.num_frames,
                                      self.program.placements[a]) for a in range(self.program.num_actors)]
        return self._bodies

    def sequence(self, topology: str | Topology = "ntu25") -> SkeletonSequence:
        """This sample in ``topology`` (cached); the same motion in every format."""
        if isinstance(topology, str) and topology in self._sequences:
            return self._sequences[topology]
        topo = get_topology(topology)
        key = topo.name
        if key not in self._sequences:
            rng = np.random.default_rng([self.noise_entropy, zlib.crc32(key.encode())])
            self._sequences[key] = emit_sequence(
                self.bodies(), self.present, topo, noise_std=self.noise_std, rng=rng, view=self.view,
                fps=self.program.fps, label=self.label, label_id=self.label_id,
                metadata={"source": f"<synthetic #{self.index}: {self.label}>", "captions": list(self.captions),
                          "sample_index": self.index, "synthetic": True})
        return self._sequences[key]


def _pose_all(samples: Sequence[SyntheticSample]) -> None:
    """Pose every actor of every sample in one forward-kinematics batch."""
    todo = [(s, a) for s in samples if s._bodies is None for a in range(s.program.num_actors)]
    if not todo:
        return
    posed = pose_bodies([(s.shapes[a], s.program.tracks(a), s.program.num_frames, s.program.placements[a])
                         for s, a in todo])
    for (s, a), body in zip(todo, posed):
        if s._bodies is None:
            s._bodies = []
        s._bodies.append(body)


def _present_mask(rng: np.random.Generator, T: int, M: int, cfg: SynthConfig) -> np.ndarray:
    present = np.ones((T, M), dtype=bool)
    for m in range(M):
        if rng.random() < cfg.drop_prob:
            for _ in range(int(rng.integers(1, cfg.max_drop_runs + 1))):
                length = int(rng.integers(1, cfg.max_drop_len + 1))
                start = int(rng.integers(1, max(2, T - length)))   # keep frame 0: a valid reference
                present[start:start + length, m] = False
    return present


def generate_sample(action: str, k: int, seed: int, config: SynthConfig | None = None,
                    pool: Sequence[str] = (), index: int = 0, label_id: int = 0) -> SyntheticSample:
    """Sample ``k`` of class ``action`` (deterministic in ``seed``, ``action``, ``k``, ``config``)."""
    cfg = config or SynthConfig()
    cls = get_action(action)
    motion_ss, text_ss, noise_ss = np.random.SeedSequence([seed, zlib.crc32(action.encode()), k]).spawn(3)
    rng = np.random.default_rng(motion_ss)
    T, shapes, placements, sway = stage_actors(rng, cfg, cls.actors)
    program = build_program(cls, rng, T, cfg.fps, shapes, placements, sway)
    present, view, noise_std = sensing(rng, T, cls.actors, cfg)
    trng = np.random.default_rng(text_ss)
    caps = captions(program, trng)
    why = rationale(program, trng, pool)
    qa = qa_items(program, trng, pool)
    return SyntheticSample(index=index, label=action, label_id=label_id, k=k, program=program, captions=caps,
                           rationale=why, qa=qa, present=present, view=view, noise_std=noise_std,
                           noise_entropy=int(noise_ss.generate_state(1)[0]), shapes=shapes)


def stage_actors(rng: np.random.Generator, cfg: SynthConfig, actors: int):
    """``(num_frames, shapes, placements, sway)`` of a new clip: its length (two-actor clips get
    the longer half of the range: interactions have more steps), each actor's proportions, where
    they stand on a shared floor, and their idle sway."""
    lo, hi = cfg.frames
    if actors == 2:
        lo = max(lo, int(lo + 0.5 * (hi - lo)))
    T = int(rng.integers(lo, hi + 1))
    shapes = [BodyShape.sample(rng, cfg.height_range) for _ in range(actors)]
    floor = -float(rng.uniform(0.8, 1.05))
    placements = [Placement(x=float(rng.uniform(-0.4, 0.4)), z=float(rng.uniform(*cfg.distance_range)),
                            floor=floor, facing=float(rng.uniform(-cfg.facing_jitter, cfg.facing_jitter)))
                  for _ in range(actors)]
    sway = [({"lean": float(rng.uniform(1.0, 3.0)), "shift": float(rng.uniform(0.005, 0.02)),
              "period": float(rng.uniform(1.5, 4.0)), "phase": float(rng.uniform(0, 2 * np.pi))}
             if rng.random() < cfg.sway_prob else None) for _ in range(actors)]
    return T, shapes, placements, sway


def sensing(rng: np.random.Generator, T: int, actors: int, cfg: SynthConfig):
    """``(present, view, noise_std)``: how a clip was captured (tracking dropouts, the 2D camera,
    sensor noise)."""
    present = _present_mask(rng, T, actors, cfg)
    return present, View2D.sample(rng), float(rng.uniform(*cfg.noise_std))


# -- the set ----------------------------------------------------------------------------------

class SyntheticMotionSet:
    """``num_per_class`` generated samples of each class.

    Args:
        num_per_class: samples per class.
        seed: the set's seed.
        topologies: formats emitted up front (and saved); any other is emitted on demand.
        classes: class names (default: the split's classes, else all 46).
        split: a :class:`ClassSplit` or its name; seen-class samples' texts then mention
            seen classes only (unseen classes never reach a training prompt).
        config: randomisation ranges.
        eager: generate every sample now (else on first access).

    Samples are ordered class by class: index ``i`` is sample ``i % num_per_class`` of
    class ``classes[i // num_per_class]``; ``label_id`` indexes :attr:`classes`.
    """

    def __init__(self, num_per_class: int = 20, seed: int = 0, topologies: Sequence[str] = ("ntu25",),
                 classes: Sequence[str] | None = None, split: ClassSplit | str | None = None,
                 config: SynthConfig | None = None, eager: bool = True):
        if num_per_class < 1:
            raise ValueError(f"num_per_class must be >= 1, got {num_per_class}")
        self.split = get_split(split) if isinstance(split, str) else split
        if classes is None:
            classes = self.split.classes if self.split else tuple(ACTION_CLASSES)
        self.classes: tuple[str, ...] = tuple(classes)
        for c in self.classes:
            get_action(c)
        if len(set(self.classes)) != len(self.classes):
            raise ValueError("duplicate class names")
        if self.split is not None:
            missing = set(self.classes) - set(self.split.classes)
            if missing:
                raise ValueError(f"classes {sorted(missing)} are not in split '{self.split.name}'")
        self._topology_objects = {t.name: t for t in (get_topology(x) for x in topologies)}
        self.topologies = tuple(self._topology_objects)
        self.num_per_class = int(num_per_class)
        self.seed = int(seed)
        self.config = config or SynthConfig()
        self._samples: list[SyntheticSample | None] = [None] * len(self)
        if eager:
            samples = [self[i] for i in range(len(self))]
            _pose_all(samples)
            for s in samples:
                for t in self._topology_objects.values():
                    s.sequence(t)

    @classmethod
    def for_split(cls, split: str | ClassSplit, num_per_class: int = 20, seed: int = 0, **kw) -> "SyntheticMotionSet":
        return cls(num_per_class=num_per_class, seed=seed, split=split, **kw)

    # sizes and labels
    def __len__(self) -> int:
        return len(self.classes) * self.num_per_class

    @property
    def labels(self) -> np.ndarray:
        """``(N,)`` int64 class index of each sample."""
        return np.repeat(np.arange(len(self.classes)), self.num_per_class)

    @property
    def class_to_id(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.classes)}

    def text_pool(self, action: str) -> tuple[str, ...]:
        """Classes a sample of ``action`` may mention: seen ones only for a seen class."""
        if self.split is None:
            return self.classes
        if action in self.split.seen:
            return tuple(c for c in self.classes if c in self.split.seen)
        return self.classes

    def __getitem__(self, i: int) -> SyntheticSample:
        if not -len(self) <= i < len(self):
            raise IndexError(f"sample {i} out of range for {len(self)} samples")
        i %= len(self)
        if self._samples[i] is None:
            c, k = divmod(i, self.num_per_class)
            name = self.classes[c]
            self._samples[i] = generate_sample(name, k, self.seed, self.config, self.text_pool(name),
                                               index=i, label_id=c)
        return self._samples[i]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    # views
    def sequences(self, topology: str | Topology = "ntu25",
                  indices: Iterable[int] | None = None) -> list[SkeletonSequence]:
        """Samples (all, or ``indices``) as sequences of one topology."""
        topology = self._topology_objects.get(topology, topology) if isinstance(topology, str) else topology
        idx = range(len(self)) if indices is None else indices
        return [self[i].sequence(topology) for i in idx]

    def all_topologies(self, i: int, topologies: Sequence[str | Topology] = ALL_TOPOLOGIES) -> dict[str, SkeletonSequence]:
        """Sample ``i`` in every format: one motion program, different skeletons."""
        return {get_topology(t).name: self[i].sequence(t) for t in topologies}

    def indices_of(self, classes: Iterable[str]) -> list[int]:
        want = {self.class_to_id[c] for c in classes if c in self.class_to_id}
        return [i for i in range(len(self)) if i // self.num_per_class in want]

    def seen_indices(self) -> list[int]:
        if self.split is None:
            raise ValueError("this set has no split")
        return self.indices_of(self.split.seen)

    def unseen_indices(self) -> list[int]:
        if self.split is None:
            raise ValueError("this set has no split")
        return self.indices_of(self.split.unseen)

    # persistence
    def save(self, directory: str | os.PathLike) -> Path:
        """Write an npz per sample and ``index.json`` into ``directory``, atomically."""
        directory = Path(directory)
        entries = []
        with atomic_directory(directory) as tmp:
            (tmp / "samples").mkdir()
            for i in range(len(self)):
                s = self[i]
                arrays = {"present": s.present}
                for t in self.topologies:
                    seq = s.sequence(self._topology_objects[t])
                    arrays[f"{t}__joints"] = seq.joints
                    if seq.orientations is not None:
                        arrays[f"{t}__orientations"] = seq.orientations
                name = f"samples/{i:06d}.npz"
                with open(tmp / name, "wb") as fh:
                    np.savez_compressed(fh, **arrays)
                entries.append({"file": name, "label": s.label, "label_id": s.label_id, "k": s.k,
                                "captions": s.captions, "rationale": s.rationale,
                                "qa": [q.to_dict() for q in s.qa], "program": s.program.to_dict(),
                                "view": s.view.to_dict(), "noise_std": s.noise_std,
                                "noise_entropy": s.noise_entropy,
                                "shapes": [{"height": b.height, "offsets": b.offsets.tolist()} for b in s.shapes]})
            index = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "seed": self.seed,
                     "num_per_class": self.num_per_class, "classes": list(self.classes),
                     "split": None if self.split is None else asdict(self.split),
                     "topologies": list(self.topologies),
                     "topology_specs": {n: t.to_dict() for n, t in self._topology_objects.items()},
                     "config": self.config.to_dict(), "samples": entries}
            (tmp / "index.json").write_text(json.dumps(index))
        return directory

    @classmethod
    def load(cls, directory: str | os.PathLike) -> "SyntheticMotionSet":
        """Read a set written by :meth:`save` (topologies it did not store are regenerated)."""
        directory = Path(directory)
        path = directory / "index.json"
        try:
            index = json.loads(path.read_text())
        except OSError as exc:
            raise SkeletonFormatError(path, f"cannot read the synthetic set index ({exc.strerror})") from None
        except json.JSONDecodeError as exc:
            raise SkeletonFormatError(path, f"not valid JSON: {exc}") from None
        if index.get("format") != FORMAT_NAME or index.get("version") != FORMAT_VERSION:
            raise SkeletonFormatError(path, f"expected format '{FORMAT_NAME}' version {FORMAT_VERSION}, got "
                                            f"{index.get('format')!r} version {index.get('version')!r}")
        split = index["split"]
        topologies = [BUILTIN_TOPOLOGIES.get(n) or Topology.from_dict(index["topology_specs"][n], source=str(path))
                      for n in index["topologies"]]
        ds = cls(num_per_class=index["num_per_class"], seed=index["seed"], topologies=topologies,
                 classes=index["classes"], config=SynthConfig.from_dict(index["config"]),
                 split=None if split is None else ClassSplit(split["name"], tuple(split["seen"]),
                                                             tuple(split["unseen"])), eager=False)
        if len(index["samples"]) != len(ds):
            raise SkeletonFormatError(path, f"{len(index['samples'])} samples listed, expected {len(ds)}")
        for i, e in enumerate(index["samples"]):
            npz = directory / e["file"]
            try:
                with np.load(npz) as z:
                    arrays = {k: z[k] for k in z.files}
            except (OSError, ValueError) as exc:
                raise SkeletonFormatError(npz, f"cannot read sample arrays ({exc})") from None
            program = MotionProgram.from_dict(e["program"])
            shapes = [BodyShape(float(b["height"]), np.asarray(b["offsets"], dtype=np.float64)) for b in e["shapes"]]
            s = SyntheticSample(index=i, label=e["label"], label_id=int(e["label_id"]), k=int(e["k"]),
                                program=program, captions=list(e["captions"]), rationale=e["rationale"],
                                qa=[QAItem.from_dict(q) for q in e["qa"]], present=arrays["present"].astype(bool),
                                view=View2D(**e["view"]), noise_std=float(e["noise_std"]),
                                noise_entropy=int(e["noise_entropy"]), shapes=shapes)
            for t in ds.topologies:
                if f"{t}__joints" not in arrays:
                    raise SkeletonFormatError(npz, f"no '{t}__joints' array (index.json lists topology '{t}')")
                orient = arrays.get(f"{t}__orientations")
                s._sequences[t] = SkeletonSequence(
                    joints=arrays[f"{t}__joints"], present=s.present, topology=ds._topology_objects[t],
                    orientations=orient, fps=program.fps, label=s.label, label_id=s.label_id,
                    metadata={"source": str(npz), "captions": list(s.captions), "sample_index": i,
                              "synthetic": True, "format": "synthetic"})
            ds._samples[i] = s
        return ds
