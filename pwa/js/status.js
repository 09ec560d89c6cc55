// What the tutor sees of the outbox: the pending count, each photo's upload
// progress, the last confirmed send, stuck items with their reason, conflicts
// with both versions, and the storage health panel with export and import.

import * as outbox from './outbox.js';
import {dropMine, events, keepMine, retryItem, state, syncNow} from './sync.js';
import {sha256Hex} from './images.js';
import {currentPerson, sameAuthor} from './identity.js';
import {installed, isIOS} from './features.js';
import {t} from './strings.js';

const EXPORT_FORMAT = 'carnet-outbox/1';
const DAY_MS = 24 * 60 * 60 * 1000;
const NEAR_QUOTA = 0.8;

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === 'onclick') node.addEventListener('click', value);
    else if (value !== undefined && value !== null && value !== false) node.setAttribute(name, value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) node.append(child);
  }
  return node;
}

function pendingText(count) {
  if (count.total === 0) return t('all_sent');
  return t('pending', {total: count.total, observations: count.observations,
    os: count.observations > 1 ? 's' : '', photos: count.photos, ps: count.photos > 1 ? 's' : ''});
}

/** Items are the current person's, or waiting for someone else (shared phone).
 *  Items without an author (an earlier release) count as the current person's:
 *  the next sync adopts them. */
function split(observations, photos) {
  const me = currentPerson();
  const mine = (record) => !record.author || !me || sameAuthor(record, me);
  const others = new Map(); // author id → {name, n}
  for (const record of [...observations, ...photos]) {
    if (mine(record)) continue;
    const entry = others.get(record.author.id) || {name: record.author.name, n: 0};
    entry.n += 1;
    others.set(record.author.id, entry);
  }
  const myObservations = observations.filter(mine);
  const myPhotos = photos.filter(mine);
  return {mine, others: [...others.values()], count: {observations: myObservations.length,
    photos: myPhotos.length, total: myObservations.length + myPhotos.length}};
}

function formatTime(iso) {
  const at = new Date(iso);
  return at.toLocaleString('fr-FR', {day: '2-digit', month: '2-digit', hour: '2-digit', minute: '2-digit'});
}

function phaseText() {
  switch (state.phase) {
    case 'offline': return t('offline');
    case 'sending': return t('sending');
    case 'waiting': {
      const seconds = state.nextRetryAt ? Math.max(1, Math.round((state.nextRetryAt - Date.now()) / 1000)) : null;
      return seconds ? t('retry_in', {seconds}) : t('retry_soon');
    }
    default: return '';
  }
}

