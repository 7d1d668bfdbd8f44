// A shim that `npm run build` replaces in dist/ with one file holding the `yaml` package
// (scripts/bundle-vendor.mjs): as a package it is about 80 CommonJS modules, loaded by every
// command that reads gitops.yaml. Tests and tsx read this file as it is: the package itself.
export {
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  parse,
  parseAllDocuments,
  parseDocument,
} from 'yaml';
