// The outbox: every observation and photo the tutor saved, kept in IndexedDB
// until the server has confirmed it (docs/api.md, "The sync protocol"). Items leave only
// through deleteObservation/deletePhoto, called by sync.js after a confirming 2xx,
// or by an explicit decision of the tutor. Nothing here expires.
// Drafts: the capture form as it is being filled, each photo written as soon as it
// is taken, so a tab the phone reloads (old iPhones after the camera) loses nothing.

const DB_NAME = 'carnet';
const DB_VERSION = 2; // 2: drafts
const OBSERVATIONS = 'observations';
const PHOTOS = 'photos';
const META = 'meta';
const DRAFTS = 'drafts';
const DRAFT_PHOTOS = 'draftPhotos';
const CHANNEL = 'carnet-outbox';

let opening = null;
const channel = 'BroadcastChannel' in self ? new BroadcastChannel(CHANNEL) : null;

/** Open (and create at first use) the database; one connection per page. */
export function openOutbox() {
  if (!opening) {
    opening = new Promise((resolve, reject) => {
      const request = indexedDB.open(DB_NAME, DB_VERSION);
      request.onupgradeneeded = () => createStores(request.result);
      request.onsuccess = () => {
        const db = request.result;
        // A newer release in another tab upgrades the schema: let it.
        db.onversionchange = () => { db.close(); opening = null; };
        resolve(db);
      };
      request.onerror = () => { opening = null; reject(request.error); };
    });
  }
  return opening;
}

function createStores(db) {
  if (!db.objectStoreNames.contains(OBSERVATIONS)) {
    db.createObjectStore(OBSERVATIONS, {keyPath: 'id'});
  }
  if (!db.objectStoreNames.contains(PHOTOS)) {
    db.createObjectStore(PHOTOS, {keyPath: 'id'}).createIndex('observation', 'observation');
  }
  if (!db.objectStoreNames.contains(META)) db.createObjectStore(META, {keyPath: 'key'});
  if (!db.objectStoreNames.contains(DRAFTS)) db.createObjectStore(DRAFTS, {keyPath: 'key'});
  if (!db.objectStoreNames.contains(DRAFT_PHOTOS)) {
    db.createObjectStore(DRAFT_PHOTOS, {keyPath: 'id'}).createIndex('draft', 'draft');
  }
}

/** Promise of one IndexedDB request. */
function done(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

/** Run `work(tx)` in one transaction; resolve once it is committed. Writes ask
 *  for strict durability: the tutor is told "saved" only when it is on disk. */
async function transact(stores, mode, work) {
  const db = await openOutbox();
  const options = mode === 'readwrite' ? {durability: 'strict'} : undefined;
  const tx = db.transaction(stores, mode, options);
  const committed = new Promise((resolve, reject) => {
    tx.oncomplete = resolve;
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new DOMException('Transaction abandonnée', 'AbortError'));
  });
  let result;
  try {
    result = await work(tx);
  } catch (error) {
    try { tx.abort(); } catch { /* already finished */ }
    throw error;
  }
  await committed;
  return result;
}

/** Tell this page and the other tabs that the outbox changed. */
export function notify(detail = {}) {
  self.dispatchEvent(new CustomEvent('carnet:outbox', {detail}));
  channel?.postMessage({type: 'changed', ...detail});
}

/** Listen to changes made here or in another tab. */
export function onChange(listener) {
  self.addEventListener('carnet:outbox', listener);
  channel?.addEventListener('message', listener);
}

/** Store an observation and its photos together, before anything is sent.
 *  `add` (not `put`): an existing UUID is an error, never an overwrite. The draft
 *  it came from goes in the same transaction: saved once, never twice. */
export async function saveCapture(observation, photos, {draft = null} = {}) {
  const stores = [OBSERVATIONS, PHOTOS, ...(draft ? [DRAFTS, DRAFT_PHOTOS] : [])];
  await transact(stores, 'readwrite', async (tx) => {
    const adds = [done(tx.objectStore(OBSERVATIONS).add(observation))];
    for (const photo of photos) adds.push(done(tx.objectStore(PHOTOS).add(photo)));
    if (draft) adds.push(removeDraft(tx, draft));
    await Promise.all(adds);
  });
  notify({saved: observation.id});
}

export async function listObservations() {
  const items = await transact([OBSERVATIONS], 'readonly',
    (tx) => done(tx.objectStore(OBSERVATIONS).getAll()));
  return items.sort((a, b) => (a.savedAt < b.savedAt ? -1 : a.savedAt > b.savedAt ? 1 : 0));
}

export function listPhotos() {
  return transact([PHOTOS], 'readonly', (tx) => done(tx.objectStore(PHOTOS).getAll()));
}

export function photosOf(observationId) {
  return transact([PHOTOS], 'readonly',
    (tx) => done(tx.objectStore(PHOTOS).index('observation').getAll(observationId)));
}

export function getObservation(id) {
  return transact([OBSERVATIONS], 'readonly', (tx) => done(tx.objectStore(OBSERVATIONS).get(id)));
}

/** Merge `changes` into a stored record (state, error, attempts…). */
async function update(store, id, changes) {
  await transact([store], 'readwrite', async (tx) => {
    const record = await done(tx.objectStore(store).get(id));
    if (record) await done(tx.objectStore(store).put({...record, ...changes}));
  });
  notify({updated: id});
}

