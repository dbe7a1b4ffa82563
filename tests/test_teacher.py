"""Teacher side of the curriculum: HTTP client, hard-negative mining, CR-Distill rationales.

Everything runs against tests/fake_openai_server.py on 127.0.0.1; back-off sleeps are
recorded instead of slept.
"""
import base64
import io
import json

import numpy as np
import pytest
import torch
from PIL import Image

from fake_openai_server import FakeOpenAI
from skeletonllm.errors import ConfigError
from skeletonllm.train.negatives import (IncompleteMiningError, filter_seen, load_negatives, mine_negatives,
                                         parse_ranked_names, read_class_names)
from skeletonllm.train.rationales import RationaleCache, check_label_line, generate_rationales
from skeletonllm.train.teacher import TeacherClient, TeacherError, frames_to_data_urls

SPLITS = __import__("pathlib").Path(__file__).parent / "data" / "splits"
CLASSES = ["drink water", "eat meal/snack", "brushing teeth", "brushing hair", "drop", "pickup", "throw",
           "sitting down"]


@pytest.fixture
def server():
    srv = FakeOpenAI(retry_after=2.0, slow_seconds=1.0).start()
    yield srv
    srv.stop()


def make_client(server, sleeps=None, **kw):
    sleeps = [] if sleeps is None else sleeps
    opts = dict(timeout=0.4, max_retries=6, backoff=0.01, seed=0, sleep=sleeps.append)
    opts.update(kw)
    return TeacherClient(server.base_url, "fake-teacher", api_key="sk-test", **opts)


def prompt_fn(label):
    return f'These frames show a rendered skeleton.\nGround-truth action: "{label}"\nEnd with "Label: <action>".'


def prompt_label(request):
    from fake_openai_server import LABEL_RE, prompt_text
    return LABEL_RE.search(prompt_text(request["body"])).group(1)


def samples(labels, rendered=None):
    """(id, label, lazy frames) triples; ``rendered`` collects the ids whose frames were produced."""
    def frames_of(i):
        def render():
            if rendered is not None:
                rendered.append(f"s{i}")
            return torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(i))
        return render
    return [(f"s{i}", lab, frames_of(i)) for i, lab in enumerate(labels)]


# -- client --------------------------------------------------------------------------------

def test_every_answer_kept_through_failures(server, tmp_path):
    server.script = ["500", "429", "slow", "malformed", "no_choices", "ok", "500", "ok", "ok"]
    sleeps = []
    client = make_client(server, sleeps)
    cache = RationaleCache(tmp_path / "r.jsonl")
    stats = generate_rationales(client, samples(CLASSES[:3]), prompt_fn, cache, progress=False)
    assert (stats.generated, stats.rejected, stats.requests) == (3, 0, 9)
    assert client.stats.retries == 6
    assert 2.0 in sleeps  # Retry-After honoured (not the 10 ms back-off)
    assert len(sleeps) == 6 and all(s < 1.0 for s in sleeps if s != 2.0)
    assert set(client.stats.retry_reasons) >= {"HTTP 500", "HTTP 429", "malformed JSON in response",
                                               "response has no choices"}
    assert any(r.startswith("timeout") for r in client.stats.retry_reasons)
    # What is on disk is what a fresh reader sees: every answer, label line canonical, raw kept.
    lines = (tmp_path / "r.jsonl").read_text().splitlines()
    recs = [json.loads(x) for x in lines]
    assert [r["label"] for r in recs] == CLASSES[:3]
    for r in recs:
        assert r["rationale"].endswith(f"\nLabel: {r['label']}")
        assert r["raw"].rstrip().endswith(r["label"].upper())
        assert r["model"] == "fake-teacher"
    # Images travelled as PNG data URLs, after the text.
    content = server.requests[-1]["body"]["messages"][-1]["content"]
    assert content[0]["type"] == "text"
    assert [p["image_url"]["url"][:22] for p in content[1:]] == ["data:image/png;base64,"] * 2
    assert server.requests[-1]["headers"]["Authorization"] == "Bearer sk-test"


def test_unauthorised_fails_fast_with_clear_message(server):
    server.script = ["401"]
    sleeps = []
    client = make_client(server, sleeps)
    with pytest.raises(TeacherError) as err:
        client.ask("hello")
    assert err.value.status == 401 and not err.value.retryable
    assert "HTTP 401" in str(err.value) and "API key" in str(err.value) and "Incorrect API key" in str(err.value)
    assert len(server.requests) == 1 and sleeps == []


