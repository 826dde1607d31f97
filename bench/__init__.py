"""Performance benchmarks of the IPT passage assistant: `python -m bench` (see bench/__main__.py).

Every figure is measured next to a baseline taken in the same run (interleaved with it where the two can
alternate), and printed as median and p95 with the ratio of the two, because the machines this runs on are
shared and noisy: an absolute number alone would say more about the neighbours than about the code.
Results and their reading: bench/RESULTS.md.
"""
