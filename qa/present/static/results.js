// The clicked citation is remembered (data-origin) so that "Back to the passage" can return to it. A copy button
// of "Cite this passage" puts its reference on the clipboard (the Clipboard API, or selecting the text and
// copying it where that API is not offered, as over plain http) and says so in the control's status line.
const copyText = (node) => {
  const range = document.createRange();
  range.selectNodeContents(node);
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
  let ok = false;
  try { ok = document.execCommand('copy'); } catch (e) { ok = false; }
  return ok;
};
// "Copy link" copies this page's address with ?q= and the answer's question (the page opened so asks it).
const copyLink = (button) => {
  const address = new URL(window.location.pathname, window.location.origin);
  address.searchParams.set('q', button.dataset.link);
  const status = button.closest('.ipt-share').querySelector('.ipt-copied');
  const fallback = () => {
    status.textContent = address.href;
    if (copyText(status)) { status.textContent = 'Link copied.'; return; }
    status.textContent = `Select the link and copy it: ${address.href}`;
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(address.href).then(() => { status.textContent = 'Link copied.'; }, fallback);
  } else {
    fallback();
  }
};
element.addEventListener('click', (event) => {
  const link = event.target.closest('button[data-link]');
  if (link) { copyLink(link); return; }
  const copy = event.target.closest('button[data-copy]');
  if (copy) {
    const node = copy.closest('.ipt-ref').querySelector('.ipt-ref-text');
    const status = copy.closest('.ipt-cite-this').querySelector('.ipt-copied');
    const label = copy.textContent.replace(/^Copy /, '');
    const done = (ok) => {
      status.textContent = ok ? `${label} citation copied.` : 'Select the citation above and copy it.';
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(node.textContent).then(() => done(true), () => done(copyText(node)));
    } else {
      done(copyText(node));
    }
    return;
  }
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
