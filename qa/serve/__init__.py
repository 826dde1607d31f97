"""Serving: open a ready `Searcher` (building a missing or stale index), follow new builds, batch concurrent
questions, and the HTTP routes beside the page (health, readiness, /api/v1/ask, body limits)."""
