/**
 * Summarises a V8 CPU profile (`--profile-server` writes them into `DIR/profiles`): the share of samples by
 * where the code comes from (garbage collection, protobufjs, grpc-js, Node's HTTP/2 and streams, the library,
 * the benchmark script) and the functions with the most self time.
 *
 *   node --import tsx bench/fleet/profile-summary.ts PROFILE.cpuprofile [top]
 *
 * Idle samples (the process waiting) are counted apart and left out of the shares.
 *
 * @packageDocumentation
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}

interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
}

/** Where a function's code comes from. */
function origin(frame: ProfileNode['callFrame']): string {
  const { functionName: name, url } = frame;
  if (name === '(garbage collector)') return 'garbage collection';
  if (name === '(program)') return 'V8 and native (program)';
  if (url.includes('protobufjs')) return 'protobufjs';
  if (url.includes('@grpc/grpc-js')) return 'grpc-js';
  if (url.includes('/dist/src/') || url.includes('/src/')) {
    if (url.includes('/bench/')) return 'benchmark script';
    return `library ${url.replace(/^.*\/(?:dist\/)?src\//, '').replace(/\.[jt]s$/, '')}`;
  }
  // Functions made at run time (protobufjs generates its decoders with `new Function`) have no URL.
  if (url === '') return 'generated at run time (protobufjs decoders)';
  if (url.startsWith('node:')) return 'Node';
  return 'other';
}

function main(): void {
  const [file, topArg] = process.argv.slice(2);
  if (file === undefined) throw new Error('usage: profile-summary.ts PROFILE.cpuprofile [top]');
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const counts = new Map<number, number>();
  for (const s of profile.samples) counts.set(s, (counts.get(s) ?? 0) + 1);
  let idle = 0;
  let busy = 0;
  const byOrigin = new Map<string, number>();
  const byLibraryFile = new Map<string, number>();
  const byFunction = new Map<string, number>();
  for (const [id, count] of counts) {
    const node = byId.get(id);
    if (node === undefined) continue;
    if (node.callFrame.functionName === '(idle)') {
      idle += count;
      continue;
    }
    busy += count;
    const o = origin(node.callFrame);
    const group = o.startsWith('library ') ? 'library' : o;
    byOrigin.set(group, (byOrigin.get(group) ?? 0) + count);
    if (o.startsWith('library ')) byLibraryFile.set(o.slice(8), (byLibraryFile.get(o.slice(8)) ?? 0) + count);
    const name = `${node.callFrame.functionName || '(anonymous)'} ${node.callFrame.url.replace(/^.*node_modules\//, '').replace(/^.*\/(dist\/)?src\//, 'src/')}:${node.callFrame.lineNumber + 1}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + count);
  }
  const pct = (n: number): string => `${((100 * n) / Math.max(1, busy)).toFixed(1)} %`;
  const sorted = (m: Map<string, number>): [string, number][] => [...m].sort((a, b) => b[1] - a[1]);
  console.log(`${busy} busy samples, ${idle} idle`);
  console.log('\nby origin:');
  for (const [k, v] of sorted(byOrigin)) console.log(`  ${pct(v).padStart(7)}  ${k}`);
  console.log('\nlibrary, by file:');
  for (const [k, v] of sorted(byLibraryFile).slice(0, 12)) console.log(`  ${pct(v).padStart(7)}  ${k}`);
  console.log('\nfunctions, self time:');
  for (const [k, v] of sorted(byFunction).slice(0, Number(topArg ?? 25))) console.log(`  ${pct(v).padStart(7)}  ${k}`);
}

main();