def test_retries_run_out_with_retryable_error(server):
    server.script = ["500"] * 3
    client = make_client(server, max_retries=2)
    with pytest.raises(TeacherError, match="no usable answer after 3 attempts.*HTTP 500") as err:
        client.ask("hello")
    assert err.value.retryable and len(server.requests) == 3


def test_connection_refused_is_retried_then_reported(server):
    url = server.base_url
    server.stop()
    sleeps = []
    client = TeacherClient(url, "m", timeout=0.5, max_retries=2, backoff=1.0, jitter=0.5, seed=1,
                           sleep=sleeps.append)
    with pytest.raises(TeacherError, match="connection error"):
        client.ask("hello")
    assert len(sleeps) == 2 and 0.5 <= sleeps[0] <= 1.5 and 1.0 <= sleeps[1] <= 3.0  # exponential, jittered


def test_from_env_precedence():
    env = {"SKELETONLLM_TEACHER_BASE_URL": "http://a/v1", "OPENAI_BASE_URL": "http://b/v1",
           "SKELETONLLM_TEACHER_MODEL": "qwen", "OPENAI_API_KEY": "k2"}
    c = TeacherClient.from_env(env=env)
    assert (c.url, c.model) == ("http://a/v1/chat/completions", "qwen")
    assert c._http.headers["Authorization"] == "Bearer k2"
    c = TeacherClient.from_env(base_url="http://c/v1/", model="m", api_key="k", env=env)
    assert (c.url, c.model, c._http.headers["Authorization"]) == ("http://c/v1/chat/completions", "m", "Bearer k")
    with pytest.raises(ConfigError, match="SKELETONLLM_TEACHER_MODEL"):
        TeacherClient.from_env(env={"OPENAI_BASE_URL": "http://b/v1"})
    with pytest.raises(ConfigError, match="API key"):
        TeacherClient.from_env(env={})
    assert TeacherClient.from_env(env={"OPENAI_API_KEY": "x"}).model == "gpt-4o"


def test_frames_to_data_urls_round_trip():
    frames = torch.rand(5, 3, 6, 4)
    frames[0, :, 0, 0] = torch.tensor([1.5, -0.2, 0.5])  # out of range values are clipped
    urls = frames_to_data_urls(frames)
    assert len(urls) == 5
    img = np.asarray(Image.open(io.BytesIO(base64.b64decode(urls[1].split(",", 1)[1]))))
    assert img.shape == (6, 4, 3)
    np.testing.assert_array_equal(img, np.round(frames[1].permute(1, 2, 0).numpy() * 255))
    first = np.asarray(Image.open(io.BytesIO(base64.b64decode(urls[0].split(",", 1)[1]))))
    assert tuple(first[0, 0]) == (255, 0, 128)
    (sheet_url,) = frames_to_data_urls(frames, contact_sheet=True, columns=3, gap=2)
    sheet = np.asarray(Image.open(io.BytesIO(base64.b64decode(sheet_url.split(",", 1)[1]))))
    assert sheet.shape == (2 * 6 + 2, 3 * 4 + 2 * 2, 3)
    fifth = np.asarray(Image.open(io.BytesIO(base64.b64decode(urls[4].split(",", 1)[1]))))
    np.testing.assert_array_equal(sheet[8:14, 6:10], fifth)  # frame 4 sits in row 1, column 1
    assert (sheet[6:8] == 128).all() and (sheet[8:, 12:] == 128).all()  # grey gaps and empty slot
    with pytest.raises(ValueError, match=r"\(F, 3, H, W\)"):
        frames_to_data_urls(torch.rand(3, 6, 4))


# -- rationales ----------------------------------------------------------------------------

def test_resume_after_interruption_asks_nothing_twice(server, tmp_path):
    client = make_client(server)
    path = tmp_path / "r.jsonl"
    rendered = []

    def interrupted():
        for i, s in enumerate(samples(CLASSES, rendered)):
            if i == 3:
                raise KeyboardInterrupt  # Ctrl-C while the 4th clip is being read
            yield s

    with pytest.raises(KeyboardInterrupt):
        generate_rationales(client, interrupted(), prompt_fn, RationaleCache(path), progress=False)
    assert len(RationaleCache(path)) == 3
    # A second run over everything: only the 5 missing clips are rendered and asked.
    rendered.clear()
    stats = generate_rationales(client, samples(CLASSES, rendered), prompt_fn, path, progress=False)
    assert (stats.cached, stats.generated, stats.requests) == (3, 5, 5)
    assert rendered == [f"s{i}" for i in range(3, 8)]
    assert sorted(server.asked_labels()) == sorted(CLASSES)  # each label asked exactly once
    # And a third run asks nothing at all.
    stats = generate_rationales(client, samples(CLASSES), prompt_fn, path, progress=False)
    assert (stats.cached, stats.requests) == (8, 0) and len(server.requests) == 8


