// The clicked citation is remembered (data-origin) so that "Back to the passage" can return to it.
element.addEventListener('click', (event) => {
  const cite = event.target.closest('button[data-source]');
  if (cite) {
    element.querySelectorAll('[data-origin]').forEach((b) => b.removeAttribute('data-origin'));
    cite.setAttribute('data-origin', '1');
    const d = cite.dataset;
    trigger('cite', {source: d.source, start: Number(d.start), end: Number(d.end),
                     hl_start: Number(d.hlStart), hl_end: Number(d.hlEnd)});
    return;
  }
  const example = event.target.closest('button[data-question]');
  if (example) trigger('example', {question: example.dataset.question});
});
