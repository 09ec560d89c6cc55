// Enhances the server-rendered capture form: the browser names the observation
// and its photos (UUIDs), downscales the photos as soon as they are taken, and
// stores everything in the outbox BEFORE anything is sent. One tap on
// « Enregistrer » works the same with or without network; sync.js sends later.

import * as outbox from './outbox.js';
import {downscale, sha256Hex} from './images.js';
import {pyStrip, registerBackgroundSync, syncNow} from './sync.js';
import {requestPersistence} from './status.js';
import {currentPerson} from './identity.js';
import {newId} from './features.js';
import {t} from './strings.js';

const RATING_FIELD = 'rating-';

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

export async function enhanceCapture(form) {
  // Without IndexedDB (some private modes) the plain form still posts to the server.
  await outbox.openOutbox();
  const enrolment = Number(form.dataset.enrolment);
  const maxPhotos = Number(form.dataset.maxPhotos) || 10;
  const input = form.querySelector('input[type=file]');
  const thumbs = form.querySelector('[data-thumbs]');
  const sharedTarget = form.querySelector('[data-photo-target]');
  const saveButton = form.querySelector('[data-save]');
  const savedBox = document.querySelector('[data-saved]');
  const errorBox = document.createElement('div');
  errorBox.className = 'alert';
  errorBox.setAttribute('role', 'alert');
  errorBox.hidden = true;
  form.before(errorBox);
  const photos = []; // {ready: Promise<{blob,width,height}>, select, row, url}
  let saving = false;

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

  function addPhoto(file) {
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
    select.value = sharedTarget.value;
    const label = document.createElement('label');
    label.htmlFor = select.id;
    label.textContent = t('photo_target', {n: number});
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.className = 'secondary small';
    remove.textContent = t('photo_remove');
    row.append(image, note, label, select, remove);
    thumbs.append(row);
    const entry = {ready: downscale(file), select, row, url: null};
    photos.push(entry);
    entry.ready.then((result) => {
      entry.url = URL.createObjectURL(result.blob);
      image.src = entry.url;
      note.textContent = result.original ? t('photo_kept_original')
        : t('photo_size', {width: result.width, height: result.height, kb: Math.round(result.blob.size / 1000)});
    });
    remove.addEventListener('click', () => {
      photos.splice(photos.indexOf(entry), 1);
      row.remove();
      if (entry.url) URL.revokeObjectURL(entry.url);
    });
  }

  function readValues() {
    const data = new FormData(form);
    const ratings = {};
    for (const [key, value] of data) {
      if (key.startsWith(RATING_FIELD) && value) ratings[key.slice(RATING_FIELD.length)] = value;
    }
    return {observed_on: String(data.get('observed_on') || ''),
      situation: pyStrip(data.get('situation')), place: pyStrip(data.get('place')),
      comment: pyStrip(data.get('comment')), ratings};
  }

  function problem(values) {
    if (!values.observed_on) return t('need_date');
    if (!values.situation) return t('need_situation');
    if (!Object.keys(values.ratings).length && !photos.length) return t('need_content');
    return null;
  }

  async function photoRecords(taken, observationId, savedAt, author) {
    const ready = await Promise.all(taken.map((p) => p.ready));
    return Promise.all(ready.map(async (result) => ({
      id: newId(), observation: observationId, enrolment, blob: result.blob,
      type: result.blob.type || 'image/jpeg', size: result.blob.size, width: result.width,
      height: result.height, sha256: await sha256Hex(result.blob), savedAt, author, state: 'pending',
      error: null})));
  }

  function clearForm() {
    form.reset();
    form.elements.observed_on.value = localToday();
    for (const entry of photos) if (entry.url) URL.revokeObjectURL(entry.url);
    photos.length = 0;
    thumbs.replaceChildren();
  }

  async function save() {
    if (saving) return;
    errorBox.hidden = true;
    const values = readValues();
    const message = problem(values);
    if (message) {
      showError(message);
      return;
    }
    saving = true;
    saveButton.disabled = true;
    try {
      const taken = photos.slice(); // as they were at the tap
      const observationId = newId();
      const savedAt = new Date().toISOString();
      // Who captured it: sync.js sends it only under this person's session.
      const person = currentPerson();
      const author = person ? {id: person.id, name: person.name} : null;
      const records = await photoRecords(taken, observationId, savedAt, author);
      const body = {enrolment, kind: 'observation', ...values,
        photos: records.map((r, i) => ({id: r.id, ...photoTarget(taken[i].select.value)}))};
      await outbox.saveCapture({id: observationId, enrolment, body, savedAt, author, state: 'pending',
        error: null}, records);
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
    }
  }

  input.addEventListener('change', () => {
    for (const file of Array.from(input.files)) {
      if (photos.length >= maxPhotos) {
        showError(t('too_many_photos', {n: maxPhotos}));
        break;
      }
      addPhoto(file);
    }
    input.value = ''; // the same photo may be chosen again; the files live in `photos`
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    save();
  });
  form.dataset.enhanced = 'true';
}
