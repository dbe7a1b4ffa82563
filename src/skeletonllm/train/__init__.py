"""Training: the cooperative curriculum (SPEC §5).

Modules are imported on use (``from skeletonllm.train.teacher import TeacherClient``) so that
importing this package stays cheap.
"""
