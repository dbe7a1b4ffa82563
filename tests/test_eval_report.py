import json
import re

import pytest
from typer.testing import CliRunner

from skeletonllm.cli import app
from skeletonllm.eval import paper_tables as pt
from skeletonllm.eval.report import ResultsFormatError, load_results, render_report, save_result, validate_result

REC = {"task": "recognition", "method": "tiny run", "dataset": "NTU-60", "split": "ntu60_48_12", "top1": 0.5,
       "num_samples": 24, "unmatched": 1, "per_class": {"drink water": {"top1": 0.5, "num_samples": 2}},
       "settings": {"backbone": "tiny"}, "seed": 0}


def _write(path, obj):
    path.write_text(json.dumps(obj))
    return str(path)


def _row(text, label):
    line = next(l for l in text.splitlines() if l.startswith("| ") and label in l)
    return [c.strip() for c in line.strip("|").split("|")]


def test_paper_tables_transcription_cross_checks():
    # Differences the paper's prose quotes must follow from the transcribed numbers.
    t1 = pt.TABLE1
    assert t1.value(pt.OURS, "ntu60_55_5") - t1.value("TDSM", "ntu60_55_5") == pytest.approx(0.88)
    assert t1.value(pt.OURS, "ntu60_30_30") - t1.value("TDSM", "ntu60_30_30") == pytest.approx(11.96)
    assert t1.value(pt.OURS, "ntu120_60_60") - t1.value("TDSM", "ntu120_60_60") == pytest.approx(7.73)
    assert pt.TABLE2.rows[("NTU-60", "NW-UCLA", pt.OURS)][0] - 43.19 == pytest.approx(17.19)
    assert pt.TABLE3.value(pt.OURS, "cider_d") - pt.TABLE3.value("InternVL3-8B", "cider_d") == pytest.approx(8.76)
    assert pt.TABLE4.value("Ours (Full)", "ntu60_48_12") - pt.TABLE4.value("Ours (w/o NFM)", "ntu60_48_12") \
        == pytest.approx(3.63)
    assert pt.TABLE15.value("Ours (Full)", "temporal") - pt.TABLE15.value("InternVL3-8B", "temporal") \
        == pytest.approx(15.6)
    for table in pt.TABLES.values():
        assert all(len(v) == len(table.columns) for v in table.rows.values()), table.number
        assert pt.FULL_MODEL_ROW[table.number] in {k[-1] if isinstance(k, tuple) else k for k in table.rows}
    # The full model's row is the same in every recognition table.
    for n, table in pt.RECOGNITION_TABLES.items():
        full = table.rows[pt.FULL_MODEL_ROW[n]]
        assert all(full[i] == pt.TABLE1.value(pt.OURS, c) for i, c in enumerate(table.columns)), n


