"""Training task datasets: contents, determinism, 1:1 balance, and zero-shot hygiene on every split."""
import numpy as np
import pytest

from skeletonllm.mllm import prompts as P
from skeletonllm.skeleton import SkeletonSequence, get_topology
from skeletonllm.skeleton.splits import class_names, get_split, list_splits
from skeletonllm.train.tasks import (ClassGuard, MixedTasks, TaskCollator, UnseenClassLeak, build_task,
                                     sample_id)

TOPO = get_topology("ntu25")
ALL_SPLITS = list_splits(include_extra=True)
TASKS = ("mqa", "disc", "cr_distill", "caption", "qa")


def _seq(rng, label, i, frames=3, **meta):
    return SkeletonSequence(rng.normal(size=(frames, 1, 25, 3)).astype(np.float32), np.ones((frames, 1), bool), TOPO,
                            label=label, metadata={"source": f"/x/clip{i:03d}.skeleton", **meta})


def _random_world(rng, names, n=48):
    """Clips with labels drawn from all classes, and side data (neighbours, rationales,
    captions, QA) that freely mention any class, unseen ones included."""
    def words(k):
        return " ".join(rng.choice(names, size=k))
    seqs = []
    for i in range(n):
        label = str(rng.choice(names))
        qa = [{"question": f"Is it {words(1)}?", "options": [label, str(rng.choice(names))], "answer": label},
              {"question": "What happens?", "answer": f"the person does {words(1)}"}]
        seqs.append(_seq(rng, label, i, captions=[f"someone does {words(1)}", "a person moves"], qa=qa))
    neighbors = {c: [str(x) for x in rng.choice([o for o in names if o != c], size=5, replace=False)] for c in names}
    rationales = {}
    for s in seqs:
        if rng.random() < 0.8:
            body = f"1. The arms move like {words(1)}.\n2. Then the legs." if rng.random() < 0.5 else "1. Arms rise."
            rationales[sample_id(s)] = {"id": sample_id(s), "rationale": f"{body}\nLabel: {s.label}"}
    return seqs, neighbors, rationales


def _items(seqs, guard, neighbors, rationales, epochs=2):
    for name in TASKS:
        task = build_task(name, seqs, guard, neighbors=neighbors, rationales=rationales, seed=3)
        for epoch in range(epochs):
            task.set_epoch(epoch)
            for i in range(len(task)):
                yield name, task[i]


@pytest.mark.parametrize("split_name", ALL_SPLITS)
def test_unseen_classes_never_written_on_any_split(split_name):
    """Property over every split, with random clips of all classes: (a) with the classes
    renamed to unique sentinels, no unseen sentinel occurs anywhere in any prompt or
    target; (b) with the real names, no unseen name occurs beyond the fixed template words."""
    split = get_split(split_name)
    names = list(class_names(split.dataset))
    rng = np.random.default_rng(abs(hash(split_name)) % 2**32)

    # (a) sentinels: exact substring check, immune to names that contain one another.
    sentinel = {n: f"qz{i:03d}zq" for i, n in enumerate(names)}
    seen_s = [sentinel[n] for n in split.seen_names]
    unseen_s = [sentinel[n] for n in split.unseen_names]
    seqs, neighbors, rationales = _random_world(rng, list(sentinel.values()))
    guard = ClassGuard(seen_s, unseen_s)
    counts = dict.fromkeys(TASKS, 0)
    for task, item in _items(seqs, guard, neighbors, rationales):
        counts[task] += 1
        text = item.prompt + "\n" + item.target
        assert not [u for u in unseen_s if u in text], (task, text)
        if task == "mqa":
            assert sorted(s for s in seen_s if s in item.prompt) == sorted(seen_s)  # all seen are candidates
    assert all(counts[t] > 0 for t in TASKS), counts  # every task really produced items

    # (b) real names.
    seqs, neighbors, rationales = _random_world(rng, names)
    guard = ClassGuard(split.seen_names, split.unseen_names)
    template = set(guard.leaks(P.mqa_prompt(["x"]) + P.disc_prompt("x") + P.student_prompt() + P.caption_prompt()
                               + P.qa_prompt("q", ["a"]) + P.qa_prompt("q")))
    for task, item in _items(seqs, guard, neighbors, rationales, epochs=1):
        assert set(guard.leaks(item.prompt)) <= template, (task, item.prompt)
        assert not guard.leaks(item.target), (task, item.target)


