// The PWA's modules against the supported browsers (docs/pwa.md). Run from the
// repository root: tools/eslint/node_modules/.bin/eslint -c tools/eslint/eslint.config.js
// (tests/test_pwa_compat.py does, after `npm ci` here).
// - compat/compat: a Web API some supported browser lacks is an error unless the
//   code guards it (typeof X, 'x' in navigator, if (navigator.x)…);
// - ecmaVersion 2020: syntax Safari 14 parses, so older iPhones still load the
//   modules far enough to say why they use the plain form.
import {readFileSync} from 'node:fs';
import compat from 'eslint-plugin-compat';
import globals from 'globals';

const {browserslist} = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));

export default [
  {
    files: ['pwa/**/*.js'],
    ignores: ['pwa/lint/**'],
    plugins: {compat},
    languageOptions: {
      ecmaVersion: 2020,
      sourceType: 'module',
      globals: {...globals.browser, ...globals.worker, ...globals.serviceworker, CARNET: 'readonly'},
    },
    settings: {browsers: browserslist},
    rules: {
      'compat/compat': 'error',
      'no-undef': 'error',
    },
  },
  {
    files: ['pwa/sw.js', 'pwa/js/resize-worker.js'],
    languageOptions: {sourceType: 'script'},
  },
];
