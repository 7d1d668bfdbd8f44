// kubectl's typed clients (`kubectl create namespace|configmap|secret|serviceaccount|deployment|
// service`) send built-in objects as Kubernetes protobuf: the `k8s\0` envelope around
// runtime.Unknown (https://kubernetes.io/docs/reference/using-api/api-concepts/#protobuf-encoding).
// This decodes the envelope and, through the descriptor tables below, the fields those commands
// send (field numbers from k8s.io/api generated.proto, checked against kubectl 1.32's bodies).
// Other kinds answer 415.

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

/**
 * How a field decodes. gogo-protobuf writes every non-pointer field, zero values included, while
 * JSON omits them (omitempty): `string`, `int`, `bool` and messages drop their zero values;
 * `int?` is a pointer field whose 0 is meaningful (replicas: 0).
 */
type Kind =
  | 'string'
  | 'int'
  | 'int?'
  | 'bool'
  | 'map'
  | 'bytesmap'
  | 'strings'
  | 'intOrString'
  | { message: Desc }
  | { list: Desc };
type Desc = Record<number, [string, Kind]>;

const OBJECT_META: Desc = {
  1: ['name', 'string'],
  2: ['generateName', 'string'],
  3: ['namespace', 'string'],
  11: ['labels', 'map'],
  12: ['annotations', 'map'],
  14: ['finalizers', 'strings'],
};
const LABEL_SELECTOR: Desc = { 1: ['matchLabels', 'map'] };
const CONTAINER: Desc = {
  1: ['name', 'string'],
  2: ['image', 'string'],
  3: ['command', 'strings'],
  4: ['args', 'strings'],
  5: ['workingDir', 'string'],
  6: [
    'ports',
    {
      list: {
        1: ['name', 'string'],
        2: ['hostPort', 'int'],
        3: ['containerPort', 'int'],
        4: ['protocol', 'string'],
      },
    },
  ],
  7: ['env', { list: { 1: ['name', 'string'], 2: ['value', 'string'] } }],
  13: ['terminationMessagePath', 'string'],
  14: ['imagePullPolicy', 'string'],
  20: ['terminationMessagePolicy', 'string'],
};
const POD_SPEC: Desc = {
  2: ['containers', { list: CONTAINER }],
  3: ['restartPolicy', 'string'],
  6: ['dnsPolicy', 'string'],
  8: ['serviceAccountName', 'string'],
};
const POD_TEMPLATE: Desc = { 1: ['metadata', { message: OBJECT_META }], 2: ['spec', { message: POD_SPEC }] };

const ROOTS: Record<string, Desc> = {
  Namespace: {},
  ConfigMap: { 2: ['data', 'map'], 3: ['binaryData', 'bytesmap'], 4: ['immutable', 'bool'] },
  Secret: {
    2: ['data', 'bytesmap'],
    3: ['type', 'string'],
    4: ['stringData', 'map'],
    5: ['immutable', 'bool'],
  },
  ServiceAccount: { 4: ['automountServiceAccountToken', 'bool'] },
  Deployment: {
    2: [
      'spec',
      {
        message: {
          1: ['replicas', 'int?'],
          2: ['selector', { message: LABEL_SELECTOR }],
          3: ['template', { message: POD_TEMPLATE }],
          4: ['strategy', { message: { 1: ['type', 'string'] } }],
          5: ['minReadySeconds', 'int'],
        },
      },
    ],
  },
  Service: {
    2: [
      'spec',
      {
        message: {
          1: [
            'ports',
            {
              list: {
                1: ['name', 'string'],
                2: ['protocol', 'string'],
                3: ['port', 'int'],
                4: ['targetPort', 'intOrString'],
                5: ['nodePort', 'int'],
              },
            },
          ],
          2: ['selector', 'map'],
          3: ['clusterIP', 'string'],
          4: ['type', 'string'],
          7: ['externalName', 'string'],
        },
      },
    ],
  },
};

const str = (f: Field) => (f.value as Buffer).toString('utf8');

function signed(v: bigint): number {
  // int32 negative values are sign-extended to 64 bits.
  return Number(BigInt.asIntN(64, v));
}

function decodeMap(entries: Field[], bytes: boolean): JsonObject {
  const out: JsonObject = {};
  for (const e of entries) {
    const kv = fields(e.value as Buffer);
    const k = kv.find((f) => f.no === 1);
    const v = kv.find((f) => f.no === 2);
    out[k ? str(k) : ''] = v ? (bytes ? (v.value as Buffer).toString('base64') : str(v)) : '';
  }
  return out;
}

function decode(buf: Buffer, desc: Desc): JsonObject {
  const fs = fields(buf);
  const out: JsonObject = {};
  for (const [noText, [name, kind]] of Object.entries(desc)) {
    const no = Number(noText);
    const matching = fs.filter((f) => f.no === no);
    if (matching.length === 0) continue;
    const first = matching[0]!;
    let value: JsonValue | undefined;
    if (kind === 'string') value = str(first) || undefined;
    else if (kind === 'int') value = signed(first.value as bigint) || undefined;
    else if (kind === 'int?') value = signed(first.value as bigint);
    else if (kind === 'bool') value = first.value === 1n ? true : undefined;
    else if (kind === 'map') value = decodeMap(matching, false);
    else if (kind === 'bytesmap') value = decodeMap(matching, true);
    else if (kind === 'strings') value = matching.map(str);
    else if (kind === 'intOrString') {
      const ios = fields(first.value as Buffer);
      const type = ios.find((f) => f.no === 1);
      const intVal = ios.find((f) => f.no === 2);
      const strVal = ios.find((f) => f.no === 3);
      value =
        type && type.value === 1n ? (strVal ? str(strVal) : '') : intVal ? signed(intVal.value as bigint) : 0;
    } else if ('message' in kind) {
      const m = decode(first.value as Buffer, kind.message);
      value = Object.keys(m).length ? m : undefined;
    } else value = matching.map((f) => decode(f.value as Buffer, kind.list));
    if (value !== undefined) out[name] = value;
  }
  return out;
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
  const root = ROOTS[kind];
  if (!root || !raw) throw unsupportedMediaType('application/vnd.kubernetes.protobuf', false);
  const obj = decode(raw.value as Buffer, { 1: ['metadata', { message: OBJECT_META }], ...root });
  return { apiVersion: apiVersion ? str(apiVersion) : 'v1', kind, metadata: {}, ...obj };
}
