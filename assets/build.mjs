// Build the web-form bundle into collect/static/webforms/ (run by `collect assets build`).
//
// Output, all served by collect/web/webforms.py:
//   static/page-<hash>.js, chunk-<hash>.js   the page entry, Web Forms and its lazy chunks (ES modules)
//   static/page-<hash>.css                    our own few styles around the form
//   static/fonts/roboto-<hash>.woff2          Web Forms' Roboto, taken out of its JavaScript (below)
//   sw.js                                     the service worker, with the list of files it precaches
//   manifest.json                             what the pages link to, and every file's size
// Every file also gets .gz and .br siblings, so the server sends them compressed without work.
//
// Usage: node build.mjs --outdir ../collect/static/webforms --public-path /webforms/static/
//        [--debug yes]
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { brotliCompress, gzip, constants as zlib } from 'node:zlib';
import * as esbuild from 'esbuild';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, arg, i, all) => {
    if (arg.startsWith('--')) pairs.push([arg.slice(2), all[i + 1]]);
    return pairs;
  }, []),
);
const outdir = args.outdir ?? '../collect/static/webforms';
const publicPath = args['public-path'] ?? '/webforms/static/';
// --debug yes: readable output with source maps, to find a problem in the browser.
const debug = args.debug === 'yes';
const staticDir = join(outdir, 'static');

const common = {
  bundle: true,
  minify: !debug,
  sourcemap: debug ? 'linked' : false,
  format: 'esm',
  target: ['es2022'],
  logLevel: 'warning',
  legalComments: 'eof',
  define: {
    'process.env.NODE_ENV': '"production"',
    // PrimeVue, inside Web Forms, uses Vue's options API.
    __VUE_OPTIONS_API__: 'true',
    __VUE_PROD_DEVTOOLS__: 'false',
    __VUE_PROD_HYDRATION_MISMATCH_DETAILS__: 'false',
  },
};

// Web Forms ships Roboto in 9 scripts x 3 weights as base64 inside its JavaScript (woff2 and woff
// twice over, ~870 KB). Written out as files, a browser downloads only the faces whose
// unicode-range a page uses (latin: ~60 KB), and the woff copies (for browsers without woff2)
// are dropped. If a new release packs its fonts differently, the build fails here rather than
// shipping them inline (the pages' Content-Security-Policy would block data: fonts anyway).
const FONT_FACE = /@font-face\{[^}]*\}/g;
const FONT_SRC = /url\(data:font\/woff2;base64,([A-Za-z0-9+/=]+)\) format\("woff2"\)(?:,url\(data:font\/woff;base64,[A-Za-z0-9+/=]+\) format\("woff"\))?/;
// @fontsource's subsets, known by the first code point range of each face.
const SUBSETS = {
  'U+0000-00FF': 'latin',
  'U+0100-02BA': 'latin-ext',
  'U+0102-0103': 'vietnamese',
  'U+0301': 'cyrillic',
  'U+0460-052F': 'cyrillic-ext',
  'U+0370-0377': 'greek',
  'U+1F00-1FFF': 'greek-ext',
  'U+0302-0303': 'math',
  'U+0001-000C': 'symbols',
};
// The faces a service worker keeps at once: enough for English, French, Spanish, Portuguese.
const PRECACHED_SUBSETS = new Set(['latin', 'latin-ext']);
const fonts = [];

const extractFonts = {
  name: 'extract-web-forms-fonts',
  setup(build) {
    build.onLoad({ filter: /@getodk[\\/]web-forms[\\/]dist[\\/][^\\/]+\.js$/ }, async ({ path }) => {
      const source = await readFile(path, 'utf8');
      const writes = [];
      const contents = source.replace(FONT_FACE, (face) => {
        const src = FONT_SRC.exec(face);
        if (!src) return face;
        const bytes = Buffer.from(src[1], 'base64');
        const weight = /font-weight:(\d+)/.exec(face)?.[1] ?? 'normal';
        const range = /unicode-range:([^,;}]+)/.exec(face)?.[1] ?? '';
        const subset = SUBSETS[range] ?? 'other';
        const hash = createHash('sha256').update(bytes).digest('hex').slice(0, 12);
        const name = `fonts/roboto-${subset}-${weight}-${hash}.woff2`;
        fonts.push({ url: publicPath + name, subset });
        writes.push(writeFile(join(staticDir, name), bytes));
        return face.replace(src[0], `url(${publicPath}${name}) format("woff2")`);
      });
      await Promise.all(writes);
      if (/data:font\//.test(contents)) {
        throw new Error(`${path} still has inline fonts: update extractFonts in assets/build.mjs`);
      }
      return { contents, loader: 'js' };
    });
  },
};

