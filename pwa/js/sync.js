// Sends the outbox to the server (docs/api.md, "The sync protocol"): photos first, with
// their Content-Digest, then the observation. An item leaves the outbox only
// after a 2xx whose hash matches ours. One sync at a time across tabs (a Web
// Lock); retries back off with jitter; nothing is ever dropped for age.

import * as outbox from './outbox.js';
import {currentPerson, sameAuthor, sessionPerson} from './identity.js';
import {newId} from './features.js';
import {t} from './strings.js';

export const SYNC_TAG = 'carnet-outbox';
const LOCK_NAME = 'carnet-sync';
const BASE_DELAY_MS = 2000;
const MAX_DELAY_MS = 5 * 60 * 1000;
// 1 bar of 3G can move a few KB/s: a photo upload may take minutes. Its time
// budget comes from its size at a minimum rate; where the browser reports upload
// progress, one that has not moved for a minute is on a dead connection: abort,
// retry later. A browser that reports no progress is judged on the budget only,
// so a slow upload is never cut short by a stall it cannot see.
// Exported so tests can shorten them.
export const limits = {baseMs: 30 * 1000, minBytesPerSecond: 2000, stallMs: 60 * 1000,
  jsonMs: 60 * 1000};
const LEASE_KEY = 'carnet-sync-lease';
const LEASE_MS = 30 * 1000;
const TAB = Math.random().toString(36).slice(2);

// What one request taught us.
const SENT = 'sent';
const STUCK = 'stuck'; // refused for good: kept and shown with its reason
const RETRY = 'retry'; // network or server trouble: try again later
const AUTH = 'auth'; // session gone: keep everything, ask for a login

export const events = new EventTarget();
export const state = {phase: 'idle', nextRetryAt: null};

let failures = 0;
let retryTimer = null;
let running = null;
let again = false;
const inflight = new Set(); // abort functions of the requests under way

function emit(type, detail) {
  events.dispatchEvent(new CustomEvent(type, {detail}));
}

function setState(changes) {
  Object.assign(state, changes);
  emit('state', state);
}

/** Start a sync (or ask the running one to look again). Resolves to true when
 *  nothing retryable is left. */
export function syncNow() {
  if (running) {
    again = true;
    return running;
  }
  running = (async () => {
    try {
      let result;
      do {
        again = false;
        result = await underLock(replay);
      } while (again);
      return result;
    } catch (error) {
      // IndexedDB trouble: keep everything, try again later.
      setState({phase: 'waiting', error: String(error)});
      schedule(backoff(++failures));
      return false;
    } finally {
      running = null;
    }
  })();
  return running;
}

async function underLock(work) {
  if (!navigator.locks) return underLease(work);
  return navigator.locks.request(LOCK_NAME, {ifAvailable: true}, async (lock) => {
    if (lock) return work();
    schedule(BASE_DELAY_MS); // another tab is sending; look again shortly
    return false;
  });
}

/** Without Web Locks (iOS < 15.4): a lease in localStorage, renewed while the
 *  sync runs. Not atomic: two tabs may rarely send together, which the server's
 *  idempotent PUTs (same UUIDs, same bytes) make harmless. */
async function underLease(work) {
  let storage = null;
  try {
    storage = self.localStorage;
  } catch { /* storage disabled: no coordination */ }
  if (!storage) return work();
  const held = parseJson(storage.getItem(LEASE_KEY) || 'null');
  if (held && held.tab !== TAB && held.until > Date.now()) {
    schedule(BASE_DELAY_MS);
    return false;
  }
  const take = () => storage.setItem(LEASE_KEY, JSON.stringify({tab: TAB, until: Date.now() + LEASE_MS}));
  take();
  const renew = setInterval(take, LEASE_MS / 3);
  try {
    return await work();
  } finally {
    clearInterval(renew);
    storage.removeItem(LEASE_KEY);
  }
}

function backoff(attempt) {
  // "Equal jitter": half fixed, half random, so tabs and phones do not retry in step.
  const ceiling = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** Math.min(attempt, 20));
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

function schedule(delay) {
  clearTimeout(retryTimer);
  retryTimer = setTimeout(syncNow, delay);
  setState({nextRetryAt: Date.now() + delay});
}

