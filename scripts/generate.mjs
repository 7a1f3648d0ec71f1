#!/usr/bin/env node
// Generates generated/envoy.json (a protobufjs JSON descriptor) and generated/types.ts (TypeScript types of
// the ProtoJSON shape, proto field names) from the entry files listed in proto/entries.txt.
// The .proto files are read from the pinned @grpc/grpc-js-xds devDependency; none is committed here.
//
//   node scripts/generate.mjs           write generated/
//   node scripts/generate.mjs --check   exit 1 if generated/ differs from a fresh generation
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

const require = createRequire(import.meta.url);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const xdsPackage = dirname(require.resolve('@grpc/grpc-js-xds/package.json'));
const protobufPackage = dirname(require.resolve('protobufjs/package.json'));
const includeDirs = [
  join(xdsPackage, 'deps', 'envoy-api'),
  join(xdsPackage, 'deps', 'xds'),
  join(xdsPackage, 'deps', 'googleapis'),
  join(xdsPackage, 'deps', 'protoc-gen-validate'),
  protobufPackage,
];

const entries = readFileSync(join(root, 'proto', 'entries.txt'), 'utf8')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line !== '' && !line.startsWith('#'));

function findProto(target) {
  for (const dir of includeDirs) {
    const candidate = join(dir, target);
    if (existsSync(candidate)) return candidate;
  }
  return null;
}

const pbRoot = new protobuf.Root();
pbRoot.resolvePath = (origin, target) => {
  if (existsSync(target)) return target;
  const found = findProto(target);
  if (found) return found;
  // protobufjs serves google/protobuf well-known types from memory when the path is unresolved.
  return target;
};
for (const entry of entries) {
  if (!findProto(entry) && !entry.startsWith('google/protobuf/')) {
    throw new Error(`proto/entries.txt names ${entry}, which is not in @grpc/grpc-js-xds deps/`);
  }
}
pbRoot.loadSync(entries, { keepCase: true, alternateCommentMode: true });
pbRoot.resolveAll();

// ---------------------------------------------------------------------------------------------------------
// The JSON descriptor: only what encoding, decoding and ProtoJSON need (no validation or doc annotations).
const KEPT_OPTIONS = new Set(['packed', 'json_name', 'map_entry', 'deprecated', 'proto3_optional']);
function stripOptions(obj) {
  if (Array.isArray(obj)) return obj.map(stripOptions);
  if (obj === null || typeof obj !== 'object') return obj;
  const out = {};
  for (const key of Object.keys(obj)) {
    if (key === 'comment' || key === 'comments') continue;
    if (key === 'options' && obj[key] && typeof obj[key] === 'object') {
      const kept = {};
      for (const [name, value] of Object.entries(obj[key])) {
        if (KEPT_OPTIONS.has(name)) kept[name] = value;
      }
      if (Object.keys(kept).length > 0) out.options = kept;
      continue;
    }
    if (key === 'valuesOptions') continue;
    out[key] = stripOptions(obj[key]);
  }
  return out;
}
const descriptor = stripOptions(pbRoot.toJSON({ keepComments: false }));
const descriptorText = JSON.stringify(descriptor) + '\n';

// ---------------------------------------------------------------------------------------------------------
// TypeScript types of the ProtoJSON shape with proto field names: what resource objects look like.
const WKT = {
  '.google.protobuf.Duration': 'string',
  '.google.protobuf.Timestamp': 'string',
  '.google.protobuf.FieldMask': 'string',
  '.google.protobuf.Struct': 'JsonObject',
  '.google.protobuf.Value': 'JsonValue',
  '.google.protobuf.ListValue': 'JsonValue[]',
  '.google.protobuf.Any': 'Any',
  '.google.protobuf.Empty': 'Record<string, never>',
  '.google.protobuf.DoubleValue': 'number | string',
  '.google.protobuf.FloatValue': 'number | string',
  '.google.protobuf.Int64Value': 'number | string',
  '.google.protobuf.UInt64Value': 'number | string',
  '.google.protobuf.Int32Value': 'number',
  '.google.protobuf.UInt32Value': 'number',
  '.google.protobuf.BoolValue': 'boolean',
  '.google.protobuf.StringValue': 'string',
  '.google.protobuf.BytesValue': 'string',
};
const SCALAR = {
  double: 'number | string',
  float: 'number | string',
  int32: 'number',
  uint32: 'number',
  sint32: 'number',
  fixed32: 'number',
  sfixed32: 'number',
  int64: 'number | string',
  uint64: 'number | string',
  sint64: 'number | string',
  fixed64: 'number | string',
  sfixed64: 'number | string',
  bool: 'boolean',
  string: 'string',
  bytes: 'string',
};

function tsRef(fullName) {
  // ".envoy.config.core.v3.Address" -> "envoy.config.core.v3.Address"
  return fullName.slice(1);
}

