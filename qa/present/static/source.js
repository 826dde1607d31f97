element.addEventListener('click', (event) => {
  if (!event.target.closest('button[data-back]')) return;
  const origin = document.querySelector('#results button[data-origin]')
    || document.querySelector('#results .ipt-asked');
  if (!origin) return;
  origin.scrollIntoView({block: 'center'});
  origin.focus({preventScroll: true});
});
