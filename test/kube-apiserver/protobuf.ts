// kubectl's typed clients (`kubectl create namespace|configmap|secret|serviceaccount`) send
// built-in core objects as Kubernetes protobuf: the `k8s\0` envelope around runtime.Unknown
// (https://kubernetes.io/docs/reference/using-api/api-concepts/#protobuf-encoding). This decodes
// that envelope and the few message types those commands send; anything else is a 415.

import { unsupportedMediaType } from './errors.js';
import type { JsonObject, JsonValue } from './schema.js';

type Field = { no: number; wire: number; value: bigint | Buffer };

function varint(buf: Buffer, pos: number): [bigint, number] {
  let result = 0n;
  let shift = 0n;
  for (;;) {
    const byte = buf[pos++];
    if (byte === undefined) throw new Error('truncated varint');
    result |= BigInt(byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return [result, pos];
    shift += 7n;
  }
}

function fields(buf: Buffer): Field[] {
  const out: Field[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const [key, p] = varint(buf, pos);
    pos = p;
    const no = Number(key >> 3n);
    const wire = Number(key & 7n);
    if (wire === 0) {
      const [v, p2] = varint(buf, pos);
      pos = p2;
      out.push({ no, wire, value: v });
    } else if (wire === 2) {
      const [len, p2] = varint(buf, pos);
      const end = p2 + Number(len);
      out.push({ no, wire, value: buf.subarray(p2, end) });
      pos = end;
    } else if (wire === 1) {
      out.push({ no, wire, value: buf.subarray(pos, pos + 8) });
      pos += 8;
    } else if (wire === 5) {
      out.push({ no, wire, value: buf.subarray(pos, pos + 4) });
      pos += 4;
    } else throw new Error(`unsupported wire type ${wire}`);
  }
  return out;
}

const str = (f: Field) => (f.value as Buffer).toString('utf8');

function map(fs: Field[], no: number, bytes = false): JsonObject | undefined {
  const entries = fs.filter((f) => f.no === no);
  if (entries.length === 0) return undefined;
  const out: JsonObject = {};
  for (const e of entries) {
    const kv = fields(e.value as Buffer);
    const k = kv.find((f) => f.no === 1);
    const v = kv.find((f) => f.no === 2);
    out[k ? str(k) : ''] = v ? (bytes ? (v.value as Buffer).toString('base64') : str(v)) : '';
  }
  return out;
}

function objectMeta(buf: Buffer): JsonObject {
  const fs = fields(buf);
  const m: JsonObject = {};
  const s = (no: number, key: string) => {
    const f = fs.find((x) => x.no === no);
    // gogo-protobuf writes empty strings too; JSON omits them.
    if (f && str(f) !== '') m[key] = str(f);
  };
  s(1, 'name');
  s(2, 'generateName');
  s(3, 'namespace');
  s(6, 'resourceVersion');
  const labels = map(fs, 11);
  if (labels) m.labels = labels;
  const annotations = map(fs, 12);
  if (annotations) m.annotations = annotations;
  const finalizers = fs.filter((f) => f.no === 14).map(str);
  if (finalizers.length) m.finalizers = finalizers;
  return m;
}

/** Decodes a protobuf request body into the JSON form of the object. */
export function decodeProtobuf(body: Buffer): JsonObject {
  const magic = Buffer.from([0x6b, 0x38, 0x73, 0x00]);
  if (!body.subarray(0, 4).equals(magic))
    throw unsupportedMediaType('application/vnd.kubernetes.protobuf', false);
  const unknown = fields(body.subarray(4));
  const typeMeta = unknown.find((f) => f.no === 1);
  const raw = unknown.find((f) => f.no === 2);
  const tm = typeMeta ? fields(typeMeta.value as Buffer) : [];
  const apiVersion = tm.find((f) => f.no === 1);
  const kindField = tm.find((f) => f.no === 2);
  const kind = kindField ? str(kindField) : '';
  const fs = raw ? fields(raw.value as Buffer) : [];
  const metaField = fs.find((f) => f.no === 1);
  const obj: JsonObject = {
    apiVersion: apiVersion ? str(apiVersion) : 'v1',
    kind,
    metadata: metaField ? objectMeta(metaField.value as Buffer) : {},
  };
  const set = (key: string, v: JsonValue | undefined) => {
    if (v !== undefined) obj[key] = v;
  };
  const bool = (no: number) => {
    const f = fs.find((x) => x.no === no);
    return f ? f.value === 1n : undefined;
  };
  switch (kind) {
    case 'Namespace':
      break;
    case 'ConfigMap':
      set('data', map(fs, 2));
      set('binaryData', map(fs, 3, true));
      set('immutable', bool(4));
      break;
    case 'Secret': {
      set('data', map(fs, 2, true));
      const type = fs.find((f) => f.no === 3);
      if (type && str(type) !== '') obj.type = str(type);
      set('stringData', map(fs, 4));
      set('immutable', bool(5));
      break;
    }
    case 'ServiceAccount':
      set('automountServiceAccountToken', bool(4));
      break;
    default:
      throw unsupportedMediaType('application/vnd.kubernetes.protobuf', false);
  }
  return obj;
}