def test_endpoint_failure_mid_run_keeps_answers_and_resumes(server, tmp_path):
    path = tmp_path / "r.jsonl"
    server.script = ["ok", "ok"] + ["500"] * 3
    with pytest.raises(TeacherError, match="HTTP 500"):
        generate_rationales(make_client(server, max_retries=2), samples(CLASSES[:4]), prompt_fn, path,
                            progress=False)
    assert [r["id"] for r in RationaleCache(path).records()] == ["s0", "s1"]
    stats = generate_rationales(make_client(server), samples(CLASSES[:4]), prompt_fn, path, progress=False)
    assert (stats.cached, stats.generated) == (2, 2)
    assert server.asked_labels().count(CLASSES[0]) == 1 and server.asked_labels().count(CLASSES[2]) == 4


def test_truncated_jsonl_is_repaired(server, tmp_path):
    path = tmp_path / "r.jsonl"
    good = [{"id": "s0", "label": CLASSES[0], "rationale": f"x\nLabel: {CLASSES[0]}"},
            {"id": "s1", "label": CLASSES[1], "rationale": f"y\nLabel: {CLASSES[1]}"}]
    text = "".join(json.dumps(r) + "\n" for r in good)
    path.write_text(text + '{"id": "s2", "label": "brushing teeth", "ratio')  # crash mid-write
    cache = RationaleCache(path)
    assert [r["id"] for r in cache.records()] == ["s0", "s1"] and "s2" not in cache
    assert path.read_text() == text
    stats = generate_rationales(make_client(server), samples(CLASSES[:3]), prompt_fn, cache, progress=False)
    assert (stats.cached, stats.generated) == (2, 1) and server.asked_labels() == [CLASSES[2]]
    assert [json.loads(x)["id"] for x in path.read_text().splitlines()] == ["s0", "s1", "s2"]

    # A complete last record that lost only its newline is kept, and the newline restored.
    path.write_text(text.rstrip("\n"))
    assert len(RationaleCache(path)) == 2 and path.read_text() == text
    # Garbage in the middle is not a crash artefact: a clear error naming the line.
    path.write_text(json.dumps(good[0]) + "\nnot json\n" + json.dumps(good[1]) + "\n")
    with pytest.raises(ConfigError, match=r"r\.jsonl: key 'line 2'"):
        RationaleCache(path)


def test_default_prompt_is_the_projects_teacher_prompt(server, tmp_path):
    from skeletonllm.mllm.prompts import teacher_prompt
    label = "touch other person's pocket"
    stats = generate_rationales(make_client(server), samples([label]), None, tmp_path / "r.jsonl", progress=False,
                                contact_sheet=True, detail="low", meta={"checkpoint": "ckpt/stage2"})
    assert stats.generated == 1
    content = server.requests[0]["body"]["messages"][-1]["content"]
    assert content[0]["text"] == teacher_prompt(label)
    assert len(content) == 2 and content[1]["image_url"]["detail"] == "low"  # one contact sheet
    rec = RationaleCache(tmp_path / "r.jsonl").get("s0")
    assert rec["rationale"].endswith("Label: " + label) and rec["checkpoint"] == "ckpt/stage2"


