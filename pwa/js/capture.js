// Enhances the server-rendered capture form: the browser names the observation
// and its photos (UUIDs), downscales the photos as soon as they are taken, and
// stores everything in the outbox BEFORE anything is sent. One tap on
// « Enregistrer » works the same with or without network; sync.js sends later.
// Until then the form is a draft in IndexedDB: each photo is written there as
// soon as it is taken, so a tab the phone reloads loses nothing, and reopening
// the page offers to resume it. What the browser lacks is checked first: when
// the enhanced flow cannot run, the plain form posts to the server and a line
// says why.

import * as outbox from './outbox.js';
import {downscale, sha256Hex} from './images.js';
import {pyStrip, registerBackgroundSync, syncNow} from './sync.js';
import {requestPersistence} from './status.js';
import {currentPerson} from './identity.js';
import {captureBlocker, newId} from './features.js';
import {t} from './strings.js';

const RATING_FIELD = 'rating-';
const DRAFT_WRITE_DELAY_MS = 400;

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
  const savedBox = document.querySelector('[data-saved]');
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

  if (!document.getElementById('form-errors')) {
    form.elements.observed_on.value = localToday(); // a page cached yesterday says yesterday
  }
  form.elements.observed_on.max = localToday();
  // Each photo gets its own choice below its thumbnail.
  for (const node of [sharedTarget, form.querySelector('label[for=photo_target]')]) {
    if (node) node.hidden = true;
  }

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
    for (const [code, value] of Object.entries(values.ratings || {})) {
      const radio = form.querySelector(`input[name="${RATING_FIELD}${CSS.escape(code)}"][value="${CSS.escape(value)}"]`);
      if (!radio) continue;
      radio.checked = true;
      const block = radio.closest('details');
      if (block) block.open = true;
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

  function addPhoto(file, stored = null) {
    const number = photos.length + 1;
    const row = document.createElement('li');
    row.className = 'thumb';
    const image = document.createElement('img');
    image.alt = t('photo_alt', {n: number});
    const note = document.createElement('span');
    note.className = 'muted';
    note.textContent = t('photo_reducing');
    const select = sharedTarget.cloneNode(true);
    select.id = `photo-target-${newId()}`;
    select.removeAttribute('name');
    select.hidden = false;
    select.value = stored ? stored.target || '' : sharedTarget.value;
    const label = document.createElement('label');
    label.htmlFor = select.id;
    label.textContent = t('photo_target', {n: number});
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.className = 'secondary small';
    remove.textContent = t('photo_remove');
    row.append(image, note, label, select, remove);
    thumbs.append(row);
    const entry = {select, row, url: null, stored: stored || {id: newId(), draft: draftKey,
      blob: file, reduced: false, original: false, width: null, height: null,
      target: select.value, order: Date.now() + number, takenAt: new Date().toISOString()}};
    if (!stored) keep(outbox.putDraftPhoto(entry.stored)); // on disk before any decoding
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
      entry.url = URL.createObjectURL(result.blob);
      image.src = entry.url;
      note.textContent = [result.onPage ? t('photo_on_page') : '', result.original ? t('photo_kept_original')
        : t('photo_size', {width: result.width, height: result.height, kb: Math.round(result.blob.size / 1000)})]
        .filter(Boolean).join(' ');
    });
    select.addEventListener('change', () => draftPhoto(entry, {target: select.value}));
    remove.addEventListener('click', () => {
      photos.splice(photos.indexOf(entry), 1);
      row.remove();
      if (entry.url) URL.revokeObjectURL(entry.url);
      keep(outbox.deleteDraftPhoto(entry.stored.id));
    });
  }

  // --- saving ---------------------------------------------------------------------

  function readValues() {
    const raw = rawValues();
    return {observed_on: raw.observed_on, situation: pyStrip(raw.situation), place: pyStrip(raw.place),
      comment: pyStrip(raw.comment), ratings: raw.ratings};
  }

  function problem(values) {
    if (!values.observed_on) return t('need_date');
    if (!values.situation) return t('need_situation');
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
        photos: records.map((r, i) => ({id: r.id, ...photoTarget(taken[i].select.value)}))};
      await outbox.saveCapture({id: observationId, enrolment, body, savedAt, author, state: 'pending',
        error: null}, records, {draft: draftKey});
      clearForm();
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
  form.addEventListener('input', async (event) => {
    if (event.target.type === 'file') return;
    if (offer) await resume(event.target);
    writeDraftSoon();
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    save();
  });
  await offerDraft().catch(() => {});
  form.dataset.enhanced = 'true';
}
