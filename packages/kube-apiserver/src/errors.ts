// Errors travel as metav1.Status objects with the reasons and message forms of
// k8s.io/apimachinery/pkg/api/errors: https://kubernetes.io/docs/reference/using-api/api-concepts/#response-status-kind

import { type JsonObject, qualifiedKind, qualifiedResource, type ResourceType } from './schema.js';

export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: JsonObject,
  ) {
    super(message);
  }

  toStatus(): JsonObject {
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      ...(this.details ? { details: this.details } : {}),
      code: this.code,
    };
  }
}

function details(r: ResourceType, name: string): JsonObject {
  return { name, ...(r.group ? { group: r.group } : {}), kind: r.plural };
}

/** `deployments.apps "web" not found` (errors.NewNotFound). */
export function notFound(r: ResourceType, name: string): ApiError {
  return new ApiError(404, 'NotFound', `${qualifiedResource(r)} "${name}" not found`, details(r, name));
}

/** A write into a namespace that does not exist: `namespaces "x" not found`. */
export function namespaceNotFound(name: string): ApiError {
  return new ApiError(404, 'NotFound', `namespaces "${name}" not found`, { name, kind: 'namespaces' });
}

export function alreadyExists(r: ResourceType, name: string): ApiError {
  return new ApiError(
    409,
    'AlreadyExists',
    `${qualifiedResource(r)} "${name}" already exists`,
    details(r, name),
  );
}

/** Optimistic-concurrency failure (errors.NewConflict with the registry's message). */
export function conflict(r: ResourceType, name: string): ApiError {
  return new ApiError(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${qualifiedResource(r)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    details(r, name),
  );
}

export interface Cause {
  reason: string;
  message: string;
  field: string;
}

/** 422 Invalid: `Deployment.apps "web" is invalid: <field>: <message>` with one cause per error (errors.NewInvalid). */
export function invalid(r: ResourceType, name: string, causes: Cause[]): ApiError {
  const list = causes.map((c) => `${c.field}: ${c.message}`);
  const summary = list.length === 1 ? list[0] : `[${list.join(', ')}]`;
  return new ApiError(422, 'Invalid', `${qualifiedKind(r)} "${name}" is invalid: ${summary}`, {
    name,
    ...(r.group ? { group: r.group } : {}),
    kind: r.kind,
    causes: causes.map((c) => ({ reason: c.reason, message: c.message, field: c.field })),
  });
}

export function badRequest(message: string): ApiError {
  return new ApiError(400, 'BadRequest', message);
}

export function methodNotAllowed(): ApiError {
  return new ApiError(
    405,
    'MethodNotAllowed',
    'the server does not allow this method on the requested resource',
  );
}

/** 415 with the media types the resource accepts (strategic merge only for built-in kinds). */
export function unsupportedMediaType(contentType: string, strategic: boolean): ApiError {
  const types = [
    'application/json-patch+json',
    'application/merge-patch+json',
    'application/apply-patch+yaml',
  ];
  if (strategic) types.push('application/strategic-merge-patch+json');
  return new ApiError(
    415,
    'UnsupportedMediaType',
    `${contentType} is unsupported: the body of the request was in an unknown format - accepted media types include: ${types.join(', ')}`,
  );
}

export function pathNotFound(): ApiError {
  return new ApiError(404, 'NotFound', 'the server could not find the requested resource');
}

export function gone(message: string): ApiError {
  return new ApiError(410, 'Expired', message);
}
