// Photos are downscaled on the phone before they are stored: at most 1600 px on
// the long side, no metadata (no GPS), WebP where this browser's canvas encodes it
// (the blob's type is checked: Safari before 17 and some others quietly return a
// PNG for a type they cannot write: iPhones get JPEG), JPEG otherwise. 1600 px
// shows a weld, a cut or a fixing at 100 % on a laptop. Quality 0.7 is the lowest
// measured setting that keeps the luma SSIM ≥ 0.97 against the original resized to
// the same size on the bench's photo set, in both formats; WebP q0.7 sends 0.39× the
// bytes of the old 2000 px q0.85 JPEG there, JPEG q0.7 0.50× (bench/photo_quality.py,
// bench/README.md). A worker does it where the browser has OffscreenCanvas;
// otherwise a canvas on the page. Canvases never exceed iOS
// Safari's 16.7-megapixel limit. Every step has a time limit: a worker that does
// not answer is dropped for the page, a page that cannot decode keeps the original,
// so a photo is always ready, reduced or not, within a bounded time.

export const MAX_SIDE = 1600;
// [type, quality] tried in order; the first the browser really encodes wins.
export const ENCODINGS = [['image/webp', 0.7], ['image/jpeg', 0.7]];
let encodings = ENCODINGS;
const MAX_CANVAS_PIXELS = 16777216;
// A 12-megapixel photo takes 1–3 s on an old phone. Exported so tests can shorten it.
export const limits = {resizeMs: 12000};

let worker = null;
let workerBroken = false;
let nextId = 1;
const waiting = new Map();

function fit(width, height) {
  let scale = Math.min(1, MAX_SIDE / Math.max(width, height));
  scale = Math.min(scale, Math.sqrt(MAX_CANVAS_PIXELS / (width * height)));
  return {width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale))};
}

function startWorker() {
  if (worker || workerBroken) return worker;
  if (typeof Worker === 'undefined' || typeof OffscreenCanvas === 'undefined') {
    workerBroken = true;
    return null;
  }
  try {
    worker = new Worker(new URL('./resize-worker.js', import.meta.url));
  } catch {
    workerBroken = true;
    return null;
  }
  worker.onmessage = (event) => {
    const pending = waiting.get(event.data.id);
    waiting.delete(event.data.id);
    if (!pending) return;
    if (event.data.error) pending.reject(new Error(event.data.error));
    else pending.resolve(event.data);
  };
  worker.onerror = () => {
    // The worker itself failed to load: everyone waiting goes to the fallback.
    workerBroken = true;
    worker = null;
    for (const pending of waiting.values()) pending.reject(new Error('worker indisponible'));
    waiting.clear();
  };
  return worker;
}

/** The worker is stuck: stop it, send everyone waiting to the page. */
let workerTimedOut = false;
function dropWorker() {
  workerBroken = true;
  workerTimedOut = true;
  if (worker) worker.terminate();
  worker = null;
  for (const pending of waiting.values()) pending.reject(new Error('worker sans réponse'));
  waiting.clear();
}

function inWorker(file) {
  const target = startWorker();
  if (!target) return Promise.reject(new Error('pas de worker'));
  return new Promise((resolve, reject) => {
    const id = nextId++;
    // Photos wait in line in the worker: each one ahead adds to the allowance.
    const timer = setTimeout(dropWorker, limits.resizeMs * (waiting.size + 1));
    waiting.set(id, {resolve: (v) => { clearTimeout(timer); resolve(v); },
      reject: (e) => { clearTimeout(timer); reject(e); }});
    target.postMessage({id, blob: file, maxSide: MAX_SIDE, encodings});
  });
}

/** The worker or the page says which type its canvas really wrote: keep to it. */
function learnt(type) {
  const index = encodings.findIndex(([asked]) => asked === type);
  if (index > 0) encodings = encodings.slice(index);
}

function within(ms, promise) {
  let timer;
  return Promise.race([promise, new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error('délai dépassé')), ms);
  })]).finally(() => clearTimeout(timer));
}

function loadImage(file) {
  // <img> applies the EXIF orientation itself (CSS image-orientation: from-image).
  return new Promise((resolve, reject) => {
    const url = URL.createObjectURL(file);
    const image = new Image();
    image.onload = () => { URL.revokeObjectURL(url); resolve(image); };
    image.onerror = () => { URL.revokeObjectURL(url); reject(new Error('image illisible')); };
    image.src = url;
  });
}

async function onPage(file) {
  let source;
  try {
    source = await createImageBitmap(file, {imageOrientation: 'from-image'});
  } catch {
    source = await loadImage(file);
  }
  const size = fit(source.naturalWidth || source.width, source.naturalHeight || source.height);
  const canvas = document.createElement('canvas');
  canvas.width = size.width;
  canvas.height = size.height;
  const context = canvas.getContext('2d');
  context.imageSmoothingQuality = 'high';
  context.drawImage(source, 0, 0, size.width, size.height);
  if (source.close) source.close();
  let blob = null;
  for (const [type, quality] of encodings) {
    blob = await new Promise((resolve) => canvas.toBlob(resolve, type, quality));
    if (blob && blob.type === type) break;
    blob = null; // another type came back (a PNG): try the next encoding
  }
  canvas.width = canvas.height = 0; // iOS keeps canvas memory until resized
  if (!blob) throw new Error('encodage impossible');
  return {blob, ...size};
}

/** {blob, width, height, original, onPage}: the downscaled JPEG, or, when this
 *  browser cannot decode the file (HEIC on some phones) in time, the original file
 *  untouched: the evidence is kept and the server decides. `onPage` says the
 *  worker did not answer in time and the page did the work. */
export async function downscale(file) {
  // A PDF document (a croquis coté, a PV de réception) is sent as it is: the server
  // checks it and draws its thumbnail.
  if (file.type === 'application/pdf') return {blob: file, width: null, height: null, original: true, onPage: false};
  try {
    const done = await inWorker(file);
    learnt(done.blob.type);
    return {...done, original: false, onPage: false};
  } catch {
    try {
      const done = await within(limits.resizeMs * 2, onPage(file));
      learnt(done.blob.type);
      return {...done, original: false, onPage: workerTimedOut};
    } catch {
      return {blob: file, width: null, height: null, original: true, onPage: false};
    }
  }
}

/** Hex SHA-256 of a blob (the server answers the same for the bytes it received). */
export async function sha256Hex(blob) {
  const digest = await crypto.subtle.digest('SHA-256', await blob.arrayBuffer());
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}
