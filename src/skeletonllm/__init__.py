"""skeletonllm."""


def __getattr__(name):
    # Lazy, so that `import skeletonllm` stays cheap (no numpy/scipy until a file is loaded).
    if name in ("load", "load_all"):
        from .skeleton import io
        return getattr(io, name)
    raise AttributeError(f"module 'skeletonllm' has no attribute '{name}'")
