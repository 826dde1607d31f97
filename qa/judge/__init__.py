"""Stage 4, judge: does the shown list answer the question? Refusal signals, the calibrated rule and its model
file, the relevance labels, and the crisis notice."""
