"""IPT passage assistant: answers questions about Interpersonal Psychotherapy by quoting its sources."""

__version__ = "0.1.0"
