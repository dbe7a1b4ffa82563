"""Prompts and label parsing (skeletonllm.mllm.prompts)."""
import pytest

from skeletonllm.mllm import prompts as P

CANDS = ["drink water", "pick up", "pick up with one hand", "sneeze/cough", "wear a shoe"]


def test_mqa_prompt_lists_every_candidate_and_the_answer_format():
    text = P.mqa_prompt(CANDS)
    for c in CANDS:
        assert f"- {c}\n" in text
    assert "Label: <action>" in text
    assert P.mqa_target("pick up") == "Label: pick up"
    with pytest.raises(ValueError):
        P.mqa_prompt([])


def test_task_prompts_follow_the_paper_roles():
    assert "'clapping'" in P.disc_prompt("clapping") and "YES" in P.disc_prompt("x") and "NO" in P.disc_prompt("x")
    student = P.student_prompt()
    assert "pseudo-images" in student and "Label:" in student
    for c in CANDS:  # the student never sees a label
        assert c not in student
    teacher = P.teacher_prompt("hand waving")
    assert "'hand waving'" in teacher and teacher.rstrip().endswith("Label: hand waving")
    assert "step-by-step" in teacher
    assert "Label" not in P.caption_prompt()
    assert "- b\n" in P.qa_prompt("Which?", ["a", "b"]) and "Label" not in P.qa_prompt("Why?")


def test_raw_label_is_the_strict_paper_parse():
    answer = "The right hand rises.\nLabel: throw\nMore text\nLabel:  Drink Water  \n"
    assert P.raw_label(answer) == "drink water"  # the last label line, lower-cased and stripped
    assert P.raw_label("no label here") is None
    assert P.parse_label("label: Pick Up") == "pick up"  # no candidates: the raw parse


def test_parse_label_matches_candidates_exactly_first():
    assert P.parse_label("Label: Pick up", CANDS) == "pick up"
    assert P.parse_label("Label: pick up with one hand", CANDS) == "pick up with one hand"
    assert P.parse_label("Label: Sneeze/Cough", CANDS) == "sneeze/cough"


def test_fuzzy_fallback_is_conservative_and_can_be_switched_off():
    assert P.parse_label("Label: 'drink water'.", CANDS) == "drink water"  # quotes and final dot
    assert P.parse_label("Label: sneeze cough", CANDS) == "sneeze/cough"  # punctuation-insensitive
    assert P.parse_label("Label: drink watr", CANDS) == "drink water"     # a typo, clear winner
    assert P.parse_label("Label: drink watr", CANDS, fuzzy=False) is None
    assert P.parse_label("Label: jump", CANDS) is None                    # no guessing
    assert P.parse_label("Label: pick", CANDS) is None                    # ambiguous prefix
    assert P.parse_label("Label:", CANDS) is None


def test_fixed_prompt_wording_names_no_unseen_class_of_any_split():
    """The templates themselves must not leak an unseen class name (e.g. 'writing' is unseen in ntu60_55_5)."""
    import re

    from skeletonllm.mllm import prompts as P
    from skeletonllm.skeleton.splits import get_split, list_splits

    texts = [P.mqa_prompt(["zzz"]), P.disc_prompt("zzz"), P.student_prompt(), P.caption_prompt(),
             P.qa_prompt("zzz", ["zzz", "yyy"])]
    leaks = [(s, n) for s in list_splits() for n in get_split(s).unseen_names for t in texts
             if re.search(r"\b" + re.escape(n.lower()) + r"\b", t.lower())]
    assert leaks == []
