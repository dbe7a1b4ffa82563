"""Procedural motions: a world in which render -> VLM -> text can learn on a CPU in minutes.

* ``body``    a canonical articulated body posed by joint angles (forward kinematics).
* ``program`` the motion-program machinery: phases, keyframes, the builder the classes write into.
* ``movements`` the class builders, one module per movement family (arms, legs, whole body,
              depiction pairs, two-person interactions).
* ``actions`` 60 action classes, each a motion program composed of movement x part x side
              (14 of them in pairs told apart only by depth, speed or depth order).
* ``emit``    the posed body as a SkeletonSequence of any topology (NTU-25, Kinect v1-20,
              SMPL-22, COCO-17 2D from a random viewpoint).
* ``text``    captions, step-by-step rationales (``Label: <action>``) and 4-type QA, read off
              the program.
* ``dataset`` :class:`SyntheticMotionSet` with compositional zero-shot splits, save / load.
"""
from .actions import (ACTION_CLASSES, CORE_CLASSES, DEPICTION_CLASSES, ActionClass, MotionProgram, Phase,
                      depiction_kind, get_action, similar_classes)
from .body import BodyShape, Placement, pose_body
from .dataset import (ALL_TOPOLOGIES, SPLITS, ClassSplit, SynthConfig, SyntheticMotionSet, SyntheticSample,
                      check_compositional, generate_sample, get_split)
from .emit import RIG_MAP, View2D, emit_sequence
from .text import QA_TYPES, QAItem, describe_class

__all__ = ["ACTION_CLASSES", "ALL_TOPOLOGIES", "ActionClass", "BodyShape", "CORE_CLASSES", "ClassSplit",
           "DEPICTION_CLASSES", "depiction_kind",
           "MotionProgram", "Phase", "Placement", "QAItem", "QA_TYPES", "RIG_MAP", "SPLITS", "SynthConfig",
           "SyntheticMotionSet", "SyntheticSample", "View2D", "check_compositional", "describe_class",
           "emit_sequence", "generate_sample", "get_action", "get_split", "pose_body", "similar_classes"]
