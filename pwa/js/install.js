// The install hint on the tutor's home page: the browser's own prompt where it
// offers one (beforeinstallprompt, Chromium), otherwise a short instruction. On
// an iPhone the reason comes first (Safari deletes a tab's data after 7 days
// without a visit; the Home Screen app keeps its own), with a warning: items
// still waiting in the tab are not seen by the installed app, so send them first.

import {installed, isIOS} from './features.js';
import {pendingCount} from './outbox.js';
import {t} from './strings.js';

let deferredPrompt = null;
self.addEventListener('beforeinstallprompt', (event) => {
  event.preventDefault(); // shown from our button instead of the mini-infobar
  deferredPrompt = event;
  self.dispatchEvent(new Event('carnet:installable'));
});

async function explainForIOS(text) {
  const lines = [t('ios_why_install'), t('ios_how_install')];
  const count = await pendingCount().catch(() => ({total: 0}));
  if (count.total) lines.push(t('ios_install_send_first'));
  text.replaceChildren(...lines.map((line) => {
    const p = document.createElement('span');
    p.textContent = `${line} `;
    return p;
  }));
  text.dataset.ios = String(count.total);
}

export function mountInstallHint(section) {
  if (installed()) return;
  section.hidden = false;
  const button = section.querySelector('[data-install-button]');
  const text = section.querySelector('[data-install-text]');
  if (isIOS()) explainForIOS(text);
  function offer() {
    if (!deferredPrompt) return;
    button.hidden = false;
    text.textContent = t('install_prompt');
  }
  button.addEventListener('click', async () => {
    if (!deferredPrompt) return;
    deferredPrompt.prompt();
    const choice = await deferredPrompt.userChoice;
    deferredPrompt = null;
    if (choice.outcome === 'accepted') section.hidden = true;
  });
  self.addEventListener('carnet:installable', offer);
  self.addEventListener('appinstalled', () => { section.hidden = true; });
  offer();
}
