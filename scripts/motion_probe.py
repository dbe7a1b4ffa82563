"""Whether a head start's language model compares frames: its answers to the motion questions.

    python scripts/demo_sweep.py --name m --seed 0 --validation --split-seed 1 --head-start /tmp/m-0-1 \\
        --set motion_questions=4
    python scripts/motion_probe.py --head-start /tmp/m-0-1 --seed 0 --split-seed 1

A head start trained with motion questions (``PretrainSettings.motion_questions``: where a limb's
hand or foot goes between two frames, read off the joints) is asked them again, with the frames
sampled as the demo evaluates (uniformly, no dropout of frames beyond the clip's own), for every
limb and five frame pairs, on three groups of a validation split's clips (eight seen classes held
out, as ``demo_sweep.py --validation``; no unseen class is drawn): training clips, held-out clips
of the training classes, and clips of the held-out classes. Beside its answers (ranked by
likelihood over the seven directions): the most frequent answer of the training clips, and a
linear probe (the demo's :class:`~skeletonllm.demo.probe.SpanLogistic`) on the two named frames'
visual tokens, their difference and the limb, fitted on the training clips' questions: what the
tokens the language model reads hold, read by a model that is told where to look.

Prints, per group, the accuracy over all questions and over those whose answer is not "still"
(the limb moved), and on the training clips which answer was given for which.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import torch

#: The frame pairs asked about (0-based; each question names them 1-based).
PAIRS = ((0, 7), (0, 3), (2, 5), (4, 7), (1, 6))


def asked(model, clips, num_frames: int, pairs=PAIRS, batch_size: int = 16):
    """``(truths, answers, features)`` of every motion question (each limb, each pair) on
    ``clips``: the directions read off the drawn joints, the model's ranked answers, and per
    question ``(2 * T * D + T * D + 4,)`` features (the two frames' ``T`` tokens, their
    difference, the limb one-hot), frames drawn as the demo evaluates."""
    from skeletonllm.demo.pretrain_frames import pose_targets
    from skeletonllm.demo.pretrain_targets import DIRECTIONS, LIMBS, MotionQuestion, limb_direction
    from skeletonllm.skeleton import collate_sequences

    truths, answers, features = [], [], []
    for lo in range(0, len(clips), batch_size):
        chunk = clips[lo:lo + batch_size]
        batch = collate_sequences([s.sequence("ntu25") for s in chunk], num_frames=num_frames, max_bodies=2)
        with torch.no_grad():
            frames = model.render(batch)
            tokens = model.encode_frames(frames).embeds.reshape(len(chunk), num_frames, -1).numpy()
        poses = pose_targets(batch).reshape(len(chunk), num_frames, -1, 3).numpy()
        for limb in LIMBS:
            for first, last in pairs:
                scores = model.score_candidates(None, MotionQuestion(limb).prompt(first, last), DIRECTIONS,
                                                frames=frames)
                answers += [DIRECTIONS[i] for i in scores.argmax(1).tolist()]
                truths += [limb_direction(pose, limb, first, last) for pose in poses]
                features += [question_features(t, first, last, LIMBS.index(limb)) for t in tokens]
    return np.array(truths), np.array(answers), np.array(features)


def question_features(tokens: np.ndarray, first: int, last: int, limb: int) -> np.ndarray:
    """``tokens`` ``(F, T * D)`` of one clip -> the probe's input for a question about frames
    ``first`` and ``last`` and limb ``limb`` (of four): both frames' tokens, the change, the limb."""
    return np.concatenate([tokens[first], tokens[last], tokens[last] - tokens[first], np.eye(4)[limb]])


def _accuracy(truths: np.ndarray, answers: np.ndarray) -> str:
    moved = truths != "still"
    return f"{100 * np.mean(truths == answers):5.1f} % (moved {100 * np.mean(truths[moved] == answers[moved]):5.1f} %)"


def main(argv=None) -> None:
    from skeletonllm.demo.pretrain import load_pretrained
    from skeletonllm.demo.pretrain_settings import PretrainSettings
    from skeletonllm.demo.pretrain_targets import DIRECTIONS
    from skeletonllm.demo.probe import SpanLogistic

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from demo_sweep import HEAD_START_STAMP, head_start_model, validation_arguments, validation_data

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--head-start", required=True, help="a head start trained by demo_sweep.py --validation "
                    "--head-start with motion questions, the same seed and split")
    ap.add_argument("--train-clips", type=int, default=120, help="training clips asked (a random subset)")
    validation_arguments(ap, "/tmp/skeletonllm-motion-probe")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    head = Path(a.head_start)
    stamp_path = head / HEAD_START_STAMP
    if not stamp_path.is_file():
        raise SystemExit(f"{head}: no {HEAD_START_STAMP} (not a head start of demo_sweep.py --validation)")
    stamp = json.loads(stamp_path.read_text())
    if (stamp["seed"], stamp["split_seed"]) != (a.seed, a.split_seed):
        raise SystemExit(f"{stamp_path}: seed {stamp['seed']}, split {stamp['split_seed']} there; "
                         f"--seed {a.seed} --split-seed {a.split_seed} here")
    p = PretrainSettings(**stamp["pretrain"])
    if p.motion_questions == 0:
        raise SystemExit(f"{head}: this head start was trained without motion questions")
    pre = load_pretrained(head)
    if pre is None:
        raise SystemExit(f"{head}: no finished head start there")
    st, split, train, held, val = validation_data(a.seed, a.split_seed, a.work)
    model = head_start_model(pre, p, "draction", st.seed)
    rng = np.random.default_rng(a.seed)
    train = [train[i] for i in rng.choice(len(train), size=min(a.train_clips, len(train)), replace=False)]
    groups = {"training clips": train, "held-out clips of training classes": held,
              f"held-out classes ({len(split.unseen)})": val}
    rows = {name: asked(model, clips, p.num_frames) for name, clips in groups.items()}
    truths, answers, features = rows["training clips"]
    probe = SpanLogistic().fit(features, truths)
    common = Counter(truths).most_common(1)[0][0]
    print(f"seed {a.seed}, validation split {a.split_seed}: {len(DIRECTIONS)} answers, "
          f"{len(PAIRS)} frame pairs x 4 limbs")
    for name, (t, ans, x) in rows.items():
        print(f"{name:38s} model {_accuracy(t, ans)} | '{common}' always {100 * np.mean(t == common):5.1f} % | "
              f"token probe {_accuracy(t, np.array(probe.predict(x)))}")
    print("training clips, answers given (rows: the truth):", " ".join(DIRECTIONS))
    for d in DIRECTIONS:
        print(f"  {d:8s}", " ".join(f"{int(np.sum((truths == d) & (answers == e))):5d}" for e in DIRECTIONS))


if __name__ == "__main__":
    main()
