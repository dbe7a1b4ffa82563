"""skeletonllm."""
