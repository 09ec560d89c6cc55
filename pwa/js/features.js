// What the enhanced capture needs from the browser, detected once at start, with
// the fallbacks that keep older phones working (docs/pwa.md, supported browsers).

/** A random (v4) UUID: crypto.randomUUID where it exists (iOS ≥ 15.4), else
 *  built from crypto.getRandomValues (iOS ≥ 11). */
export function newId() {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
  bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Why the enhanced capture cannot run here (a key of strings.js), or null.
 *  Missing Web Locks and OffscreenCanvas only cost a fallback (sync.js, images.js). */
export async function captureBlocker(outbox) {
  if (typeof crypto === 'undefined' || typeof crypto.getRandomValues !== 'function') return 'no_random';
  if (!crypto.subtle || typeof crypto.subtle.digest !== 'function') return 'no_digest';
  if (typeof indexedDB === 'undefined' || !indexedDB) return 'no_indexeddb';
  try {
    await outbox.openOutbox();
  } catch {
    return 'no_indexeddb';
  }
  try {
    if (!(await outbox.canStoreBlobs())) return 'no_blob_storage';
  } catch {
    return 'no_blob_storage';
  }
  return null;
}


/** An iPhone or iPad (iPadOS says "Macintosh" but has a touch screen). Every iOS
 *  browser is WebKit, with Safari's storage rules. */
export function isIOS() {
  return /iPad|iPhone|iPod/.test(navigator.userAgent)
    || (/Macintosh/.test(navigator.userAgent) && navigator.maxTouchPoints > 1);
}

/** Running as the installed app (Home Screen), not in a browser tab. */
export function installed() {
  return navigator.standalone === true
    || (typeof matchMedia === 'function' && matchMedia('(display-mode: standalone)').matches);
}