function fieldType(field) {
  let base;
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type) {
    base = WKT[resolved.fullName] ?? tsRef(resolved.fullName);
  } else if (resolved instanceof protobuf.Enum) {
    base = tsRef(resolved.fullName);
  } else {
    base = SCALAR[field.type];
    if (!base) throw new Error(`unknown scalar type ${field.type} in ${field.fullName}`);
  }
  if (field.map) return `{ [key: string]: ${base} }`;
  if (field.repeated) return base.includes(' ') ? `Array<${base}>` : `${base}[]`;
  return base;
}

function docComment(text, indent) {
  if (!text) return '';
  // First paragraph only, without proto-specific markup that TSDoc would misread.
  let para = text.split(/\n\s*\n/)[0].trim();
  para = para
    .replace(/\[#[^\]]*\]/g, '')
    .replace(/\*\//g, '* /')
    .replace(/[{}@<>]/g, (c) => ({ '{': '(', '}': ')', '@': '(at)', '<': '‹', '>': '›' })[c])
    .replace(/\\/g, '/')
    .trim();
  if (para.length > 600) para = para.slice(0, 597).replace(/\s+\S*$/, '') + ' …';
  if (!para) return '';
  const lines = para.split('\n').map((l) => l.trimEnd());
  return `${indent}/**\n${lines.map((l) => `${indent} * ${l.trim()}`.trimEnd()).join('\n')}\n${indent} */\n`;
}

const out = [];
out.push('// Generated by scripts/generate.mjs from proto/entries.txt. Do not edit.');
out.push('// Types of Envoy API messages in ProtoJSON shape with the field names of the .proto files:');
out.push('// Duration and Timestamp as strings ("5s"), Struct as plain JSON, Any as an object with "@type",');
out.push('// wrappers as plain values, enums by name, 64-bit integers as numbers or strings, bytes as base64.');
out.push('/* eslint-disable */');
out.push('');
out.push('/** A JSON value, as google.protobuf.Value holds. */');
out.push('export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;');
out.push('/** A JSON object, as google.protobuf.Struct holds. */');
out.push('export interface JsonObject { [key: string]: JsonValue }');
out.push('/**');
out.push(' * google.protobuf.Any in ProtoJSON: `@type` is the type URL, the other members are the packed message\'s fields');
out.push(' * (or `value` for well-known types with a special JSON form).');
out.push(' */');
out.push('export interface Any { \'@type\': string; [field: string]: unknown }');
out.push('');

function emitNamespace(ns, indent) {
  const nested = ns.nestedArray.slice().sort((a, b) => a.name.localeCompare(b.name));
  for (const child of nested) {
    if (child instanceof protobuf.Type) {
      out.push(docComment(child.comment, indent) + `${indent}export interface ${child.name} {`);
      const fields = child.fieldsArray.filter((f) => !f.name.startsWith('.') && !f.declaringField).sort((a, b) => a.id - b.id);
      for (const field of fields) {
        const doc = docComment(field.comment, indent + '  ');
        const deprecated = field.options?.deprecated ? `${indent}  /** @deprecated */\n` : '';
        out.push(`${doc || deprecated}${indent}  ${field.name}?: ${fieldType(field)} | null | undefined;`);
      }
      out.push(`${indent}}`);
      const subs = child.nestedArray.filter((n) => n instanceof protobuf.Type || n instanceof protobuf.Enum || (n instanceof protobuf.Namespace && !(n instanceof protobuf.Service)));
      if (subs.length > 0) {
        out.push(`${indent}export namespace ${child.name} {`);
        emitNamespace(child, indent + '  ');
        out.push(`${indent}}`);
      }
    } else if (child instanceof protobuf.Enum) {
      const names = Object.keys(child.values);
      out.push(docComment(child.comment, indent) + `${indent}export type ${child.name} = ${names.map((n) => `'${n}'`).join(' | ')} | number;`);
    } else if (child instanceof protobuf.Service) {
      continue;
    } else if (child instanceof protobuf.Namespace) {
      out.push(`${indent}export namespace ${child.name} {`);
      emitNamespace(child, indent + '  ');
      out.push(`${indent}}`);
    }
  }
}
emitNamespace(pbRoot, '');
const typesText = out.join('\n') + '\n';

// ---------------------------------------------------------------------------------------------------------
const targets = [
  [join(root, 'generated', 'envoy.json'), descriptorText],
  [join(root, 'generated', 'types.ts'), typesText],
];
if (process.argv.includes('--check')) {
  const stale = targets.filter(([file, text]) => !existsSync(file) || readFileSync(file, 'utf8') !== text);
  if (stale.length > 0) {
    console.error(`generated/ is out of date (${stale.map(([f]) => f.slice(root.length + 1)).join(', ')}): run npm run generate`);
    process.exit(1);
  }
  console.log('generated/ is up to date');
} else {
  mkdirSync(join(root, 'generated'), { recursive: true });
  for (const [file, text] of targets) writeFileSync(file, text);
  console.log(`wrote generated/envoy.json (${descriptorText.length} bytes) and generated/types.ts (${typesText.length} bytes)`);
}
