"""Evaluation: the quote-anchored gold set, scoring with ranx and bootstrap intervals, the report, saved and
foreign runs, the BEIR export, gold checks, and the calibration of the refusal rule on dev."""
