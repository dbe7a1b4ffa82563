"""The ``skeletonllm`` command line. Each command is a thin layer over the library.

One module per command group, each registering its commands on the one ``app`` of :mod:`.root`;
importing them here, in this order, registers the commands in the order ``--help`` lists them.
"""
from __future__ import annotations

import os

# Busy-waiting OpenMP threads make torch many times slower on a small, shared CPU; passive
# waiting costs nothing on an idle one. Must be set before torch is first imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .root import app  # noqa: E402
from .data import convert_cmd, inspect_cmd  # noqa: E402
from .render import render_cmd  # noqa: E402
from .teacher import mine_negatives_cmd, teacher_cmd  # noqa: E402
from .report import report_cmd  # noqa: E402
from .train import train_cmd  # noqa: E402
from .plan import plan_cmd  # noqa: E402
from .backbone import tiny_backbone_cmd  # noqa: E402
from .eval import eval_cmd  # noqa: E402
from .inference import ask_cmd, caption_cmd, recognize_cmd  # noqa: E402
from .sugar import sugar_app, sugar_demo_cmd, sugar_eval_cmd, sugar_knowledge_cmd, sugar_train_cmd  # noqa: E402
from .demo import demo_cmd, demo_study_cmd  # noqa: E402

__all__ = ["app", "sugar_app", "inspect_cmd", "convert_cmd", "render_cmd", "mine_negatives_cmd", "teacher_cmd",
           "report_cmd", "train_cmd", "plan_cmd", "tiny_backbone_cmd", "eval_cmd", "recognize_cmd", "caption_cmd",
           "ask_cmd", "sugar_knowledge_cmd", "sugar_train_cmd", "sugar_eval_cmd", "sugar_demo_cmd", "demo_cmd",
           "demo_study_cmd"]