def test_guard_raises_where_prompts_are_built():
    split = get_split("ntu60_55_5")
    guard = ClassGuard(split.seen_names, split.unseen_names)
    with pytest.raises(UnseenClassLeak, match="unseen"):
        guard.label("reading")
    with pytest.raises(UnseenClassLeak, match="not a seen class"):
        guard.label("flying")
    with pytest.raises(UnseenClassLeak):
        guard.text("he is reading a book")
    # "throw" is unseen in ntu120_60_60 but is part of the seen "throw up cap/hat": not a leak.
    s120 = get_split("ntu120_60_60")
    g120 = ClassGuard(s120.seen_names, s120.unseen_names)
    assert "throw" in s120.unseen_names and g120.leaks("they throw up cap/hat") == []
    assert g120.leaks("they throw a ball") == ["throw"]
    # A candidate list corrupted after construction is caught when the prompt is written.
    rng = np.random.default_rng(0)
    task = build_task("mqa", [_seq(rng, "drink water", 0)], guard)
    task.candidates.append("reading")
    with pytest.raises(UnseenClassLeak):
        task[0]


def test_mqa_disc_and_distill_contents():
    rng = np.random.default_rng(1)
    seen, unseen = ["clap", "wave", "kick", "sit down"], ["jump"]
    guard = ClassGuard(seen, unseen)
    seqs = [_seq(rng, lab, i, frames=30) for i, lab in enumerate(["clap", "wave", "jump", "kick", "Sit Down", None])]
    mqa = build_task("mqa", seqs, guard, seed=5, num_frames=12)
    assert len(mqa) == 4 and mqa.stats.skipped == {"unseen_class": 1, "no_label": 1}
    it = mqa[3]
    assert it.target == "Label: sit down" and it.sequence.num_frames == 12
    # Candidates: exactly the seen classes, order varies per item and per epoch, reproducibly.
    lists = []
    for epoch in range(3):
        mqa.set_epoch(epoch)
        lists.append(tuple(l[2:] for l in mqa[0].prompt.splitlines() if l.startswith("- ")))
    assert all(sorted(l) == sorted(seen) for l in lists) and len(set(lists)) > 1
    mqa.set_epoch(0)
    assert tuple(l[2:] for l in mqa[0].prompt.splitlines() if l.startswith("- ")) == lists[0]
    assert np.array_equal(mqa[0].sequence.joints, mqa[0].sequence.joints)

    disc = build_task("disc", seqs, guard, neighbors={"clap": ["jump", "wave"], "wave": ["jump"]}, seed=5)
    targets = [disc[i].target for i in range(len(disc))]
    assert targets.count("YES") == targets.count("NO") == 4  # 1:1
    for i in range(len(disc)):
        label, positive = disc._entries[i][1]
        asked = disc[i].prompt.split("action '")[1].split("'?")[0]
        if positive:
            assert asked == label
        elif label == "clap":
            assert asked == "wave"  # its only seen neighbour ("jump" is unseen)
        else:
            assert asked != label and asked in seen
    assert disc.stats.skipped["random_negative"] == 3  # wave (only unseen neighbours), kick, sit down

    rats = {"clip000": {"rationale": "Hands meet.\nLabel: clap"},
            "clip001": {"rationale": "Like a jump.\nLabel: wave"},  # mentions an unseen class
            "clip003": {"rationale": "Leg swings.\nLabel: wave"}}   # wrong label line
    cr = build_task("cr_distill", seqs, guard, rationales=rats)
    assert len(cr) == 1 and cr[0].target.endswith("Label: clap") and cr[0].prompt == P.student_prompt()
    assert cr.stats.skipped == {"unseen_class": 1, "no_label": 1, "mentions_unseen": 1, "label_mismatch": 1,
                                "no_rationale": 1}

    batch, prompts, targets = TaskCollator(num_frames=12)([mqa[0], mqa[1]])
    assert batch.joints.shape == (2, 12, 1, 25, 3) and targets == ["Label: clap", "Label: wave"]
    mixed = MixedTasks([mqa, disc])
    assert len(mixed) == 12 and mixed[4].target in ("YES", "NO")


