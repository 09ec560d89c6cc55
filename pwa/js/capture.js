// Enhances the server-rendered capture form: the browser names the observation
// and its photos (UUIDs), downscales the photos as soon as they are taken, and
// stores everything in the outbox BEFORE anything is sent. One tap on
// « Enregistrer » works the same with or without network; sync.js sends later.
// Until then the form is a draft in IndexedDB: each photo is written there as
// soon as it is taken, so a tab the phone reloads loses nothing, and reopening
// the page offers to resume it. What the browser lacks is checked first: when
// the enhanced flow cannot run, the plain form posts to the server and a line
// says why.
//
// The tutor's minute: a photo taken right after rating a criterion is attached to
// the evidence its competency expects (automatically when it expects one kind,
// else one tap among the expected ones); free text is optional, with the last
// values one tap away; a search or the block list reaches any criterion.

import * as outbox from './outbox.js';
import {downscale, sha256Hex} from './images.js';
import {pyStrip, registerBackgroundSync, syncNow} from './sync.js';
import {requestPersistence} from './status.js';
import {currentPerson} from './identity.js';
import {captureBlocker, newId} from './features.js';
import {t} from './strings.js';

const RATING_FIELD = 'rating-';
const DRAFT_WRITE_DELAY_MS = 400;
const UNDO_MS = 10000;

/** The expected evidence a photo of this competency may show ([{value, label, kind}]). */
function choicesOf(competency) {
  if (!competency) return [];
  try {
    return JSON.parse(competency.dataset.choices || '[]');
  } catch {
    return [];
  }
}

/** The one target taken without asking: the single expected photo (or the single
 *  expected item); null when the tutor must pick. */
function automaticTarget(choices) {
  const photos = choices.filter((c) => c.kind === 'photo');
  if (photos.length === 1) return photos[0].value;
  return choices.length === 1 ? choices[0].value : null;
}

function fold(text) {
  return String(text).normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase();
}

