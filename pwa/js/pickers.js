// Admin forms: a search field above a person picker narrows its options (name or
// address), so a long list of a branch's people stays usable. Loaded only where a
// picker has one ([data-picker-search]); without JavaScript the full list remains.

function fold(text) {
  return String(text).normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase();
}

export function mountPickers(root = document) {
  for (const input of root.querySelectorAll('[data-picker-search]')) {
    const select = document.getElementById(input.dataset.pickerSearch);
    if (!select) continue;
    input.hidden = false;
    input.addEventListener('input', () => {
      const words = fold(input.value).split(/\s+/).filter(Boolean);
      for (const option of select.querySelectorAll('option')) {
        if (!option.value) continue;
        option.hidden = !words.every((w) => fold(option.textContent).includes(w));
      }
      for (const group of select.querySelectorAll('optgroup')) {
        group.hidden = !group.querySelector('option:not([hidden])');
      }
      const first = select.querySelector('option[value]:not([value=""]):not([hidden])');
      if (first && (!select.value || select.selectedOptions[0]?.hidden)) select.value = first.value;
    });
  }
}
