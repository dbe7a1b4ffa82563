"""Step 1: knowledge files written through the teacher client (against the loopback fake server),
cached, resumed and re-asked; the demo world's shipped knowledge; validation errors."""
import json
import os
import subprocess
import sys

import pytest
import torch

from fake_openai_server import FakeOpenAI
from skeletonllm.errors import ConfigError
from skeletonllm.skeleton.splits import class_names
from skeletonllm.sugar.knowledge import (PARTS, IncompleteKnowledgeError, answers_path, generate_knowledge,
                                         load_knowledge, parse_motion_answer, parse_visual_answer)
from skeletonllm.train.teacher import TeacherClient, TeacherError


@pytest.fixture
def server():
    srv = FakeOpenAI().start()
    yield srv
    srv.stop()


def client(server, **kw):
    return TeacherClient(server.base_url, "fake-teacher", api_key="sk-test", timeout=5, backoff=0.0, seed=0,
                         sleep=lambda s: None, **kw)


@pytest.mark.parametrize("dataset", ["ntu60", "ntu120", "pku_mmd"])
def test_knowledge_files_for_the_paper_datasets(server, tmp_path, dataset):
    names = list(class_names(dataset))
    out = tmp_path / f"{dataset}.json"
    with client(server) as c:
        knowledge, stats = generate_knowledge(c, names, out, num_visual=2)
    assert stats.asked == 2 * len(names) and stats.cached == 0 and stats.unusable == 0
    back = load_knowledge(out)
    assert list(back.classes) == names
    entry = back.get(names[0])
    assert set(entry.motion) == set(PARTS) and len(entry.visual) == 2
    assert entry.summary == f"A person performs {names[0]}."
    data = json.loads(out.read_text())
    assert data["format"] == "skeletonllm-sugar-knowledge" and data["version"] == 1 and data["source"]["teacher"] == "fake-teacher"
    assert sorted(server.asked_actions()) == sorted(names * 2)
    # Every answer is in the fsynced cache: a second run asks nothing.
    before = len(server.requests)
    with client(server) as c:
        again, stats = generate_knowledge(c, names, out, num_visual=2)
    assert len(server.requests) == before and stats.cached == 2 * len(names)
    assert again.to_dict()["classes"] == back.to_dict()["classes"]


def test_an_interrupted_run_resumes_without_asking_twice(server, tmp_path):
    names = list(class_names("ntu60"))[:6]
    out = tmp_path / "k.json"
    server.script = ["ok"] * 5 + ["401"]           # the 6th request fails for good
    with client(server) as c, pytest.raises(TeacherError):
        generate_knowledge(c, names, out)
    assert not out.exists()
    cached = [json.loads(l)["id"] for l in answers_path(out).read_text().splitlines()]
    assert len(cached) == 5
    server.requests.clear()
    with client(server) as c:
        knowledge, stats = generate_knowledge(c, names, out)
    assert stats.cached == 5 and stats.asked == 12 - 5 == len(server.requests)
    assert list(knowledge.classes) == names


def test_unusable_answers_are_kept_and_asked_again(server, tmp_path):
    names = ["drink water", "throw"]
    out = tmp_path / "k.json"
    server.script = ["prose", "prose"]              # the first question is answered in prose twice
    with client(server) as c:
        knowledge, stats = generate_knowledge(c, names, out, attempts=3)
    assert stats.unusable == 2 and stats.asked == 6
    rejects = [json.loads(l) for l in answers_path(out).with_name(answers_path(out).stem + ".rejects.jsonl")
               .read_text().splitlines()]
    assert [r["attempt"] for r in rejects] == [1, 2] and "Sure!" in rejects[0]["answer"]
    # Out of attempts: the class is reported, the rest is cached, a rerun finishes it.
    out2 = tmp_path / "k2.json"
    server.script = ["prose"] * 2
    with client(server) as c, pytest.raises(IncompleteKnowledgeError, match="drink water"):
        generate_knowledge(c, names, out2, attempts=2)
    with client(server) as c:
        knowledge, stats = generate_knowledge(c, names, out2, attempts=2)
    assert stats.cached == 3 and stats.asked == 1 and "drink water" in knowledge