function localToday() {
  const now = new Date();
  const pad = (n) => String(n).padStart(2, '0');
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

/** {competency, evidence} from a photo-target value "C1.1" or "C1.1|label". */
function photoTarget(value) {
  const [competency, ...rest] = String(value || '').split('|');
  return {competency: competency || null, evidence: rest.join('|') || null};
}

/** The line above the form saying why it posts straight to the server. */
export function explainPlainForm(reasonKey) {
  const note = document.querySelector('[data-plain-note]');
  if (!note) return;
  note.textContent = `${t(reasonKey)} ${t('plain_form')}`;
  note.classList.add('shown');
  note.hidden = false;
}

export async function enhanceCapture(form) {
  const blocker = await captureBlocker(outbox);
  if (blocker) {
    explainPlainForm(blocker); // no listener was added: the plain form posts
    return;
  }
  const enrolment = Number(form.dataset.enrolment);
  const maxPhotos = Number(form.dataset.maxPhotos) || 10;
  const inputs = Array.from(form.querySelectorAll('input[type=file]'));
  const thumbs = form.querySelector('[data-thumbs]');
  const sharedTarget = form.querySelector('[data-photo-target]');
  const saveButton = form.querySelector('[data-save]');
  const busy = form.querySelector('[data-busy]');
  const savedBox = form.querySelector('[data-saved]') || document.querySelector('[data-saved]');
  const undoLine = form.querySelector('[data-undo-line]');
  const errorBox = document.createElement('div');
  errorBox.className = 'alert';
  errorBox.setAttribute('role', 'alert');
  errorBox.hidden = true;
  form.before(errorBox);
  const person = currentPerson();
  const author = person ? {id: person.id, name: person.name} : null;
  const draftKey = `${author ? author.id : 0}:${enrolment}`;
  // {id, ready: Promise<{blob,width,height,original}>, select, row, url}
  const photos = [];
  let saving = false;
  let offer = null; // the resume offer, while the tutor has not answered it
  let context = null; // the competency (<details>) of the criterion rated last
  const picked = new Map(); // competency → the expected item last picked for a photo
  const lastKey = `carnet-last:${author ? author.id : 0}:${enrolment}`;

  if (!document.getElementById('form-errors')) {
    form.elements.observed_on.value = localToday(); // a page cached yesterday says yesterday
  }
  form.elements.observed_on.max = localToday();
  // Each photo gets its own target below its thumbnail (the plain form's select is hidden by CSS).
  if (sharedTarget) sharedTarget.disabled = true;
  mountReuse();
  mountSearch();

  function showError(message) {
    errorBox.textContent = message;
    errorBox.hidden = false;
    errorBox.scrollIntoView({block: 'center'});
  }

  function setBusy(message) {
    if (!busy) return;
    busy.textContent = message || '';
    busy.hidden = !message;
  }

  // --- last values, search --------------------------------------------------------

  function lastValues() {
    try {
      return JSON.parse(localStorage.getItem(lastKey) || 'null') || {};
    } catch {
      return {};
    }
  }

  /** « Reprendre : … » under situation and place: the last values, one tap away. The
   *  page says what the server knows; this phone's last save (maybe unsent) wins. */
  function mountReuse() {
    const kept = lastValues();
    for (const name of ['situation', 'place']) {
      const field = form.elements[name];
      let button = form.querySelector(`[data-reuse="${name}"]`);
      if (kept[name]) {
        if (!button) {
          button = document.createElement('button');
          button.type = 'button';
          button.className = 'reuse secondary';
          button.dataset.reuse = name;
          field.after(button);
        }
        button.dataset.value = kept[name];
        button.textContent = t('reuse', {value: kept[name].length > 40 ? `${kept[name].slice(0, 39)}…` : kept[name]});
      }
      if (!button) continue;
      button.hidden = field.value === button.dataset.value;
      button.onclick = () => {
        field.value = button.dataset.value;
        button.hidden = true;
        field.dispatchEvent(new Event('input', {bubbles: true}));
      };
    }
  }

  function mountSearch() {
    const line = form.querySelector('[data-search-line]');
    const input = form.querySelector('[data-criterion-search]');
    if (!line || !input) return;
    line.hidden = false;
    const none = document.createElement('p');
    none.className = 'muted';
    none.textContent = t('search_none');
    none.hidden = true;
    line.after(none);
    input.addEventListener('input', () => {
      const words = fold(input.value).split(/\s+/).filter(Boolean);
      let shown = 0;
      for (const block of form.querySelectorAll('[data-block]')) {
        let inBlock = 0;
        for (const competency of block.querySelectorAll('[data-competency]')) {
          let inCompetency = 0;
          const head = fold(competency.querySelector('summary').textContent);
          for (const criterion of competency.querySelectorAll('[data-criterion]')) {
            const text = `${head} ${fold(criterion.querySelector('legend').textContent)}`;
            const match = words.every((w) => text.includes(w));
            criterion.hidden = !match;
            if (match) inCompetency += 1;
          }
          competency.hidden = !inCompetency;
          if (inCompetency && words.length) competency.open = true;
          inBlock += inCompetency;
        }
        block.hidden = !inBlock;
        shown += inBlock;
      }
      none.hidden = shown > 0;
    });
  }

  // --- the draft --------------------------------------------------------------------

  function keep(promise) {
    // A draft that cannot be written is not fatal (the form is still here), but say so.
    promise.catch((error) => showError(t('draft_failed', {message: error.message})));
  }

  function rawValues() {
    const data = new FormData(form);
    const ratings = {};
    for (const [key, value] of data) {
      if (key.startsWith(RATING_FIELD) && value) ratings[key.slice(RATING_FIELD.length)] = value;
    }
    return {observed_on: String(data.get('observed_on') || ''), situation: String(data.get('situation') || ''),
      place: String(data.get('place') || ''), comment: String(data.get('comment') || ''), ratings};
  }

  let draftTimer = null;
  function writeDraftSoon() {
    clearTimeout(draftTimer);
    draftTimer = setTimeout(() => keep(outbox.putDraft({key: draftKey, enrolment, author,
      values: rawValues(), updatedAt: new Date().toISOString()})), DRAFT_WRITE_DELAY_MS);
  }

  function draftPhoto(entry, changes) {
    entry.stored = {...entry.stored, ...changes};
    keep(outbox.putDraftPhoto(entry.stored));
  }

  function restoreValues(values, typed) {
    if (!values) return;
    for (const name of ['observed_on', 'situation', 'place', 'comment']) {
      if (values[name] && form.elements[name] !== typed) form.elements[name].value = values[name];
    }
    const more = form.querySelector('details.more');
    if (more && (values.situation || values.place || values.comment)) more.open = true;
    for (const [code, value] of Object.entries(values.ratings || {})) {
      const radio = form.querySelector(`input[name="${RATING_FIELD}${CSS.escape(code)}"][value="${CSS.escape(value)}"]`);
      if (!radio) continue;
      radio.checked = true;
      const competency = radio.closest('details');
      if (competency) competency.open = true;
    }
  }

  /** Take the draft back into the form (`typed`: a field the tutor is typing in,
   *  left as it is). */
  async function resume(typed = null) {
    if (!offer) return;
    const {found, box} = offer;
    offer = null;
    box.remove();
    restoreValues(found.draft.values, typed);
    for (const stored of found.photos) addPhoto(stored.blob, stored);
  }

  async function discard() {
    if (!offer) return;
    offer.box.remove();
    offer = null;
    await outbox.deleteDraft(draftKey);
  }

  async function offerDraft() {
    const found = await outbox.getDraft(draftKey);
    if (!found) return;
    const values = found.draft.values || {};
    const box = document.createElement('div');
    box.className = 'alert draft';
    box.dataset.draft = '';
    box.setAttribute('role', 'status');
    const text = document.createElement('p');
    const when = found.draft.updatedAt || (found.photos[0] && found.photos[0].takenAt);
    text.textContent = t('draft_found', {n: found.photos.length, date: when
      ? new Date(when).toLocaleString('fr-FR', {day: '2-digit', month: '2-digit', hour: '2-digit', minute: '2-digit'})
      : '—', situation: values.situation || '—'});
    const yes = document.createElement('button');
    yes.type = 'button';
    yes.dataset.resume = '';
    yes.textContent = t('draft_resume');
    yes.addEventListener('click', () => resume());
    const no = document.createElement('button');
    no.type = 'button';
    no.className = 'secondary';
    no.dataset.discard = '';
    no.textContent = t('draft_discard');
    no.addEventListener('click', () => keep(discard()));
    box.append(text, yes, ' ', no);
    form.before(box);
    offer = {found, box};
  }

  // --- photos ---------------------------------------------------------------------

  /** The photo's target line: what it counts as, or the expected items to pick from
   *  (large buttons, one tap), never the whole referential. */
  function showTarget(entry) {
    const box = entry.targetBox;
    box.replaceChildren();
    const competency = entry.competency
      ? form.querySelector(`[data-competency="${CSS.escape(entry.competency)}"]`) : null;
    const choices = choicesOf(competency);
    const line = document.createElement('p');
    line.className = 'target-line';
    const chosen = choices.find((c) => c.value === entry.stored.target);
    if (!competency) line.textContent = t('photo_no_target');
    else if (chosen) line.textContent = t('photo_for', {label: chosen.label, competency: entry.competency});
    else if (!choices.length) line.textContent = t('photo_no_evidence', {competency: entry.competency});
    else line.textContent = t('photo_pick', {competency: entry.competency});
    line.dataset.targetLine = chosen ? 'set' : 'unset';
    box.append(line);
    if (choices.length > 1 || (choices.length === 1 && !chosen)) {
      const buttons = document.createElement('div');
      buttons.className = 'target-choices';
      for (const choice of choices) {
        const button = document.createElement('button');
        button.type = 'button';
        button.className = choice.value === entry.stored.target ? 'choice-target' : 'choice-target secondary';
        button.setAttribute('aria-pressed', String(choice.value === entry.stored.target));
        button.dataset.target = choice.value;
        button.textContent = choice.label;
        button.addEventListener('click', () => {
          picked.set(entry.competency, choice.value); // the next photo here follows it
          draftPhoto(entry, {target: choice.value});
          showTarget(entry);
        });
        buttons.append(button);
      }
      box.append(buttons);
    }
  }

  /** A photo follows the criterion rated last: its competency's expected evidence. */
  function aimAt(entry, competency) {
    entry.competency = competency ? competency.dataset.competency : null;
    const target = automaticTarget(choicesOf(competency)) || picked.get(entry.competency);
    draftPhoto(entry, {target: target || '', competency: entry.competency});
    showTarget(entry);
  }

  function addPhoto(file, stored = null) {
    const number = photos.length + 1;
    const row = document.createElement('li');
    row.className = 'thumb';
    const image = document.createElement('img');
    image.alt = t('photo_alt', {n: number});
    image.width = 96;
    image.height = 96;
    const note = document.createElement('span');
    note.className = 'muted small';
    note.textContent = t('photo_reducing');
    const targetBox = document.createElement('div');
    targetBox.className = 'target';
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.className = 'secondary remove';
    remove.textContent = t('photo_remove');
    row.append(image, note, targetBox, remove);
    thumbs.append(row);
    const entry = {row, targetBox, url: null, competency: stored ? stored.competency || null
      : (context ? context.dataset.competency : null),
    stored: stored || {id: newId(), draft: draftKey,
      blob: file, reduced: false, original: false, width: null, height: null,
      target: automaticTarget(choicesOf(context))
        || (context && picked.get(context.dataset.competency)) || '',
      competency: context ? context.dataset.competency : null,
      order: Date.now() + number, takenAt: new Date().toISOString()}};
    if (!stored) keep(outbox.putDraftPhoto(entry.stored)); // on disk before any decoding
    showTarget(entry);
    entry.ready = entry.stored.reduced
      ? Promise.resolve({blob: entry.stored.blob, width: entry.stored.width,
        height: entry.stored.height, original: entry.stored.original})
      : downscale(file).then((result) => {
        if (photos.includes(entry)) {
          draftPhoto(entry, {blob: result.blob, reduced: true, original: result.original,
            width: result.width, height: result.height});
        }
        return result;
      });
    photos.push(entry);
    entry.ready.then((result) => {
      if (result.blob.type === 'application/pdf') { // the server draws its thumbnail
        image.alt = t('document_pdf');
        note.textContent = t('document_pdf');
        return;
      }
      entry.url = URL.createObjectURL(result.blob);
      image.src = entry.url;
      note.textContent = [result.onPage ? t('photo_on_page') : '', result.original ? t('photo_kept_original')
        : t('photo_size', {width: result.width, height: result.height, kb: Math.round(result.blob.size / 1000)})]
        .filter(Boolean).join(' ');
    });
    remove.addEventListener('click', () => removePhoto(entry));
  }

  let undoTimer = null;
  /** Removed at once (and from the draft), with « Annuler » for a few seconds. */
  function removePhoto(entry) {
    const index = photos.indexOf(entry);
    if (index < 0) return;
    photos.splice(index, 1);
    entry.row.remove();
    keep(outbox.deleteDraftPhoto(entry.stored.id));
    if (!undoLine) return;
    clearTimeout(undoTimer);
    const text = document.createElement('span');
    text.textContent = `${t('photo_removed')} `;
    const undo = document.createElement('button');
    undo.type = 'button';
    undo.className = 'secondary';
    undo.dataset.undo = '';
    undo.textContent = t('photo_undo');
    undo.addEventListener('click', () => {
      clearTimeout(undoTimer);
      undoLine.hidden = true;
      undoLine.replaceChildren();
      if (photos.length >= maxPhotos) return;
      photos.splice(Math.min(index, photos.length), 0, entry);
      thumbs.insertBefore(entry.row, thumbs.children[index] || null);
      keep(outbox.putDraftPhoto(entry.stored));
    });
    undoLine.replaceChildren(text, undo);
    undoLine.hidden = false;
    undoTimer = setTimeout(() => {
      undoLine.hidden = true;
      undoLine.replaceChildren();
      if (entry.url && !photos.includes(entry)) URL.revokeObjectURL(entry.url);
    }, UNDO_MS);
  }

  // --- saving ---------------------------------------------------------------------

  function readValues() {
    const raw = rawValues();
    return {observed_on: raw.observed_on, situation: pyStrip(raw.situation), place: pyStrip(raw.place),
      comment: pyStrip(raw.comment), ratings: raw.ratings};
  }

  function problem(values) {
    if (!values.observed_on) return t('need_date');
    if (!Object.keys(values.ratings).length && !photos.length) return t('need_content');
    return null;
  }

  async function photoRecords(taken, observationId, savedAt) {
    let ready = 0;
    setBusy(t('preparing_photos', {done: 0, n: taken.length}));
    const results = await Promise.all(taken.map((p) => p.ready.then((result) => {
      ready += 1;
      setBusy(t('preparing_photos', {done: ready, n: taken.length}));
      return result;
    })));
    return Promise.all(results.map(async (result) => ({
      id: newId(), observation: observationId, enrolment, blob: result.blob,
      type: result.blob.type || 'image/jpeg', size: result.blob.size, width: result.width,
      height: result.height, sha256: await sha256Hex(result.blob), savedAt, author, state: 'pending',
      error: null})));
  }

  function clearForm() {
    clearTimeout(draftTimer);
    form.reset();
    form.elements.observed_on.value = localToday();
    context = null;
    if (undoLine) undoLine.hidden = true;
    for (const entry of photos) if (entry.url) URL.revokeObjectURL(entry.url);
    photos.length = 0;
    thumbs.replaceChildren();
  }

  async function save() {
    if (saving) return;
    await resume(); // saving while the offer is open keeps the draft's photos too
    errorBox.hidden = true;
    const values = readValues();
    const message = problem(values);
    if (message) {
      showError(message);
      return;
    }
    saving = true;
    saveButton.disabled = true; // never without a line saying what it waits for
    setBusy(t('saving'));
    try {
      const taken = photos.slice(); // as they were at the tap
      const observationId = newId();
      const savedAt = new Date().toISOString();
      // Who captured it: sync.js sends it only under this person's session.
      const records = await photoRecords(taken, observationId, savedAt);
      setBusy(t('saving'));
      const body = {enrolment, kind: 'observation', ...values,
        photos: records.map((r, i) => ({id: r.id, ...photoTarget(taken[i].stored.target)}))};
      await outbox.saveCapture({id: observationId, enrolment, body, savedAt, author, state: 'pending',
        error: null}, records, {draft: draftKey});
      try {
        localStorage.setItem(lastKey, JSON.stringify({situation: values.situation || lastValues().situation || '',
          place: values.place || lastValues().place || ''}));
      } catch { /* private mode: the page's own last values stay */ }
      clearForm();
      mountReuse();
      savedBox.textContent = t('saved', {n: 1 + records.length});
      savedBox.hidden = false;
      savedBox.focus();
      requestPersistence().catch(() => {});
      registerBackgroundSync();
      syncNow();
    } catch (error) {
      showError(t('save_failed', {message: error.message}));
    } finally {
      saving = false;
      saveButton.disabled = false;
      setBusy('');
    }
  }

  for (const input of inputs) {
    input.addEventListener('change', async () => {
      await resume(); // a photo taken before answering the offer joins the draft
      for (const file of Array.from(input.files)) {
        if (photos.length >= maxPhotos) {
          showError(t('too_many_photos', {n: maxPhotos}));
          break;
        }
        addPhoto(file);
      }
      input.value = ''; // the same photo may be chosen again; the files live in `photos`
    });
  }
  form.addEventListener('change', (event) => {
    const radio = event.target;
    if (radio.type !== 'radio' || !radio.name.startsWith(RATING_FIELD) || !radio.value) return;
    if (savedBox) savedBox.hidden = true;
    context = radio.closest('[data-competency]');
    // Photos taken before any rating follow the first criterion rated.
    for (const entry of photos) if (!entry.competency) aimAt(entry, context);
  });
  form.addEventListener('input', async (event) => {
    if (event.target.type === 'file' || event.target.type === 'search') return;
    if (offer) await resume(event.target);
    writeDraftSoon();
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    save();
  });
  await offerDraft().catch(() => {});
  document.body.classList.add('has-savebar');
  const bar = form.querySelector('[data-savebar]');
  if (bar && typeof ResizeObserver === 'function') { // the fixed bar never hides the page's end
    new ResizeObserver(() => {
      document.body.style.paddingBottom = `${bar.offsetHeight + 8}px`;
    }).observe(bar);
  }
  form.dataset.enhanced = 'true';
}
