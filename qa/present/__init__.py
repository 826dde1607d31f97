"""Stage 5, present: candidates -> `Hit`s (highlight, twins grouped under one card), and the page's HTML, CSS
and scripts (no Gradio here)."""