async function replay() {
  clearTimeout(retryTimer);
  setState({nextRetryAt: null});
  if (navigator.onLine === false) {
    setState({phase: 'offline'});
    return false;
  }
  const all = await outbox.listObservations();
  const ids = new Set(all.map((o) => o.id));
  const allLoose = (await outbox.listPhotos()).filter((p) => !ids.has(p.observation));
  if (!all.length && !allLoose.length) {
    failures = 0;
    setState({phase: 'idle'});
    return true;
  }
  // Whose session is this? Items go only under their author's session.
  let me;
  try {
    me = await sessionPerson();
  } catch {
    schedule(backoff(++failures));
    setState({phase: navigator.onLine === false ? 'offline' : 'waiting'});
    return false;
  }
  if (!me) {
    setState({phase: 'auth'});
    return false;
  }
  await claimUnowned([...all, ...allLoose], me);
  const observations = all.filter((o) => !o.author || sameAuthor(o, me));
  const loose = allLoose.filter((p) => !p.author || sameAuthor(p, me));
  if (!observations.length && !loose.length) {
    failures = 0;
    setState({phase: 'idle'});
    return true; // only other people's items: they wait for their author
  }
  setState({phase: 'sending'});
  const outcome = await sendAll(observations, loose);
  if (outcome === AUTH) {
    setState({phase: 'auth'});
    return false;
  }
  if (outcome === RETRY) {
    schedule(backoff(++failures));
    setState({phase: navigator.onLine === false ? 'offline' : 'waiting'});
    return false;
  }
  failures = 0;
  setState({phase: 'idle'});
  return true;
}

/** Items saved before items had an author (an earlier release, or an import of
 *  such an export) are adopted by the first session that sends them. */
async function claimUnowned(records, me) {
  const author = {id: me.id, name: me.name};
  for (const record of records) {
    if (record.author) continue;
    const update = 'observation' in record && 'blob' in record ? outbox.updatePhoto : outbox.updateObservation;
    await update(record.id, {author});
    record.author = author;
  }
}

async function sendAll(observations, loosePhotos) {
  for (const item of observations) {
    if (item.state === 'conflict' || item.state === 'stuck') continue;
    const outcome = await sendObservation(item);
    if (outcome === AUTH || outcome === RETRY) return outcome;
  }
  for (const photo of loosePhotos) {
    if (photo.state === 'stuck') continue;
    const outcome = await sendPhoto(photo);
    if (outcome === AUTH || outcome === RETRY) return outcome;
  }
  return SENT;
}

async function sendObservation(item) {
  for (const photo of await outbox.photosOf(item.id)) {
    if (photo.state === 'stuck') continue; // the observation goes without it
    if (photo.author && !sameAuthor(photo, item.author)) continue;
    const outcome = await sendPhoto(photo);
    if (outcome === AUTH || outcome === RETRY) return outcome;
  }
  return putObservation(item);
}

function transient(status) {
  return status === 0 || status === 408 || status === 425 || status === 429 || status >= 500;
}

function reason(response) {
  const body = response.body || {};
  return {code: body.code || `http_${response.status}`,
    message: body.message || t('server_refused', {status: response.status}), status: response.status};
}

async function sendPhoto(photo) {
  let response;
  try {
    response = await uploadPhoto(photo);
  } catch {
    return RETRY;
  }
  if (response.status === 401) return AUTH;
  if (response.resumed && response.status === 422 && response.body
      && response.body.code === 'digest_mismatch') {
    // The kept prefix was damaged: the server dropped it; the next try sends it all.
    return RETRY;
  }
  if (response.status >= 200 && response.status < 300) {
    if (response.body && response.body.received_sha256 === photo.sha256) {
      await outbox.deletePhoto(photo.id);
      await confirmed();
      return SENT;
    }
    await outbox.updatePhoto(photo.id, {state: 'stuck', error: {code: 'hash_mismatch',
      message: t('hash_mismatch_photo')}});
    return STUCK;
  }
  if (transient(response.status)) return RETRY;
  await outbox.updatePhoto(photo.id, {state: 'stuck', error: reason(response)});
  return STUCK;
}

async function putObservation(item) {
  let response;
  try {
    response = await putJson(`/api/v1/observations/${item.id}`, item.body);
  } catch {
    return RETRY;
  }
  if (response.status === 401) return AUTH;
  if (response.status >= 200 && response.status < 300) {
    const expected = await contentSha256(item.body);
    if (response.body && response.body.content_sha256 === expected) {
      await outbox.deleteObservation(item.id);
      await confirmed();
      return SENT;
    }
    await outbox.updateObservation(item.id, {state: 'stuck', error: {code: 'hash_mismatch',
      message: t('hash_mismatch_observation')}});
    return STUCK;
  }
  if (response.status === 409 && response.body && response.body.code === 'observation_conflict') {
    const stored = response.body.details ? response.body.details.stored : null;
    await outbox.updateObservation(item.id, {state: 'conflict', stored, error: reason(response)});
    return STUCK;
  }
  if (transient(response.status)) return RETRY;
  await outbox.updateObservation(item.id, {state: 'stuck', error: reason(response)});
  return STUCK;
}

async function confirmed() {
  await outbox.setMeta('lastSyncAt', new Date().toISOString());
  emit('confirmed', {});
}

function hexToBase64(hex) {
  const bytes = hex.match(/../g).map((pair) => parseInt(pair, 16));
  return btoa(String.fromCharCode(...bytes));
}