def test_wrong_label_retried_then_rejected_and_recorded(server, tmp_path):
    path = tmp_path / "r.jsonl"
    server.script = ["wrong_label", "ok",                       # s0: second answer accepted
                     "no_label", "wrong_label", "wrong_label"]  # s1: rejected after 3 answers
    stats = generate_rationales(make_client(server), samples(CLASSES[:3]), prompt_fn, path, progress=False)
    assert (stats.generated, stats.rejected, stats.wrong_answers, stats.requests) == (2, 1, 4, 6)
    cache = RationaleCache(path)
    assert sorted(r["id"] for r in cache.records()) == ["s0", "s2"] and cache.get("s0")["attempts"] == 2
    rejects = [json.loads(x) for x in cache.rejects_path.read_text().splitlines()]
    assert [(r["id"], r["attempt"], r["final"]) for r in rejects] == [
        ("s0", 1, False), ("s1", 1, False), ("s1", 2, False), ("s1", 3, True)]
    assert "does not end with a 'Label:' line" in rejects[1]["reason"]
    assert "'something else entirely' does not match 'eat meal/snack'" in rejects[2]["reason"]
    assert all(r["answer"].startswith("Summary:") for r in rejects)  # paid answers kept
    assert cache.is_rejected("s1") and not cache.is_rejected("s0")

    # A rerun does not pay for s1 again ...
    n = len(server.requests)
    stats = generate_rationales(make_client(server), samples(CLASSES[:3]), prompt_fn, path, progress=False)
    assert (stats.cached, stats.skipped_rejected, len(server.requests)) == (2, 1, n)
    # ... unless asked to.
    stats = generate_rationales(make_client(server), samples(CLASSES[:3]), prompt_fn, path, progress=False,
                                retry_rejected=True)
    assert stats.generated == 1 and "s1" in RationaleCache(path)


def test_attempts_spent_before_a_crash_count(server, tmp_path):
    path = tmp_path / "r.jsonl"
    cache = RationaleCache(path)
    for a in (1, 2):  # two wrong answers were recorded, then the process died
        cache.add_reject({"id": "s0", "label": CLASSES[0], "kind": "wrong_label", "reason": "x",
                          "answer": "y", "attempt": a, "final": False})
    server.script = ["wrong_label"]
    stats = generate_rationales(make_client(server), samples(CLASSES[:1]), prompt_fn, path, progress=False)
    assert (stats.rejected, len(server.requests)) == (1, 1)
    assert RationaleCache(path).rejects("s0")[-1]["final"] is True


def test_refused_requests_are_recorded_and_a_refusal_streak_stops(server, tmp_path):
    path = tmp_path / "r.jsonl"
    server.script = ["400", "ok", "400", "400", "400"]
    with pytest.raises(TeacherError, match="refused 3 samples in a row"):
        generate_rationales(make_client(server), samples(CLASSES[:6]), prompt_fn, path, progress=False)
    cache = RationaleCache(path)
    assert [r["id"] for r in cache.records()] == ["s1"]
    assert [r["id"] for r in cache.rejects()] == ["s0", "s2", "s3", "s4"]
    assert all(r["kind"] == "refused" and "image too large" in r["reason"] for r in cache.rejects())
    # Refused samples are asked again next time (a refusal is not an answer).
    stats = generate_rationales(make_client(server), samples(CLASSES[:6]), prompt_fn, path, progress=False)
    assert (stats.cached, stats.generated) == (1, 5)


def test_concurrent_requests_keep_every_answer_once(server, tmp_path):
    path = tmp_path / "r.jsonl"
    server.script = ["500", "ok", "429", "ok"]
    stats = generate_rationales(make_client(server), samples(CLASSES), prompt_fn, path, progress=False,
                                concurrency=3)
    assert stats.generated == 8
    assert sorted(r["label"] for r in RationaleCache(path).records()) == sorted(CLASSES)
    assert len(server.requests) == 10  # 8 answers + 2 retried failures
    answered = [r for r in server.requests if r["action"] == "ok"]
    assert sorted(prompt_label(r) for r in answered) == sorted(CLASSES)  # no clip answered twice


@pytest.mark.parametrize("answer,ok", [
    ("a\nb\nLabel: Drink  Water", True), ("a\n**Label:** drink water.\n\n", True), ("label:drink water", True),
    ("a\nLabel: drink water\nThanks!", False), ("a\nLabel: eat meal", False), ("", False)])
def test_label_line_check(answer, ok):
    good, reason, rationale = check_label_line(answer, "drink water")
    assert good is ok and (reason == "") is ok
    if ok:
        assert rationale.endswith("Label: drink water") and rationale.count("Label") == 1


# -- hard negatives ------------------------------------------------------------------------