export const updateObservation = (id, changes) => update(OBSERVATIONS, id, changes);
export const updatePhoto = (id, changes) => update(PHOTOS, id, changes);

export async function deletePhoto(id) {
  await transact([PHOTOS], 'readwrite', (tx) => done(tx.objectStore(PHOTOS).delete(id)));
  notify({deleted: id});
}

/** Remove an observation: once confirmed (its photos still here are refused
 *  ones, and stay listed), or on the tutor's decision `withPhotos`. */
export async function deleteObservation(id, {withPhotos = false} = {}) {
  await transact([OBSERVATIONS, PHOTOS], 'readwrite', async (tx) => {
    if (withPhotos) {
      const keys = await done(tx.objectStore(PHOTOS).index('observation').getAllKeys(id));
      await Promise.all(keys.map((key) => done(tx.objectStore(PHOTOS).delete(key))));
    }
    await done(tx.objectStore(OBSERVATIONS).delete(id));
  });
  notify({deleted: id});
}

/** Replace an observation by another record (a correction gets a new UUID);
 *  its photos still waiting follow it. */
export async function replaceObservation(oldId, record) {
  await transact([OBSERVATIONS, PHOTOS], 'readwrite', async (tx) => {
    const photos = await done(tx.objectStore(PHOTOS).index('observation').getAll(oldId));
    await done(tx.objectStore(OBSERVATIONS).add(record));
    await Promise.all(photos.map((p) => done(tx.objectStore(PHOTOS).put({...p, observation: record.id}))));
    await done(tx.objectStore(OBSERVATIONS).delete(oldId));
  });
  notify({replaced: oldId});
}

/** Counted as the interface says: 1 per observation + 1 per photo not yet confirmed. */
export async function pendingCount() {
  return transact([OBSERVATIONS, PHOTOS], 'readonly', async (tx) => {
    const [observations, photos] = await Promise.all([
      done(tx.objectStore(OBSERVATIONS).count()), done(tx.objectStore(PHOTOS).count())]);
    return {observations, photos, total: observations + photos};
  });
}

export async function getMeta(key) {
  const row = await transact([META], 'readonly', (tx) => done(tx.objectStore(META).get(key)));
  return row ? row.value : undefined;
}

export async function setMeta(key, value) {
  await transact([META], 'readwrite', (tx) => done(tx.objectStore(META).put({key, value})));
}

/** Add imported records that are not here yet; returns how many were added. */
export async function importRecords(observations, photos) {
  const added = {observations: 0, photos: 0, skipped: 0};
  await transact([OBSERVATIONS, PHOTOS], 'readwrite', async (tx) => {
    for (const [store, records, name] of [[OBSERVATIONS, observations, 'observations'],
      [PHOTOS, photos, 'photos']]) {
      for (const record of records) {
        const known = await done(tx.objectStore(store).count(record.id));
        if (known === 0) {
          await done(tx.objectStore(store).add(record));
          added[name] += 1;
        } else {
          added.skipped += 1;
        }
      }
    }
  });
  notify({imported: true});
  return added;
}

// --- drafts ---------------------------------------------------------------------------

async function removeDraft(tx, key) {
  const keys = await done(tx.objectStore(DRAFT_PHOTOS).index('draft').getAllKeys(key));
  await Promise.all(keys.map((k) => done(tx.objectStore(DRAFT_PHOTOS).delete(k))));
  await done(tx.objectStore(DRAFTS).delete(key));
}

/** {draft, photos} kept under `key`, or null. */
export async function getDraft(key) {
  return transact([DRAFTS, DRAFT_PHOTOS], 'readonly', async (tx) => {
    const [draft, photos] = await Promise.all([done(tx.objectStore(DRAFTS).get(key)),
      done(tx.objectStore(DRAFT_PHOTOS).index('draft').getAll(key))]);
    if (!draft && !photos.length) return null;
    return {draft: draft || {key, values: null}, photos: photos.sort((a, b) => a.order - b.order)};
  });
}

export function putDraft(draft) {
  return transact([DRAFTS], 'readwrite', (tx) => done(tx.objectStore(DRAFTS).put(draft)));
}

export function putDraftPhoto(photo) {
  return transact([DRAFT_PHOTOS], 'readwrite', (tx) => done(tx.objectStore(DRAFT_PHOTOS).put(photo)));
}

export function deleteDraftPhoto(id) {
  return transact([DRAFT_PHOTOS], 'readwrite', (tx) => done(tx.objectStore(DRAFT_PHOTOS).delete(id)));
}

export function deleteDraft(key) {
  return transact([DRAFTS, DRAFT_PHOTOS], 'readwrite', (tx) => removeDraft(tx, key));
}

/** Can this browser keep a Blob in IndexedDB (old Safari could not)? */
export async function canStoreBlobs() {
  const probe = new Blob(['carnet'], {type: 'text/plain'});
  await transact([META], 'readwrite', (tx) => done(tx.objectStore(META).put({key: 'blobProbe', value: probe})));
  const row = await transact([META], 'readonly', (tx) => done(tx.objectStore(META).get('blobProbe')));
  return Boolean(row && row.value instanceof Blob && (await row.value.text()) === 'carnet');
}
