// Builds the scripts publishers embed, ranker/static/beacon.js and widget.js, from their
// sources in ranker/static/src/: bundled, minified, for browsers back to ES2017. The builds
// are committed (the Python package ships them; no Node.js where it runs), and
// tests/test_assets.py builds again into a temporary folder and compares.
//
//   npm run build              # into ranker/static/
//   node scripts/build.mjs DIR # into DIR
import { build } from "esbuild";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const outdir = process.argv[2] || root + "ranker/static";

await build({
  absWorkingDir: root,
  entryPoints: ["ranker/static/src/beacon.js", "ranker/static/src/widget.js"],
  outdir,
  bundle: true,
  minify: true,
  format: "iife",
  target: "es2017",
  legalComments: "none",
  banner: { js: "/* Built from ranker/static/src/ by `npm run build`: edit the source, not this file. */" },
  logLevel: "warning",
});
