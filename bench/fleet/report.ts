/**
 * Turns the JSON files of fleet-benchmark runs into the Markdown of docs/benchmarks.md: the matrix, ours
 * beside go-control-plane with the ratios, memory, our extra measures, and ASCII charts of convergence
 * against N.
 *
 *   node --import tsx bench/fleet/report.ts [--ours NAME] .bench-out/fleet-<time>.json [more.json ...] > matrix.md
 *
 * Points of later files replace points of earlier ones with the same (server, mode, N, M). `--ours base` puts
 * the server run as `base` (another checkout of ours) in the place of `ours`. A percentile shown as ∞ means
 * that more streams than its share never converged.
 *
 * @packageDocumentation
 */
import { readFileSync } from 'node:fs';
import type { PointResult, ScenarioResult } from './orchestrator.js';

interface RunFile {
  readonly started: string;
  readonly machine: Record<string, unknown>;
  readonly options: Record<string, unknown>;
  readonly points: PointResult[];
}

const SCENARIOS: readonly ScenarioResult['scenario'][] = ['connect', 'one-endpoint', 'all', 'reconnect'];

function ms(v: number | undefined): string {
  if (v === Number.POSITIVE_INFINITY) return '∞';
  if (v === undefined || !Number.isFinite(v)) return '-';
  return v >= 100 ? v.toFixed(0) : v.toFixed(1);
}

function ratio(ours: number | undefined, go: number | undefined): string {
  if (ours === Number.POSITIVE_INFINITY && go !== undefined && Number.isFinite(go)) return '∞';
  if (ours === undefined || go === undefined || !Number.isFinite(ours) || !Number.isFinite(go) || go <= 0) return '-';
  return (ours / go).toFixed(2);
}

function mb(bytes: number): string {
  return (bytes / 1048576).toFixed(0);
}