/** How long an upload of `size` bytes may take at the slowest rate we accept. */
export function uploadBudgetMs(size) {
  return limits.baseMs + (1000 * (size || 0)) / limits.minBytesPerSecond;
}

// --- resumable photo uploads (IETF draft-ietf-httpbis-resumable-upload, interop 7) -----
// The server keeps what arrived of a photo when the connection drops. A photo whose
// upload has begun (this page, or `uploadStarted` on its record after a reload) first
// asks how much arrived (HEAD), then sends only the rest (PATCH). The digest check
// and the idempotency of the one-request PUT are unchanged: the server checks the
// whole photo against the digest declared at creation.
export const INTEROP_VERSION = '7';
const begun = new Set();

function uploadUrl(photo) {
  return `/api/v1/photos/${photo.id}/upload`;
}

/** {offset, complete} the server holds for this photo, or null (nothing kept). */
async function askOffset(photo) {
  const controller = new AbortController();
  const abort = () => controller.abort();
  const timer = setTimeout(abort, limits.jsonMs);
  inflight.add(abort);
  try {
    const response = await fetch(uploadUrl(photo), {method: 'HEAD', credentials: 'same-origin',
      cache: 'no-store', signal: controller.signal,
      headers: {'Upload-Draft-Interop-Version': INTEROP_VERSION}});
    if (response.status === 401) return {auth: true};
    if (response.status !== 204) return null;
    const offset = parseInt(response.headers.get('Upload-Offset'), 10);
    if (!(offset >= 0)) return null;
    return {offset, complete: response.headers.get('Upload-Complete') === '?1'};
  } finally {
    clearTimeout(timer);
    inflight.delete(abort);
  }
}

async function uploadPhoto(photo) {
  const size = photo.size || (photo.blob && photo.blob.size) || 0;
  let offset = null;
  if (begun.has(photo.id) || photo.uploadStarted) {
    const held = await askOffset(photo);
    if (held && held.auth) return {status: 401, body: null};
    if (held && held.offset <= size) offset = held.offset;
  } else {
    begun.add(photo.id);
    await outbox.updatePhoto(photo.id, {uploadStarted: true});
  }
  for (let round = 0; ; round++) {
    const response = offset === null ? await sendBytes(photo, 'PUT', 0, size)
      : await sendBytes(photo, 'PATCH', offset, size);
    const told = response.offset;
    if (response.status === 409 && told !== null && told <= size && round < 2
        && response.body && response.body.code === 'upload_offset_mismatch') {
      offset = told; // the server holds another prefix: continue from it
      continue;
    }
    return {...response, resumed: offset !== null && offset > 0};
  }
}

/** Send the photo's bytes from `offset` with XMLHttpRequest (fetch() has no upload
 *  progress): the creation (PUT, from 0) or an append (PATCH). */
function sendBytes(photo, method, offset, size) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    const abort = () => xhr.abort();
    const started = Date.now();
    const budget = uploadBudgetMs(size - offset);
    let lastMove = null; // set by the first progress event, if the browser sends any
    const watchdog = setInterval(() => {
      const now = Date.now();
      if (now - started > budget) abort();
      else if (lastMove !== null && now - lastMove > limits.stallMs) abort();
    }, Math.min(5000, limits.stallMs / 2));
    const digest = `sha-256=:${hexToBase64(photo.sha256)}:`;
    if (method === 'PUT') {
      xhr.open('PUT', `/api/v1/photos/${photo.id}?enrolment=${encodeURIComponent(photo.enrolment)}`);
      xhr.setRequestHeader('Content-Type', photo.type || 'image/jpeg');
      xhr.setRequestHeader('Content-Digest', digest);
      xhr.setRequestHeader('Repr-Digest', digest);
      xhr.setRequestHeader('Upload-Length', String(size));
    } else {
      xhr.open('PATCH', uploadUrl(photo));
      xhr.setRequestHeader('Content-Type', 'application/partial-upload');
      xhr.setRequestHeader('Upload-Offset', String(offset));
    }
    xhr.setRequestHeader('Upload-Draft-Interop-Version', INTEROP_VERSION);
    xhr.setRequestHeader('Upload-Complete', '?1');
    xhr.timeout = budget;
    xhr.upload.onprogress = (event) => {
      lastMove = Date.now();
      emit('upload', {id: photo.id, loaded: offset + event.loaded, total: size});
    };
    xhr.onload = () => {
      const told = parseInt(xhr.getResponseHeader('Upload-Offset'), 10);
      resolve({status: xhr.status, body: parseJson(xhr.responseText),
        offset: told >= 0 ? told : null});
    };
    xhr.onerror = xhr.ontimeout = xhr.onabort = () => reject(new Error('réseau'));
    xhr.onloadend = () => {
      clearInterval(watchdog);
      inflight.delete(abort);
      emit('upload', {id: photo.id, done: true});
    };
    inflight.add(abort);
    emit('upload', {id: photo.id, loaded: offset, total: size});
    xhr.send(offset ? photo.blob.slice(offset) : photo.blob);
  });
}