def test_mining_resumes_and_never_invents(server, tmp_path):
    out = tmp_path / "neg.json"
    server.script = ["numbered", "partial", "ok", "ok", "401"]
    with pytest.raises(TeacherError, match="HTTP 401"):
        mine_negatives(make_client(server), CLASSES, out)
    data = json.loads(out.read_text())
    assert list(data["neighbors"]) == CLASSES[:3] and data["model"] == "fake-teacher"
    # The numbered answer: unknown name and self dropped, case normalised, order kept.
    assert data["neighbors"][CLASSES[0]] == CLASSES[1:6]
    assert server.asked_targets() == [CLASSES[0], CLASSES[1], CLASSES[1], CLASSES[2], CLASSES[3]]

    server.script = ["partial"] * 3  # class 4 keeps answering with 2 names
    with pytest.raises(IncompleteMiningError) as err:
        mine_negatives(make_client(server), CLASSES, out)
    assert list(err.value.incomplete) == [CLASSES[3]] and "'brushing hair' (2 valid)" in str(err.value)
    data = json.loads(out.read_text())
    assert CLASSES[3] not in data["neighbors"] and len(data["incomplete"][CLASSES[3]]["answers"]) == 3
    assert len(data["neighbors"]) == 7
    # Third run: only the incomplete class is asked again.
    n = len(server.requests)
    result = mine_negatives(make_client(server), CLASSES, out)
    assert server.asked_targets()[n:] == [CLASSES[3]]
    assert list(result) == CLASSES and json.loads(out.read_text())["incomplete"] == {}
    for anchor, nb in result.items():
        assert len(nb) == 5 and anchor not in nb and len(set(nb)) == 5 and set(nb) <= set(CLASSES)
    assert load_negatives(out, CLASSES) == result
    # Each class was asked to rank every other class.
    first = server.prompts()[0]
    assert all(f"- {c}" in first for c in CLASSES[1:]) and f"- {CLASSES[0]}\n" not in first
    # A cache for another class list or teacher is refused rather than mixed.
    with pytest.raises(ConfigError, match="different class list"):
        mine_negatives(make_client(server), CLASSES[:-1], out)
    with pytest.raises(ConfigError, match="teacher 'fake-teacher'"):
        mine_negatives(TeacherClient(server.base_url, "other"), CLASSES, out)


def test_parse_ranked_names_variants():
    names = ["clapping", "rubbing two hands", "hand waving", "touch head (headache)"]
    assert parse_ranked_names('Sure!\n```json\n["Rubbing two hands", "clapping", "nope"]\n```', names,
                              "clapping") == ["rubbing two hands"]
    assert parse_ranked_names('[{"name": "hand waving"}, {"action": "clapping"}]', names) == ["hand waving", "clapping"]
    assert parse_ranked_names("1) **touch head (headache)** - hands to head\n2. 'hand waving': arm\n- clapping",
                              names) == ["touch head (headache)", "hand waving", "clapping"]


def test_load_negatives_validation_errors(tmp_path):
    names = CLASSES[:7]
    good = {c: [n for n in names if n != c][:5] for c in names}

    def write(mapping, wrap=True):
        p = tmp_path / "user_neg.json"
        p.write_text(json.dumps({"neighbors": mapping} if wrap else mapping))
        return p

    upper = {c.upper(): [n.upper() for n in v] for c, v in good.items()}
    assert load_negatives(write(upper, wrap=False), names) == good  # bare mapping, any case
    cases = [
        ({**good, "drop": ["drink water", "pickup", "throw", "flying", "sitting down"]},
         "key 'drop': neighbour 'flying' is not a class"),
        ({**good, "drop": ["drop", "pickup", "throw", "drink water", "sitting down"]}, "key 'drop': lists itself"),
        ({**good, "drop": ["pickup", "throw", "drink water"]}, "key 'drop': has 3 neighbours, expected exactly 5"),
        ({**good, "drop": ["pickup", "pickup", "throw", "drink water", "sitting down"]}, "lists neighbour 'pickup' twice"),
        ({c: v for c, v in good.items() if c != "throw"}, "key 'throw': has no neighbours"),
        ({**good, "jump": good["drop"]}, "key 'jump': is not a class"),
    ]
    for mapping, message in cases:
        with pytest.raises(ConfigError, match="user_neg.json") as err:
            load_negatives(write(mapping), names)
        assert message in str(err.value)
    (tmp_path / "bad.json").write_text("{oops")
    with pytest.raises(ConfigError, match=r"bad\.json.*not valid JSON"):
        load_negatives(tmp_path / "bad.json", names)
    # Three classes cannot have 5 neighbours: all the others are expected instead.
    assert load_negatives(write({"a": ["b", "c"], "b": ["a", "c"], "c": ["b", "a"]}), ["a", "b", "c"])["c"] == ["b", "a"]