def test_report_cli_recognition_table(tmp_path):
    f1 = _write(tmp_path / "a.json", REC)
    f2 = _write(tmp_path / "b.json", [dict(REC, top1=0.6), dict(REC, split="ntu120_96_24", top1=0.25)])
    out = tmp_path / "report.md"
    r = CliRunner().invoke(app, ["report", f1, f2, "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "| Method | NTU-60 55/5 | NTU-60 48/12 |" in r.output
    paper = _row(r.output, "SkeletonLLM (Ours) — paper Table 1")
    assert paper[1:] == ["87.37", "64.72", "46.15", "37.84", "76.05", "67.20", "44.37", "34.94"]
    ours = _row(r.output, "tiny run")
    assert ours[1] == "–" and ours[2].startswith("55.00 ± 7.07 (n=2)") and ours[6] == "25.00"
    assert out.read_text() == r.output
    f3 = _write(tmp_path / "c.json", dict(REC, protocol="xset", top1=0.125))
    r = CliRunner().invoke(app, ["report", f1, f3])
    assert _row(r.output, "tiny run [xset]")[2] == "12.50" and _row(r.output, "tiny run |")[2] == "50.00"
    r = CliRunner().invoke(app, ["report", f1, "--paper-rows", "all", "--table", "4"])
    assert r.exit_code == 0 and "JTM — paper Table 4" in r.output and "| 55.86 |" in r.output
    r = CliRunner().invoke(app, ["report", f1, "--paper-rows", "none"])
    assert r.exit_code == 0 and "— paper" not in r.output


def test_report_other_kinds():
    results = [
        validate_result({"task": "transfer", "source": "NTU-60", "target": "NW UCLA", "top1": 0.3,
                         "num_samples": 10}),
        validate_result({"task": "captioning", "dataset": "HumanML3D", "method": "cap run",
                         "metrics": {"bleu4": 0.05, "rouge_l": 0.3, "cider_d": 0.1, "bertscore_f1": None,
                                     "mm_dist": 7.5},
                         "not_computed": {"bertscore_f1": "roberta-large weights not available"}}),
        validate_result({"task": "qa", "metrics": {"overall": {"rouge_l": 0.4, "bertscore_f1": None},
                                                   "per_type": {"temporal": {"mqa_accuracy": 0.75}}}}),
        validate_result(dict(REC, split="pku51_46_5", protocol="xview", top1=0.8)),
        validate_result(dict(REC, split="my_split", top1=0.1)),
    ]
    text = render_report(results)
    assert _row(text, "SkeletonLLM (Ours) — paper Table 2")[3] == "60.38"
    assert _row(text, "NTU-60 | NW UCLA | SkeletonLLM (this run)")[3] == "30.00"
    cap = _row(text, "cap run")
    assert cap[1:] == ["n/c", "n/c", "7.50", "5.00", "30.00", "10.00", "n/c"]
    assert "BertScore: roberta-large weights not available" in text
    assert _row(text, "Ours (Full) — paper Table 15")[1:] == ["68.4", "64.7", "72.5", "75.8", "52.36", "57.2"]
    qa = _row(text, "SkeletonLLM (this run) | 75.00")
    assert qa[-2:] == ["40.00", "n/c"]
    assert _row(text, "SkeletonLLM (Ours) — paper Table 9")[1:] == ["90.1", "63.9", "89.5", "64.2"]
    pku = _row(text, "tiny run | –")
    assert pku[1:] == ["–", "–", "80.00", "–"]
    assert re.search(r"\| tiny run \| my_split \| 10.00 \| 24 \|", text)


@pytest.mark.parametrize("obj, key", [
    ({"task": "recognition", "split": "ntu60_48_12", "top1": 64.7, "num_samples": 3}, "top1"),
    ({"task": "recognition", "top1": 0.5, "num_samples": 3}, "split"),
    ({"task": "recognition", "split": "x", "top1": 0.5}, "num_samples"),
    ({"task": "recognise", "split": "x", "top1": 0.5, "num_samples": 1}, "task"),
    ({"task": "transfer", "source": "NTU-60", "top1": 0.5, "num_samples": 1}, "target"),
    ({"task": "captioning", "metrics": {"bleu4": "high"}}, "metrics.bleu4"),
    ({"task": "qa", "metrics": {"overall": {}}}, "metrics"),
    (dict(REC, per_class={"a": {"top1": 2}}), "top1"),
    (dict(REC, protocol="xcam"), "protocol"),
])
def test_schema_errors_name_file_and_key(tmp_path, obj, key):
    path = _write(tmp_path / "bad.json", obj)
    with pytest.raises(ResultsFormatError, match=f"key '{re.escape(key)}'") as e:
        load_results(path)
    assert "bad.json" in str(e.value)


def test_cli_reports_bad_file_and_save_round_trip(tmp_path):
    r = CliRunner().invoke(app, ["report", _write(tmp_path / "bad.json", {"task": "recognition"})])
    assert r.exit_code == 2 and "bad.json" in r.output
    r = CliRunner().invoke(app, ["report", str(tmp_path / "missing.json")])
    assert r.exit_code == 2 and "file not found" in r.output
    save_result(tmp_path / "ok.json", REC)
    assert load_results(tmp_path / "ok.json")[0]["top1"] == 0.5
    with pytest.raises(ResultsFormatError):
        save_result(tmp_path / "no.json", {"task": "qa"})
    assert not (tmp_path / "no.json").exists()
