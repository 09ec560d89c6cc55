// Downscales one photo off the main thread (classic worker: no imports, so it
// also runs where module workers do not). Answers {id, blob, width, height} or
// {id, error}; images.js then falls back to the main thread.

const MAX_CANVAS_PIXELS = 16777216; // iOS Safari refuses larger canvases

function fit(width, height, maxSide) {
  let scale = Math.min(1, maxSide / Math.max(width, height));
  scale = Math.min(scale, Math.sqrt(MAX_CANVAS_PIXELS / (width * height)));
  return {width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale))};
}

function makeCanvas(width, height) {
  if (typeof OffscreenCanvas !== 'undefined') return new OffscreenCanvas(width, height);
  throw new Error('OffscreenCanvas absent'); // iOS < 16.4: images.js uses the page
}

async function downscale(blob, maxSide, encodings) {
  // from-image applies the EXIF orientation; the re-encoded JPEG carries no metadata.
  const source = await createImageBitmap(blob, {imageOrientation: 'from-image'});
  const size = fit(source.width, source.height, maxSide);
  const canvas = makeCanvas(size.width, size.height);
  const context = canvas.getContext('2d');
  context.imageSmoothingQuality = 'high';
  context.drawImage(source, 0, 0, size.width, size.height);
  source.close();
  // The first encoding this browser really writes (a type it cannot write comes
  // back as a PNG, which is then refused here).
  for (const [type, quality] of encodings) {
    try {
      const out = await canvas.convertToBlob({type, quality});
      if (out.type === type) return {blob: out, ...size};
    } catch { /* try the next one */ }
  }
  throw new Error('encodage impossible');
}

self.onmessage = async (event) => {
  const {id, blob, maxSide, encodings} = event.data;
  try {
    self.postMessage({id, ...(await downscale(blob, maxSide, encodings))});
  } catch (error) {
    self.postMessage({id, error: String(error && error.message || error)});
  }
};