async function putJson(url, body) {
  const controller = new AbortController();
  const abort = () => controller.abort();
  const timer = setTimeout(abort, limits.jsonMs);
  inflight.add(abort);
  try {
    const response = await fetch(url, {method: 'PUT', body: JSON.stringify(body),
      headers: {'Content-Type': 'application/json'}, credentials: 'same-origin',
      cache: 'no-store', signal: controller.signal});
    return {status: response.status, body: parseJson(await response.text())};
  } finally {
    clearTimeout(timer);
    inflight.delete(abort);
  }
}

function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

// --- the observation's content hash, computed as the server does -----------------

// Python's str.strip() whitespace (the server strips texts with it).
const PY_SPACE = '[\\t\\n\\x0b\\x0c\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';
const PY_TRIM = new RegExp(`^${PY_SPACE}+|${PY_SPACE}+$`, 'g');

export function pyStrip(text) {
  return String(text || '').replace(PY_TRIM, '');
}

/** The fields that make an observation's identity, normalised like the server's
 *  parse_observation (backend/domain/evidence.py, ObservationInput.content). */
export function observationContent(body) {
  const uuid = (value) => (value ? String(value).toLowerCase() : null);
  return {
    enrolment: body.enrolment, kind: body.kind || 'observation', observed_on: body.observed_on,
    situation: pyStrip(body.situation), place: pyStrip(body.place), comment: pyStrip(body.comment),
    ratings: body.ratings || {},
    photos: (body.photos || []).map((p) => ({id: uuid(p.id), competency: p.competency || null,
      evidence: p.evidence || null})),
    block: body.block || null, supersedes: uuid(body.supersedes),
  };
}

/** JSON with sorted keys and no spaces: Python's json.dumps(sort_keys=True,
 *  separators=(",", ":"), ensure_ascii=False) for the same values. */
function canonical(value) {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export async function contentSha256(body) {
  const bytes = new TextEncoder().encode(canonical(observationContent(body)));
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

// --- the tutor's decisions ---------------------------------------------------------
// Only the author decides about an item: another person logged in on the same
// phone may export it, never send, correct or delete it.

function mustBeMine(record) {
  if (!record) return;
  if (!record.author || !sameAuthor(record, currentPerson())) {
    throw new Error(t('not_yours', {name: (record.author && record.author.name) || t('someone')}));
  }
}

/** « Garder la mienne »: send it again as a correction of the stored one. */
export async function keepMine(id) {
  const item = await outbox.getObservation(id);
  if (!item || item.state !== 'conflict') return;
  mustBeMine(item);
  const storedId = (item.stored && item.stored.id) || id;
  await outbox.replaceObservation(id, {...item, id: newId(),
    body: {...item.body, supersedes: storedId}, state: 'pending', error: null, stored: null,
    correctionOf: id});
  failures = 0;
  return syncNow();
}

/** « Abandonner la mienne »: the stored version stays, this one is removed. */
export async function dropMine(id) {
  mustBeMine(await outbox.getObservation(id));
  await outbox.deleteObservation(id, {withPhotos: true});
}

/** Try a stuck item again (after the cause was fixed on the server). */
export async function retryItem(kind, id) {
  const update = kind === 'photo' ? outbox.updatePhoto : outbox.updateObservation;
  const record = kind === 'photo' ? (await outbox.listPhotos()).find((p) => p.id === id)
    : await outbox.getObservation(id);
  mustBeMine(record);
  await update(id, {state: 'pending', error: null});
  failures = 0;
  return syncNow();
}

// --- triggers ----------------------------------------------------------------------

/** Ask the browser to wake us when the network is back (Chromium only). */
export async function registerBackgroundSync() {
  try {
    const registration = await navigator.serviceWorker.ready;
    if (registration.sync) await registration.sync.register(SYNC_TAG);
  } catch {
    // No Background Sync here (Safari, Firefox): page load, online and
    // visibilitychange still trigger the sync.
  }
}

function onWorkerMessage(event) {
  if (!event.data || event.data.type !== 'sync') return;
  const port = event.ports && event.ports[0];
  syncNow().then((ok) => port && port.postMessage({ok}));
}

export function startSync() {
  self.addEventListener('online', () => {
    failures = 0;
    syncNow();
  });
  self.addEventListener('offline', () => {
    for (const abort of inflight) abort(); // fail fast; the items stay in the outbox
    setState({phase: 'offline'});
  });
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') syncNow();
  });
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.addEventListener('message', onWorkerMessage);
  }
  return syncNow();
}