function table(rows: readonly (readonly string[])[]): string {
  const [head, ...body] = rows;
  const line = (r: readonly string[]): string => `| ${r.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...body.map(line)].join('\n');
}

function bar(value: number, max: number, width: number): string {
  // Logarithmic, so that 20 ms and 20 s both show.
  if (!Number.isFinite(value) || value <= 0) return '';
  const lo = Math.log10(5);
  const n = Math.max(1, Math.round(((Math.log10(value) - lo) / (Math.log10(max) - lo)) * width));
  return '#'.repeat(Math.min(width, n));
}

function main(): void {
  const args = process.argv.slice(2);
  let oursName = 'ours';
  const at = args.indexOf('--ours');
  if (at >= 0) {
    oursName = args[at + 1] ?? 'ours';
    args.splice(at, 2);
  }
  const files = args;
  if (files.length === 0) throw new Error('usage: report.ts [--ours NAME] RUN.json [RUN.json ...]');
  // Percentiles of phases where streams never converged are written as "Infinity".
  const runs = files.map((f) => JSON.parse(readFileSync(f, 'utf8'), (_k, v: unknown) => (v === 'Infinity' ? Number.POSITIVE_INFINITY : v)) as RunFile);
  const points = new Map<string, PointResult>();
  for (const run of runs) for (const p of run.points) points.set(`${p.server} ${p.mode} ${p.n} ${p.m}`, p);
  const get = (server: string, mode: string, n: number, m: number): PointResult | undefined => points.get(`${server} ${mode} ${n} ${m}`);
  const ns = [...new Set([...points.values()].map((p) => p.n))].sort((a, b) => a - b);
  const msz = [...new Set([...points.values()].map((p) => p.m))].sort((a, b) => a - b);
  const modes = (['sotw', 'delta'] as const).filter((mode) => [...points.values()].some((p) => p.mode === mode));
  const out: string[] = [];

  const machine = runs[0].machine;
  out.push(`Runs: ${runs.map((r) => r.started).join(', ')}. Machine: ${String(machine['cpu'])}, ${String(machine['cores'])} cores, ` +
    `${(Number(machine['memoryBytes']) / 2 ** 30).toFixed(0)} GiB, Linux ${String(machine['kernel'])}, Node ${String(machine['node'])}` +
    `${machine['serverNode'] === undefined ? '' : ` (our server on Node ${machine['serverNode'] as string})`}, ${String(machine['go'])}.`);
  out.push('');

  for (const mode of modes) {
    out.push(`#### ${mode === 'sotw' ? 'State of the world' : 'Delta'} (ADS)`);
    out.push('');
    const rows: string[][] = [[
      'N', 'M', 'scenario', 'go p50', 'ours p50', 'p50 ratio', 'go p99', 'ours p99', 'p99 ratio', 'go CPU s', 'ours CPU s', 'CPU ratio', 'load gen CPU s (go / ours)', 'converged (go / ours)', 'retries (go / ours)',
    ]];
    for (const m of msz) {
      for (const n of ns) {
        const go = get('go', mode, n, m);
        const ours = get(oursName, mode, n, m);
        if (go === undefined && ours === undefined) continue;
        for (const sc of SCENARIOS) {
          const g = go?.scenarios.find((s) => s.scenario === sc);
          const o = ours?.scenarios.find((s) => s.scenario === sc);
          rows.push([
            String(n), String(m), sc,
            ms(g?.p50Ms), ms(o?.p50Ms), ratio(o?.p50Ms, g?.p50Ms),
            ms(g?.p99Ms), ms(o?.p99Ms), ratio(o?.p99Ms, g?.p99Ms),
            g?.serverCpuSec.toFixed(2) ?? '-', o?.serverCpuSec.toFixed(2) ?? '-', ratio(o?.serverCpuSec, g?.serverCpuSec),
            `${g?.loadgenCpuSec.toFixed(2) ?? '-'} / ${o?.loadgenCpuSec.toFixed(2) ?? '-'}`,
            `${g ? `${g.converged}/${g.samples}` : '-'} / ${o ? `${o.converged}/${o.samples}` : '-'}`,
            `${g?.retries ?? '-'} / ${o?.retries ?? '-'}`,
          ]);
        }
      }
    }
    out.push(table(rows));
    out.push('');
  }

  out.push('#### Memory');
  out.push('');
  const mem: string[][] = [[
    'mode', 'N', 'M', 'go RSS idle / connected MB', 'ours RSS idle / connected MB', 'go KB/stream', 'ours KB/stream', 'ratio', 'ours heap KB/stream', 'go peak MB', 'ours peak MB',
  ]];
  for (const mode of modes) {
    for (const m of msz) {
      for (const n of ns) {
        const go = get('go', mode, n, m);
        const ours = get(oursName, mode, n, m);
        if (go === undefined && ours === undefined) continue;
        const heap = ours?.serverHeapConnectedBytes !== undefined && ours.serverHeapIdleBytes !== undefined
          ? ((ours.serverHeapConnectedBytes - ours.serverHeapIdleBytes) / n / 1024).toFixed(1)
          : '-';
        mem.push([
          mode, String(n), String(m),
          go ? `${mb(go.serverRssIdleBytes)} / ${mb(go.serverRssConnectedBytes)}` : '-',
          ours ? `${mb(ours.serverRssIdleBytes)} / ${mb(ours.serverRssConnectedBytes)}` : '-',
          go ? (go.serverRssPerStreamBytes / 1024).toFixed(0) : '-',
          ours ? (ours.serverRssPerStreamBytes / 1024).toFixed(0) : '-',
          ratio(ours?.serverRssPerStreamBytes, go?.serverRssPerStreamBytes),
          heap,
          go ? mb(go.serverPeakRssBytes) : '-',
          ours ? mb(ours.serverPeakRssBytes) : '-',
        ]);
      }
    }
  }
  out.push(table(mem));
  out.push('');

  out.push('#### Ours only: event-loop delay during the push, encodes per resource version');
  out.push('');
  const extra: string[][] = [['mode', 'N', 'M', 'scenario', 'set ms', 'loop delay max ms', 'loop delay p99 ms', 'encodes per resource']];
  for (const mode of modes) {
    for (const m of msz) {
      for (const n of ns) {
        const ours = get(oursName, mode, n, m);
        for (const s of ours?.scenarios ?? []) {
          if (s.eventLoopDelayMaxMs === undefined) continue;
          extra.push([mode, String(n), String(m), s.scenario, ms(s.serverSetMs), ms(s.eventLoopDelayMaxMs), ms(s.eventLoopDelayP99Ms), (s.encodesPerResource ?? Number.NaN).toFixed(2)]);
        }
      }
    }
  }
  out.push(table(extra));
  out.push('');

  // Steady state: medians over the repetitions after the first (the first update is also the first run of the
  // update code in a fresh server process).
  const median = (v: number[]): number => {
    const sorted = v.filter((x) => !Number.isNaN(x)).sort((x, y) => x - y);
    return sorted.length === 0 ? Number.NaN : sorted[Math.floor((sorted.length - 1) / 2)];
  };
  const steady: string[][] = [['mode', 'N', 'M', 'scenario', 'repetitions', 'go p50 ms', 'ours p50 ms', 'p50 ratio', 'go CPU s', 'ours CPU s', 'CPU ratio', 'ours full GCs per update (mean)']];
  for (const mode of modes) {
    for (const m of msz) {
      for (const n of ns) {
        const go = get('go', mode, n, m);
        const ours = get(oursName, mode, n, m);
        for (const sc of SCENARIOS) {
          const g = go?.scenarios.find((x) => x.scenario === sc)?.runs.slice(1) ?? [];
          const o = ours?.scenarios.find((x) => x.scenario === sc)?.runs.slice(1) ?? [];
          if (g.length < 2 || o.length < 2) continue;
          const gp = median(g.map((r) => r.p50Ms));
          const op = median(o.map((r) => r.p50Ms));
          // CPU as the mean: /proc counts it in clock ticks (10 ms), coarse beside one update's 0.03-0.1 s.
          const mean = (v: number[]): number => v.reduce((sum, x) => sum + x, 0) / v.length;
          const gc = mean(g.map((r) => r.serverCpuSec));
          const oc = mean(o.map((r) => r.serverCpuSec));
          // Major (full) collections of our server from `set` to the end of the phase (not reported for reconnects).
          const gcs = o.flatMap((r) => (r.majorGcs === undefined ? [] : [r.majorGcs]));
          const fullGcs = gcs.length === 0 ? '-' : (gcs.reduce((sum, x) => sum + x, 0) / gcs.length).toFixed(1);
          steady.push([mode, String(n), String(m), sc, `2–${g.length + 1}`, ms(gp), ms(op), ratio(op, gp), gc.toFixed(3), oc.toFixed(3), ratio(oc, gc), fullGcs]);
        }
      }
    }
  }
  if (steady.length > 1) {
    out.push('#### Steady state (median of the per-repetition p50, mean of their CPU, first repetition left out; our full GCs: their mean)');
    out.push('');
    out.push(table(steady));
    out.push('');
  }

  const realRows: string[][] = [['server', 'mode', 'N', 'M', 'scenario', 'real Envoys converged', 'real p50 ms', 'real max ms', 'simulated p50 ms', 'simulated max ms', 'real start-up ms']];
  for (const p of points.values()) {
    for (const sc of p.scenarios) {
      const r = sc.realEnvoys;
      if (r === undefined) continue;
      const l = r.latenciesMs;
      realRows.push([
        p.server, p.mode, String(p.n), String(p.m), sc.scenario, `${r.converged}/${r.envoys}`,
        ms(l[Math.max(0, Math.ceil(l.length / 2) - 1)]), ms(l[l.length - 1]), ms(sc.p50Ms), ms(sc.maxMs),
        r.startupMs ? r.startupMs.map((x) => ms(x)).join(', ') : '',
      ]);
    }
  }
  if (realRows.length > 1) {
    out.push('#### Real Envoys in the fleet');
    out.push('');
    out.push(table(realRows));
    out.push('');
  }

  out.push('#### Convergence p50 against N (log scale; `g` go-control-plane, `o` ours)');
  out.push('');
  out.push('```');
  const all = [...points.values()].flatMap((p) => p.scenarios.map((s) => s.p50Ms)).filter(Number.isFinite);
  const max = Math.max(...all, 10);
  for (const mode of modes) {
    for (const sc of ['connect', 'all'] as const) {
      for (const m of msz) {
        out.push(`${mode} ${sc} M=${m}`);
        for (const n of ns) {
          for (const server of ['go', oursName]) {
            const s = get(server, mode, n, m)?.scenarios.find((x) => x.scenario === sc);
            if (s === undefined) continue;
            out.push(`  N=${String(n).padEnd(5)} ${server === 'go' ? 'g' : 'o'} ${bar(s.p50Ms, max, 50).padEnd(50)} ${ms(s.p50Ms)} ms`);
          }
        }
      }
    }
  }
  out.push('```');
  console.log(out.join('\n'));
}

main();