def test_mixed_tasks_draw_a_share_of_a_task_anew_each_epoch():
    rng = np.random.default_rng(5)
    seqs = [_seq(rng, ["clap", "wave"][i % 2], i, captions=[f"caption {i}"]) for i in range(40)]
    guard = ClassGuard(["clap", "wave"], [])
    mqa, cap = build_task("mqa", seqs, guard), build_task("caption", seqs, guard)
    mixed = MixedTasks([mqa, cap], {"caption": 0.25}, seed=1)
    assert len(mixed) == 40 + 10

    def drawn(epoch):
        mixed.set_epoch(epoch)
        items = [mixed[i] for i in range(len(mixed))]
        assert [it.target for it in items[:40]] == [mqa[i].target for i in range(40)]     # every MQA item
        return [it.target for it in items[40:]]

    first, second = drawn(0), drawn(1)
    assert len(set(first)) == 10 and set(first) <= {f"caption {i}" for i in range(40)}
    assert set(first) != set(second)                       # a new draw per epoch ...
    assert drawn(0) == first                               # ... fixed by seed and epoch
    assert len(MixedTasks([mqa, cap], {"caption": 0.001})) == 41          # never below one item
    assert len(MixedTasks([mqa, cap])) == 80


def test_caption_and_qa_tasks():
    rng = np.random.default_rng(2)
    seqs = [_seq(rng, None, 0, captions=["a man kicks high", "someone kicks"]),
            _seq(rng, None, 1, qa=[{"question": "Which hand?", "options": ["left", "right"], "answer": "left"},
                                   {"question": "Why?", "answer": "to reach"}]),
            _seq(rng, None, 2)]
    cap = build_task("caption", seqs, None)
    assert len(cap) == 1 and cap[0].prompt == P.caption_prompt() and cap[0].target in seqs[0].metadata["captions"]
    qa = build_task("qa", seqs, None)
    assert len(qa) == 2 and qa[0].target == "Label: left" and "- right" in qa[0].prompt and qa[1].target == "to reach"
    bad = [_seq(rng, None, 3, qa=[{"question": "Q", "options": ["a"], "answer": "b"}])]
    with pytest.raises(ValueError, match="not one of its options"):
        build_task("qa", bad, None)
    with pytest.raises(ValueError, match="needs a class split"):
        build_task("mqa", seqs, None)


def test_tiny_cpu_config_data_feeds_every_stage():
    """The shipped tiny config's procedural data: seen clips only, hard negatives, a rationale
    for every clip, and captions and QA for the extra tasks."""
    from skeletonllm.train.config import load_config
    from skeletonllm.train.stages import CURRICULUM, JOINT
    from skeletonllm.train.trainer import build_stage_data, load_training_data

    cfg = load_config("tiny_cpu", {"data.synth.num_per_class": 1})
    training = load_training_data(cfg.data, cfg.run.seed)
    assert len(training.sequences) == len(training.seen) == 24 and len(training.unseen) == 6
    assert {s.label for s in training.sequences} == set(training.seen)
    for stage in (*CURRICULUM, JOINT):
        dataset, stats = build_stage_data(stage, training, cfg.data, cfg.run.seed)
        for task, st in stats.items():
            assert st["items"] == (48 if task == "disc" else 24) and st["skipped"] == {}, (stage.name, st)
        item = dataset[0]
        assert item.sequence.num_frames == cfg.data.num_frames
    guard = training.guard()
    for name in ("caption", "qa"):
        task = build_task(name, training.sequences, guard)
        assert len(task) >= 24 and not guard.leaks(task[0].target)


def test_dataset_and_files_sources_read_real_samples():
    """data.dataset (the indexed folder, protocol train part, seen classes) and data.files."""
    from pathlib import Path

    from skeletonllm.train.config import DataSection
    from skeletonllm.train.trainer import load_training_data

    data_dir = Path(__file__).parent / "data"
    t = load_training_data(DataSection(dataset="pku_mmd", root=str(data_dir / "pku_mmd"), split="pku_46_5"))
    assert len(t.seen) == 46 and "pat on back of other person" in t.unseen
    assert len(t.sequences) == 6 and all(s.label in t.seen for s in t.sequences)
    f = load_training_data(DataSection(files=[str(data_dir / "ntu_skeleton" / "*.skeleton")], max_bodies=1))
    assert [s.label for s in f.sequences] == ["drink water", "handshaking"] and f.seen == ["drink water", "handshaking"]
    assert max(s.num_bodies for s in f.sequences) == 1
    with pytest.raises(FileNotFoundError, match="nothing matches"):
        load_training_data(DataSection(files=[str(data_dir / "nope" / "*.skeleton")]))
