// A page opened from a shared link (/?q=...): the question in its address goes to the server, which answers it
// as if typed (app.py: show_linked); without one, nothing is asked. At most the question box's 2,000 characters.
(question, k, sources) => [(new URLSearchParams(window.location.search).get('q') || '').slice(0, 2000), k, sources]