/** Fill one [data-status] panel and keep it current. */
export function mountStatus(root) {
  root.hidden = false;
  const parts = {
    pending: root.querySelector('[data-pending]'),
    auth: root.querySelector('[data-auth]'),
    login: root.querySelector('[data-login]'),
    last: root.querySelector('[data-last-sync]'),
    uploads: root.querySelector('[data-uploads]'),
    problems: root.querySelector('[data-problems]'),
  };
  const next = encodeURIComponent(location.pathname + location.search);
  if (parts.login) parts.login.href = `/login?next=${next}`;
  const bars = new Map(); // photo id → <li> with its <progress>

  async function refresh() {
    const [lastSyncAt, observations, photos] = await Promise.all([
      outbox.getMeta('lastSyncAt'), outbox.listObservations(), outbox.listPhotos()]);
    const {mine, others, count} = split(observations, photos);
    parts.pending.textContent = pendingText(count);
    showOthers(others);
    parts.pending.dataset.count = String(count.total);
    root.dataset.pendingTotal = String(count.total);
    parts.auth.hidden = state.phase !== 'auth';
    const phase = phaseText();
    parts.last.textContent = [phase, lastSyncAt ? t('last_sync', {time: formatTime(lastSyncAt)})
      : t('never_synced')].filter(Boolean).join(' ');
    renderProblems(parts.problems, observations, photos, mine);
    phoneOnly(phoneBox, [...observations, ...photos]);
  }

  const othersBox = element('div', {class: 'others', 'data-others': ''});
  othersBox.hidden = true;
  parts.pending.after(othersBox);
  const phoneBox = element('div', {'data-phone-only': ''});
  phoneBox.hidden = true;
  othersBox.after(phoneBox);
  firstRun(phoneBox).catch(() => {});
  function showOthers(others) {
    othersBox.hidden = !others.length;
    othersBox.replaceChildren(...others.map((o) => element('p', {class: 'alert', 'data-others-count': String(o.n)},
      t('others_pending', {n: o.n, name: o.name || t('someone')}))),
    others.length ? element('p', {class: 'muted small'}, t('others_pending_help')) : '');
  }

  function showUpload(detail) {
    let row = bars.get(detail.id);
    if (detail.done) {
      if (row) row.remove();
      bars.delete(detail.id);
      return;
    }
    if (!row) {
      row = element('li', {}, element('span', {}, t('upload_photo')), ' ',
        element('progress', {max: '100', value: '0'}), ' ', element('span', {class: 'percent'}));
      bars.set(detail.id, row);
      parts.uploads.append(row);
    }
    const percent = detail.total ? Math.min(100, Math.round((100 * detail.loaded) / detail.total)) : 0;
    row.querySelector('progress').value = percent;
    row.querySelector('.percent').textContent = `${percent} %`;
    row.querySelector('span').textContent = t('upload_photo_size', {kb: Math.round((detail.total || 0) / 1000)});
  }

  let scheduled = false;
  function soon() { // coalesce bursts of changes into one redraw
    if (scheduled) return;
    scheduled = true;
    setTimeout(() => { scheduled = false; refresh().catch(() => {}); }, 50);
  }

  outbox.onChange(soon);
  events.addEventListener('state', soon);
  events.addEventListener('confirmed', soon);
  events.addEventListener('upload', (event) => showUpload(event.detail));
  setInterval(() => { if (state.phase === 'waiting') soon(); }, 1000);
  root.querySelector('[data-sync-now]')?.addEventListener('click', () => syncNow());
  mountStorage(root);
  refresh().catch(() => {});
}

// --- stuck items and conflicts -------------------------------------------------------

function summary(version) {
  const ratings = Object.entries(version.ratings || {});
  return element('dl', {class: 'version'},
    element('dt', {}, t('field_date')), element('dd', {}, version.observed_on || '—'),
    element('dt', {}, t('field_situation')), element('dd', {}, version.situation || '—'),
    element('dt', {}, t('field_place')), element('dd', {}, version.place || '—'),
    element('dt', {}, t('field_criteria')), element('dd', {}, ratings.length
      ? ratings.map(([code, value]) => `${code} ${t(`rating_${value}`)}`).join(', ') : t('none')),
    element('dt', {}, t('field_photos')), element('dd', {}, String((version.photos || []).length)),
    element('dt', {}, t('field_comment')), element('dd', {}, version.comment || '—'));
}

function notYours(record) {
  return element('p', {class: 'muted small', 'data-not-yours': record.id},
    t('not_yours', {name: (record.author && record.author.name) || t('someone')}));
}

function conflictCard(item, mine) {
  return element('li', {class: 'conflict', 'data-conflict': item.id},
    element('p', {class: 'alert'}, t('conflict_intro')),
    element('div', {class: 'versions'},
      element('section', {'data-version': 'mine'}, element('h4', {}, t('version_mine')),
        summary(item.body)),
      element('section', {'data-version': 'stored'}, element('h4', {}, t('version_stored')),
        item.stored ? summary(item.stored) : element('p', {}, t('unavailable')))),
    mine ? element('p', {class: 'actions'},
      element('button', {type: 'button', 'data-keep': item.id, onclick: () => keepMine(item.id)},
        t('keep_mine')),
      element('button', {type: 'button', class: 'secondary', 'data-drop': item.id,
        onclick: () => dropMine(item.id)}, t('drop_mine'))) : notYours(item),
    mine ? element('p', {class: 'muted small'}, t('keep_mine_help')) : null);
}

function stuckCard(kind, record, mine) {
  const what = kind === 'photo' ? t('stuck_photo')
    : t('stuck_observation', {date: record.body.observed_on, situation: record.body.situation});
  return element('li', {class: 'stuck', 'data-stuck': record.id},
    element('p', {}, element('strong', {}, what), ' : ',
      (record.error && record.error.message) || t('refused')),
    mine ? element('p', {class: 'actions'},
      element('button', {type: 'button', class: 'secondary', onclick: () => retryItem(kind, record.id)},
        t('retry'))) : notYours(record));
}

