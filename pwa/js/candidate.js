// The candidate's own photos, from the progress page: one tap on what the photo shows
// (an expected evidence item of a competency) opens the camera or the gallery; each
// photo is downscaled and kept in the outbox BEFORE anything is sent, like the tutor's
// (outbox.js), then sync.js sends the photo and a record citing it for that evidence
// (an observation without ratings: a candidate never rates criteria). Loaded only on
// a page with [data-candidate-photos].

import * as outbox from './outbox.js';
import {downscale, sha256Hex} from './images.js';
import {registerBackgroundSync, syncNow} from './sync.js';
import {currentPerson} from './identity.js';
import {captureBlocker, newId} from './features.js';
import {t} from './strings.js';

function localToday() {
  const now = new Date();
  const pad = (n) => String(n).padStart(2, '0');
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

export async function mountCandidatePhotos(root) {
  if (await captureBlocker(outbox)) return; // stays hidden: nothing could be kept here
  root.hidden = false;
  const enrolment = Number(root.dataset.enrolment);
  const status = root.querySelector('[data-candidate-status]');
  const person = currentPerson();
  const author = person ? {id: person.id, name: person.name} : null;

  async function keep(files, target) {
    const [competency, ...rest] = target.split('|');
    const label = rest.join('|');
    status.textContent = t('candidate_preparing', {n: files.length});
    const observationId = newId();
    const savedAt = new Date().toISOString();
    const records = [];
    for (const file of files) {
      const result = await downscale(file);
      records.push({id: newId(), observation: observationId, enrolment, blob: result.blob,
        type: result.blob.type || 'image/jpeg', size: result.blob.size, width: result.width,
        height: result.height, sha256: await sha256Hex(result.blob), savedAt, author,
        state: 'pending', error: null});
    }
    const body = {enrolment, kind: 'observation', observed_on: localToday(), situation: '',
      place: '', comment: '', ratings: {},
      photos: records.map((r) => ({id: r.id, competency, evidence: label}))};
    await outbox.saveCapture({id: observationId, enrolment, body, savedAt, author,
      state: 'pending', error: null}, records);
    status.textContent = t('candidate_saved', {n: records.length, label});
    registerBackgroundSync();
    syncNow();
  }

  for (const input of root.querySelectorAll('input[type=file][data-target]')) {
    input.addEventListener('change', () => {
      const files = Array.from(input.files);
      input.value = ''; // the same photo may be chosen again
      if (!files.length) return;
      keep(files, input.dataset.target).catch((error) => {
        status.textContent = t('save_failed', {message: error.message});
      });
    });
  }
  root.dataset.enhanced = 'true';
}