await rm(outdir, { recursive: true, force: true });
await mkdir(join(staticDir, 'fonts'), { recursive: true });

const page = await esbuild.build({
  ...common,
  entryPoints: { page: 'src/page.js' },
  outdir: staticDir,
  splitting: true,
  entryNames: '[name]-[hash]',
  chunkNames: 'chunk-[hash]',
  assetNames: '[name]-[hash]',
  metafile: true,
  plugins: [extractFonts],
});

const outputs = Object.entries(page.metafile.outputs);
const entryOf = (name) => {
  const found = outputs.find(([, out]) => out.entryPoint === `src/${name}.js`);
  if (!found) throw new Error(`no output for src/${name}.js`);
  return found;
};
const [pageJs, pageOut] = entryOf('page');
const asUrl = (file) => publicPath + relative(staticDir, file).split('\\').join('/');
const bundleFiles = [];
for (const file of await walk(staticDir)) bundleFiles.push(asUrl(file));
bundleFiles.sort();
// File names carry content hashes, so the list of names identifies the build.
const version = createHash('sha256').update(bundleFiles.join('\n')).digest('hex').slice(0, 16);
const otherFonts = new Set(fonts.filter((f) => !PRECACHED_SUBSETS.has(f.subset)).map((f) => f.url));
const precache = bundleFiles.filter((url) => !otherFonts.has(url));

// The service worker is built second: it precaches the page bundle (all of it but the fonts of
// other scripts, kept when first used), and its own bytes change with that list, so a browser
// installs a new worker whenever the bundle changes.
await esbuild.build({
  ...common,
  entryPoints: ['src/sw.js'],
  outfile: join(outdir, 'sw.js'),
  format: 'iife',
  define: {
    ...common.define,
    __BUNDLE__: JSON.stringify({ version, files: bundleFiles, precache }),
  },
});

const sizes = {};
for (const file of await walk(outdir)) {
  const bytes = await readFile(file);
  const gz = await promisify(gzip)(bytes, { level: 9 });
  const br = await promisify(brotliCompress)(bytes, {
    params: { [zlib.BROTLI_PARAM_QUALITY]: 11, [zlib.BROTLI_PARAM_SIZE_HINT]: bytes.length },
  });
  // Fonts are compressed already: their .gz and .br would be larger, so there are none.
  if (gz.length < bytes.length * 0.95) await writeFile(`${file}.gz`, gz);
  if (br.length < bytes.length * 0.95) await writeFile(`${file}.br`, br);
  sizes[relative(outdir, file).split('\\').join('/')] = { raw: bytes.length, gzip: gz.length, brotli: br.length };
}

const manifest = {
  version,
  publicPath,
  page: { js: asUrl(pageJs), css: pageOut.cssBundle ? asUrl(pageOut.cssBundle) : null },
  // Loaded by the page at once (statically imported), as opposed to chunks loaded on demand.
  preload: pageOut.imports.filter((i) => i.kind === 'import-statement').map((i) => asUrl(i.path)),
  serviceWorker: 'sw.js',
  sizes,
};
await writeFile(join(outdir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');

const total = (keys, kind) => keys.reduce((sum, key) => sum + sizes[key][kind], 0);
const initial = [pageJs, ...pageOut.imports.filter((i) => i.kind === 'import-statement').map((i) => i.path)]
  .concat(pageOut.cssBundle ? [pageOut.cssBundle] : [])
  .map((file) => relative(outdir, file).split('\\').join('/'));
console.log(
  `Built ${Object.keys(sizes).length} files into ${outdir} (version ${version}); ` +
    `the page loads ${initial.length} at once: ${kb(total(initial, 'raw'))} raw, ` +
    `${kb(total(initial, 'gzip'))} gzip, ${kb(total(initial, 'brotli'))} brotli (fonts aside).`,
);

function kb(n) {
  return `${(n / 1024).toFixed(0)} KiB`;
}

async function walk(dir) {
  const found = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await walk(path)));
    else if (!/\.(gz|br)$/.test(entry.name)) found.push(path);
  }
  return found;
}

