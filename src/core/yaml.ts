// The `yaml` package for the rest of gitops, through the shim the build turns into one bundled
// file (core/vendor/yaml.ts).
export * from './vendor/yaml.js';
