"""Speed and quality benchmarks; each runs with one command and prints ratios to its baselines."""