def test_a_vision_teacher_gets_a_contact_sheet(server, tmp_path):
    calls = []

    def frames(name):
        calls.append(name)
        return None if name == "throw" else torch.rand(4, 3, 16, 16)

    with client(server) as c:
        generate_knowledge(c, ["drink water", "throw"], tmp_path / "k.json", frames=frames)
    visual = [r for r in server.requests if "visual descriptions" in str(r["body"]["messages"][-1]["content"])]
    parts = [r["body"]["messages"][-1]["content"] for r in visual]
    assert isinstance(parts[0], list) and sum(p["type"] == "image_url" for p in parts[0]) == 1
    assert "attached image" in parts[0][0]["text"]
    assert isinstance(parts[1], str) and "attached image" not in parts[1]
    assert calls == ["drink water", "throw"]


def test_parsers_accept_json_in_chatter_and_reject_the_rest():
    motion = parse_motion_answer('ok:\n```json\n{"Summary": "s.", "head": "h.", "hand": "x.", "arms": "a.", '
                                 '"hips": "p.", "legs": "l.", "foot": "f."}\n```')
    assert motion == {"summary": "s.", "motion": {"head": "h.", "hands": "x.", "arms": "a.", "hips": "p.", "legs": "l.",
                                                  "feet": "f."}}
    assert parse_motion_answer('{"summary": "s.", "head": "h."}') is None
    assert parse_motion_answer("no json here") is None
    assert parse_visual_answer('["a", "b", "a", {"description": "c"}]', 5) == ["a", "b", "c"]
    assert parse_visual_answer('["a", "b", "c"]', 2) == ["a", "b"]
    assert parse_visual_answer("[]", 2) is None


def test_bad_knowledge_files_name_the_file_and_the_key(tmp_path):
    good = load_knowledge("synth").to_dict()
    bad = json.loads(json.dumps(good))
    del bad["classes"]["kick left leg"]["motion"]["hips"]
    path = tmp_path / "k.json"
    path.write_text(json.dumps(bad))
    with pytest.raises(ConfigError, match=r"k\.json.*kick left leg\.motion.*hips"):
        load_knowledge(path)
    bad = dict(good, version=7)
    path.write_text(json.dumps(bad))
    with pytest.raises(ConfigError, match="version"):
        load_knowledge(path)
    with pytest.raises(ConfigError, match="no knowledge for this class"):
        load_knowledge("synth").get("fly to the moon")


def test_the_shipped_demo_knowledge_is_what_its_generator_writes(tmp_path):
    from skeletonllm.demo.sugar_knowledge import SHIPPED, write_demo_knowledge
    from skeletonllm.synth import ACTION_CLASSES

    written = write_demo_knowledge(tmp_path / "k.json")
    assert written.read_text() == SHIPPED.read_text()
    knowledge = load_knowledge("synth")
    assert list(knowledge.classes) == list(ACTION_CLASSES)
    kick = knowledge.get("kick left leg")
    assert "left leg" in kick.motion["legs"] and "right leg" in kick.motion["hips"]
    # Every part sentence of a class is specific to it (no two classes share a motion description).
    assert len({tuple(k.motion_texts()) for k in knowledge.classes.values()}) == len(knowledge.classes)


def test_the_knowledge_command(server, tmp_path):
    classes = tmp_path / "classes.txt"
    classes.write_text("A001\tdrink water\nA002\teat meal/snack\n")
    out = tmp_path / "k.json"
    env = {**os.environ, "SKELETONLLM_TEACHER_API_KEY": "sk-test"}
    res = subprocess.run([sys.executable, "-m", "skeletonllm.cli", "sugar", "knowledge", "--classes", str(classes),
                          "--out", str(out), "--base-url", server.base_url, "--model", "fake-teacher", "--visual", "2"],
                         capture_output=True, text=True, timeout=120, env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "2 classes" in res.stdout and "4 questions" in res.stdout
    assert list(load_knowledge(out).classes) == ["drink water", "eat meal/snack"]
