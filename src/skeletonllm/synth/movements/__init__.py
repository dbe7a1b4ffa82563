"""The class builders, one module per movement family.

Each builder takes a :class:`~skeletonllm.synth.program.ProgramBuilder` and the side, and
writes one sample's keyframes and phases; :mod:`skeletonllm.synth.actions` names the
compositions (movement x part x side) they make.

* ``arms``         raise, wave, punch, swing, lift sideways, touch head, clap, cross, reach
* ``legs``         raise, kick, swing, lift sideways, hop
* ``whole_body``   squat, jump, bow, turn around; torso lean and twist; sit down, stand up;
                   nod, shake and turn the head
* ``depiction``    pairs told apart only by depth, speed or depth order (stretch forward /
                   backward, step forward / back, slow waving, crossed limbs)
* ``interactions`` two people: shake hands, push, hug, pass an object
"""
