// Entry point on every page: registers the service worker, offers updates,
// starts the outbox sync, and enhances what the page contains (status panel,
// capture form, install hint). Without JavaScript every page still works.

import {mountInstallHint} from './install.js';
import {mountStatus} from './status.js';
import {startSync} from './sync.js';
import {pendingCount} from './outbox.js';
import {t} from './strings.js';

let updateAccepted = false;

function offerUpdate(worker) {
  if (document.querySelector('[data-update]')) return;
  const banner = document.createElement('div');
  banner.className = 'update';
  banner.setAttribute('role', 'status');
  banner.dataset.update = '';
  const text = document.createElement('p');
  text.textContent = t('update_available');
  const button = document.createElement('button');
  button.type = 'button';
  button.textContent = t('update_button');
  button.addEventListener('click', () => {
    updateAccepted = true;
    worker.postMessage({type: 'skip-waiting'});
  });
  banner.append(text, button);
  document.body.prepend(banner);
}

/** Pages to keep for offline use: this one when no worker served it yet, and
 *  the links marked data-offline (each candidate's form and progress). */
function askWorkerToKeepPages(registration) {
  const urls = Array.from(document.querySelectorAll('a[data-offline]'), (a) => a.pathname);
  if (!navigator.serviceWorker.controller) urls.unshift(location.pathname + location.search);
  if (urls.length && registration.active) registration.active.postMessage({type: 'keep-pages', urls});
}

async function registerWorker() {
  if (!('serviceWorker' in navigator)) return;
  const registration = await navigator.serviceWorker.register('/sw.js', {scope: '/'});
  if (registration.waiting && navigator.serviceWorker.controller) offerUpdate(registration.waiting);
  registration.addEventListener('updatefound', () => {
    const worker = registration.installing;
    worker?.addEventListener('statechange', () => {
      if (worker.state === 'installed' && navigator.serviceWorker.controller) offerUpdate(worker);
    });
  });
  navigator.serviceWorker.addEventListener('controllerchange', () => {
    // The first install also changes the controller: reload only on request.
    if (updateAccepted) location.reload();
  });
  askWorkerToKeepPages(await navigator.serviceWorker.ready);
}

registerWorker().catch(() => { /* no offline shell; the pages still work online */ });
for (const panel of document.querySelectorAll('[data-status]')) mountStatus(panel);
// The modules run: the line for browsers that cannot run them is not needed,
// unless capture.js finds a reason to show it again.
for (const note of document.querySelectorAll('[data-plain-note]')) note.hidden = true;
const form = document.querySelector('form[data-capture]');
if (form) { // capture-only code is loaded on the capture page only
  import('./capture.js').then(({enhanceCapture, explainPlainForm}) =>
    enhanceCapture(form).catch(() => explainPlainForm('capture_failed'))) // the plain form posts
    .catch(() => {
      const note = document.querySelector('[data-plain-note]');
      if (note) note.hidden = false;
    });
}

/** « Se déconnecter » asks first (base.html's <details>): it says what is still on
 *  this phone, and offline it explains instead of ending on the browser's error page. */
function mountLogout(box) {
  const text = box.querySelector('[data-logout-text]');
  box.addEventListener('toggle', () => {
    if (!box.open) return;
    pendingCount().then((count) => {
      if (count.total) text.textContent = t('logout_pending', {n: count.total});
    }).catch(() => {});
  });
  box.querySelector('form').addEventListener('submit', (event) => {
    if (navigator.onLine === false) {
      event.preventDefault();
      text.textContent = t('logout_offline');
    }
  });
}
for (const box of document.querySelectorAll('[data-logout]')) mountLogout(box);
const candidatePhotos = document.querySelector('[data-candidate-photos]');
if (candidatePhotos) {
  import('./candidate.js').then(({mountCandidatePhotos}) => mountCandidatePhotos(candidatePhotos))
    .catch(() => {});
}
if (document.querySelector('[data-picker-search]')) {
  import('./pickers.js').then(({mountPickers}) => mountPickers()).catch(() => {});
}
const hint = document.querySelector('[data-install]');
if (hint) mountInstallHint(hint);
startSync();