function renderProblems(container, observations, photos, mine) {
  const conflicts = observations.filter((o) => o.state === 'conflict');
  const stuck = [...observations.filter((o) => o.state === 'stuck').map((o) => stuckCard('observation', o, mine(o))),
    ...photos.filter((p) => p.state === 'stuck').map((p) => stuckCard('photo', p, mine(p)))];
  container.replaceChildren();
  if (conflicts.length) {
    container.append(element('h3', {}, t('conflicts_title')),
      element('ul', {class: 'problems'}, conflicts.map((c) => conflictCard(c, mine(c)))));
  }
  if (stuck.length) {
    container.append(element('h3', {}, t('stuck_title')),
      element('ul', {class: 'problems'}, stuck),
      element('p', {class: 'muted small'}, t('stuck_help')));
  }
}

// --- storage health, export, import --------------------------------------------------

function megabytes(bytes) {
  return t('megabytes', {value: (bytes / 1e6).toLocaleString('fr-FR', {maximumFractionDigits: 1})});
}

/** The real rules of this platform: on iOS, persist() says nothing about
 *  Safari's 7-day deletion, so the panel says what applies instead. */
async function describeStorage(root) {
  const usage = root.querySelector('[data-storage]');
  const persist = root.querySelector('[data-persist]');
  let quota = root.querySelector('[data-quota]');
  if (!quota) {
    quota = element('p', {class: 'level-danger', 'data-quota': '', role: 'alert'});
    quota.hidden = true;
    root.querySelector('[data-pending]').after(quota);
  }
  const persisted = navigator.storage && navigator.storage.persisted ? await navigator.storage.persisted() : false;
  if (isIOS()) persist.textContent = installed() ? t('rules_ios_app') : t('rules_ios_tab');
  else persist.textContent = persisted ? t('persisted') : t('not_persisted');
  persist.dataset.persisted = String(persisted);
  if (!navigator.storage || !navigator.storage.estimate) {
    usage.textContent = t('no_estimate');
    return;
  }
  const estimate = await navigator.storage.estimate();
  usage.textContent = t('usage', {usage: megabytes(estimate.usage || 0), quota: megabytes(estimate.quota || 0)});
  const share = estimate.quota ? (estimate.usage || 0) / estimate.quota : 0;
  quota.hidden = share < NEAR_QUOTA;
  quota.textContent = t('near_quota', {percent: Math.round(share * 100)});
}

// --- iPhone: evidence kept only in a Safari tab -------------------------------------

/** « N éléments uniquement sur ce téléphone depuis <date> », in a non-installed
 *  iOS tab: plain at first, louder after 3 days, loudest at 7 (Safari's limit). */
function phoneOnly(box, records) {
  if (!isIOS() || installed() || !records.length) {
    box.hidden = true;
    return;
  }
  const oldest = records.map((r) => r.savedAt).filter(Boolean).sort()[0];
  const since = oldest ? new Date(oldest) : new Date();
  const days = Math.max(0, Math.floor((Date.now() - since.getTime()) / DAY_MS));
  const level = days >= 7 ? 'danger' : days >= 3 ? 'warn' : 'info';
  const date = since.toLocaleDateString('fr-FR', {day: 'numeric', month: 'long'});
  const lines = [t('phone_only', {n: records.length, date}) + (days ? t('phone_only_days', {n: days}) : '')];
  if (level === 'warn') lines.push(t('ios_phone_only_warn'));
  if (level === 'danger') lines.push(t('ios_phone_only_danger'));
  lines.push(t('ios_why_install'), t('ios_how_install'));
  box.className = `level-${level}`;
  box.dataset.level = level;
  box.dataset.days = String(days);
  if (level === 'danger') box.setAttribute('role', 'alert');
  else box.removeAttribute('role');
  box.replaceChildren(...lines.map((line, i) => element('p', i ? {class: 'small'} : {}, line)));
  box.hidden = false;
}

