// A shim that `npm run build` replaces in dist/ with one file holding execa and everything it
// imports (scripts/bundle-vendor.mjs). Loaded as a package, execa is about 140 ES modules, and
// resolving and reading each one was the largest part of a command's start-up. Tests and tsx
// read this file as it is: the package itself.
export { execa } from 'execa';
