/** A namespaced CRD `<plural>.<group>` of `kind`, version v1, any spec (x-kubernetes-preserve-unknown-fields). */
export function crdYaml(group: string, kind: string, plural = `${kind.toLowerCase()}s`): string {
  return `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: ${plural}.${group}
spec:
  group: ${group}
  scope: Namespaced
  names:
    kind: ${kind}
    plural: ${plural}
    singular: ${kind.toLowerCase()}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              x-kubernetes-preserve-unknown-fields: true
`;
}
