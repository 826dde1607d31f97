// Run after every answer (a chained JS-only event, so it runs even when the same answer comes back twice, which
// a watch on the value would miss), once the new markup is in place. A crisis notice always gets focus (a screen
// reader then reads it first) and is scrolled into view if it is not; on a narrow screen, where the results
// start below the fold, the page scrolls to them and focus moves to their first line, which also closes a
// phone's keyboard. On a wide screen an ordinary answer leaves focus in the question box.
() => {
  const arrange = () => {
    const results = document.querySelector('#results');
    const source = document.querySelector('#source');
    if (!results || !source) return;
    const notice = results.querySelector('.ipt-notice');
    const first = notice || results.querySelector('.ipt-asked') || results.querySelector('.ipt-msg');
    if (!first) return;
    const stacked = source.getBoundingClientRect().top >= results.getBoundingClientRect().bottom - 1;
    const box = first.getBoundingClientRect();
    const inView = box.top >= 0 && box.bottom <= window.innerHeight;
    if (notice || stacked) {
      if (!first.hasAttribute('tabindex')) first.setAttribute('tabindex', '-1');
      first.focus({preventScroll: true});
    }
    if (stacked || !inView) first.scrollIntoView({block: 'start'});
  };
  requestAnimationFrame(() => requestAnimationFrame(arrange));
}