def test_filter_seen_never_returns_unseen_classes():
    names = read_class_names(SPLITS / "ntu60_class_names.txt")
    assert len(names) == 60 and names[0] == "drink water"
    splits = json.loads((SPLITS / "zero_shot_splits.json").read_text())["splits"]
    rng = np.random.default_rng(0)
    neighbors = {c: list(rng.choice([n for n in names if n != c], 5, replace=False)) for c in names}
    for key in ("ntu60_55_5", "ntu60_48_12", "ntu60_40_20", "ntu60_30_30"):
        unseen = set(splits[key]["unseen_names"])
        assert unseen <= set(names)
        seen = [n for n in names if n not in unseen]
        filtered = filter_seen(neighbors, seen)
        assert list(filtered) == seen
        for anchor, nb in filtered.items():
            assert not (set(nb) & unseen)
            assert nb == [n for n in neighbors[anchor] if n not in unseen]  # order kept, seen ones all kept


# -- command line --------------------------------------------------------------------------

def run_cli(*args):
    from typer.testing import CliRunner

    from skeletonllm.cli import app
    # With a single registered command Typer runs it without its name.
    argv = list(args[1:]) if len(app.registered_commands) == 1 else list(args)
    return CliRunner().invoke(app, argv)


def test_mine_negatives_command(server, tmp_path, monkeypatch):
    from skeletonllm.skeleton.splits import class_names
    monkeypatch.setenv("SKELETONLLM_TEACHER_API_KEY", "sk-env")
    out = tmp_path / "neg.json"
    res = run_cli("mine-negatives", "--classes", "nw_ucla", "--out", str(out), "--base-url", server.base_url,
                  "--model", "fake-teacher", "--max-retries", "1")
    assert res.exit_code == 0, res.output
    names = list(class_names("nw_ucla"))
    assert list(load_negatives(out, names)) == names and len(server.requests) == 10
    assert server.requests[0]["headers"]["Authorization"] == "Bearer sk-env"
    server.script = ["401"]
    res = run_cli("mine-negatives", "--classes", "ntu60_48_12", "--out", str(tmp_path / "n60.json"),
                  "--base-url", server.base_url, "--model", "fake-teacher")
    assert res.exit_code == 1 and "HTTP 401" in res.output
    res = run_cli("mine-negatives", "--classes", "no_such_thing", "--out", str(tmp_path / "x.json"),
                  "--base-url", server.base_url, "--model", "m")
    assert res.exit_code == 1 and "no_such_thing" in res.output


def test_teacher_command_renders_seen_clips_and_resumes(server, tmp_path):
    from skeletonllm.render import DrAction, DrActionConfig
    ckpt = tmp_path / "run" / "step-00000010" / "model"  # found below a training checkpoint
    DrAction(DrActionConfig(image_size=32, use_gru=False)).save_pretrained(ckpt)
    data = __import__("pathlib").Path(__file__).parent / "data" / "ntu_skeleton"
    out = tmp_path / "rationales.jsonl"
    args = ["teacher", "--data", str(data), "--split", "ntu60_55_5", "--checkpoint", str(tmp_path / "run"),
            "--out", str(out), "--base-url", server.base_url, "--model", "fake-teacher", "--api-key", "k",
            "--num-frames", "4"]
    res = run_cli(*args)
    assert res.exit_code == 0, res.output
    recs = {r["id"]: r for r in RationaleCache(out).records()}
    assert {k: r["label"] for k, r in recs.items()} == {"S001C001P001R001A001": "drink water",
                                                        "S001C003P008R002A058": "handshaking"}
    assert all(r["rationale"].endswith("Label: " + r["label"]) and r["split"] == "ntu60_55_5" for r in recs.values())
    body = server.requests[0]["body"]["messages"][-1]["content"]
    assert len(body) == 1 + 4
    img = Image.open(io.BytesIO(base64.b64decode(body[1]["image_url"]["url"].split(",", 1)[1])))
    assert img.size == (32, 32)
    assert run_cli(*args).exit_code == 0 and len(server.requests) == 2  # nothing asked twice
    # Under a split where A001 is unseen, that clip never reaches the teacher.
    res = run_cli(*args[:4], "ntu60_30_30", *args[5:8], str(tmp_path / "r2.jsonl"), *args[9:])
    assert res.exit_code == 0, res.output
    assert server.asked_labels()[2:] == ["handshaking"]
