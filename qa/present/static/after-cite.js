// Run after a citation opens: centre the passage inside the scrolling source text; on a wide screen the view is
// sticky beside the results, so the page itself does not move and the clicked card stays where it is; on a
// narrow one the view sits below every result, so the page goes to it (and "Back to the passage" returns). Focus
// follows to the view's title.
() => {
  const arrange = () => {
    const view = document.querySelector('#source');
    if (!view) return;
    const mark = view.querySelector('#cited');
    const box = view.querySelector('.ipt-source-text');
    if (mark && box) {
      box.scrollTop += mark.getBoundingClientRect().top - box.getBoundingClientRect().top - box.clientHeight / 3;
      // Line up the first visible line with the top of the text box, so that it is not cut in half under the
      // view's header (seen on a 390 px phone, where long lines wrap to several rows).
      const top = box.getBoundingClientRect().top + box.clientTop;
      const first = [...box.querySelectorAll('.ipt-line')].find((l) => l.getBoundingClientRect().bottom > top + 1);
      if (first && first.getBoundingClientRect().top < top) box.scrollTop -= top - first.getBoundingClientRect().top;
    }
    const top = view.getBoundingClientRect().top;
    if (top < 0 || top > window.innerHeight * 0.5) view.scrollIntoView({block: 'start'});
    const title = view.querySelector('.ipt-source-title') || view.querySelector('.ipt-msg');
    if (title) {
      if (!title.hasAttribute('tabindex')) title.setAttribute('tabindex', '-1');
      title.focus({preventScroll: true});
    }
  };
  requestAnimationFrame(() => requestAnimationFrame(arrange));
}
