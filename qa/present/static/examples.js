// One delegated listener per gr.HTML: the markup (qa.present.page) carries data-* buttons, never scripts or
// handlers. The question box gets dir="auto" (Gradio only offers ltr or rtl) so a right-to-left question reads
// right.
const setDir = () => {
  const box = document.querySelector('#question textarea');
  if (box) box.setAttribute('dir', 'auto');
  return Boolean(box);
};
if (!setDir()) {
  const observer = new MutationObserver(() => { if (setDir()) observer.disconnect(); });
  observer.observe(document.body, {childList: true, subtree: true});
}
element.addEventListener('click', (event) => {
  const example = event.target.closest('button[data-question]');
  if (example) trigger('example', {question: example.dataset.question});
});
