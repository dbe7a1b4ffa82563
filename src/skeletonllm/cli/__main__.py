"""``python -m skeletonllm.cli``: the same command line as ``skeletonllm`` (what ``accelerate launch -m`` and
``torchrun -m`` run)."""
from . import app

if __name__ == "__main__":
    app()