/** The installed app's first run: its storage is not the tab's. Ask the tutor to
 *  open the Safari tab once more so its outbox is sent, never left behind. */
async function firstRun(anchor) {
  if (!isIOS() || !installed() || (await outbox.getMeta('appFirstRunDone'))) return;
  const box = element('div', {class: 'level-warn', 'data-first-run': '', role: 'alert'},
    element('p', {}, t('first_run')),
    element('p', {}, element('button', {type: 'button', class: 'secondary', onclick: async () => {
      await outbox.setMeta('appFirstRunDone', new Date().toISOString());
      box.remove();
    }}, t('first_run_done'))));
  anchor.before(box);
}

/** Ask the browser to keep our data (called after a save: a user gesture). */
export async function requestPersistence() {
  if (!navigator.storage || !navigator.storage.persist) return false;
  const granted = await navigator.storage.persist();
  await outbox.setMeta('persistAnswer', granted);
  for (const root of document.querySelectorAll('[data-status]')) describeStorage(root).catch(() => {});
  return granted;
}

function blobToBase64(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(',', 2)[1] || '');
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

function base64ToBlob(data, type) {
  const binary = atob(data);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return new Blob([bytes], {type});
}

/** One JSON file with every unsent observation and photo (photos in base64),
 *  handed to the share sheet where the browser can share files (an installed iOS
 *  web app ignores <a download>), downloaded otherwise. */
export async function exportUnsent() {
  const observations = await outbox.listObservations();
  const photos = await Promise.all((await outbox.listPhotos()).map(async ({blob, ...rest}) => (
    {...rest, data: await blobToBase64(blob)})));
  const content = {format: EXPORT_FORMAT, exported_at: new Date().toISOString(), observations, photos};
  const name = `carnet-non-envoyes-${new Date().toISOString().slice(0, 10)}.json`;
  const blob = new Blob([JSON.stringify(content)], {type: 'application/json'});
  const counts = {observations: observations.length, photos: photos.length};
  const file = typeof File === 'function' ? new File([blob], name, {type: 'application/json'}) : null;
  if (file && navigator.canShare && navigator.share && navigator.canShare({files: [file]})) {
    try {
      await navigator.share({files: [file], title: t('export_title')});
      return {...counts, via: 'share'};
    } catch (error) {
      if (error && error.name === 'AbortError') return {...counts, via: 'cancelled'};
      // NotAllowedError (the gesture expired) and others: download instead.
    }
  }
  const url = URL.createObjectURL(blob);
  const link = element('a', {href: url, download: name});
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
  return {...counts, via: 'download'};
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Read an exported file back into the outbox. Photos whose bytes no longer
 *  match their hash are refused; items already here are left alone. */
export async function importFile(file) {
  const parsed = JSON.parse(await file.text());
  if (!parsed || parsed.format !== EXPORT_FORMAT) throw new Error(t('not_export'));
  const observations = (parsed.observations || []).filter((o) => UUID.test(o.id) && o.body
    && Number.isInteger(o.body.enrolment)).map((o) => ({...o, state: 'pending', error: null}));
  const photos = [];
  for (const {data, ...photo} of parsed.photos || []) {
    if (!UUID.test(photo.id) || typeof data !== 'string') continue;
    const blob = base64ToBlob(data, photo.type || 'image/jpeg');
    if ((await sha256Hex(blob)) !== photo.sha256) continue;
    photos.push({...photo, blob, state: 'pending', error: null});
  }
  return outbox.importRecords(observations, photos);
}

function mountStorage(root) {
  describeStorage(root).catch(() => {});
  root.querySelector('[data-export]')?.addEventListener('click', () => exportUnsent());
  const form = root.querySelector('[data-import]');
  form?.addEventListener('submit', async (event) => {
    event.preventDefault();
    const result = form.querySelector('[data-import-result]');
    const file = form.querySelector('input[type=file]').files[0];
    if (!file) return;
    try {
      const added = await importFile(file);
      result.textContent = t('imported', added) + (added.skipped ? t('imported_skipped', added) : '.');
      form.reset();
      syncNow();
    } catch (error) {
      result.textContent = t('import_failed', {message: error.message});
    }
  });
}
