// The install hint on the tutor's home page: the browser's own prompt where it
// offers one (beforeinstallprompt, Chromium), otherwise a short instruction.

let deferredPrompt = null;
self.addEventListener('beforeinstallprompt', (event) => {
  event.preventDefault(); // shown from our button instead of the mini-infobar
  deferredPrompt = event;
  self.dispatchEvent(new Event('carnet:installable'));
});

function installed() {
  return matchMedia('(display-mode: standalone)').matches || navigator.standalone === true;
}

export function mountInstallHint(section) {
  if (installed()) return;
  section.hidden = false;
  const button = section.querySelector('[data-install-button]');
  const text = section.querySelector('[data-install-text]');
  function offer() {
    if (!deferredPrompt) return;
    button.hidden = false;
    text.textContent = 'Installez Carnet pour l\'ouvrir en un geste, même sans réseau.';
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
