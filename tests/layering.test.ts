// The monorepo's layering, checked from the sources: each package depends only on packages below
// it, imports only what its package.json declares, and no two files of a package import each
// other in a cycle (issue 8: "no package imports one above it and no files import each other in a
// cycle").
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Lowest first: a package may depend only on packages earlier in this list. */
const LAYERS = ['base', 'schema', 'seccomp', 'agent', 'native', 'devices', 'vcpu-worker', 'vmm-core', 'api', 'sdk', 'testing', 'cli', 'e2e'];

interface Pkg {
  name: string;
  dir: string;
  srcDir: string;
  deps: string[];
}

function packages(): Pkg[] {
  const dirs = [...readdirSync(join(ROOT, 'packages')).map((d) => join('packages', d)), 'native', 'e2e'];
  return dirs
    .filter((d) => statSync(join(ROOT, d, 'package.json'), { throwIfNoEntry: false })?.isFile())
    .map((d) => {
      const pj = JSON.parse(readFileSync(join(ROOT, d, 'package.json'), 'utf8')) as { name: string; dependencies?: Record<string, string> };
      const short = pj.name.replace('@workervisor/', '');
      const srcDir = d === 'native' ? 'native/lib' : d === 'e2e' ? 'e2e' : join(d, 'src');
      return { name: short, dir: d, srcDir, deps: Object.keys(pj.dependencies ?? {}).filter((n) => n.startsWith('@workervisor/')).map((n) => n.replace('@workervisor/', '')) };
    });
}

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name === 'out' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...tsFiles(path));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** Every `from '...'` / `import('...')` specifier of a file (type-only imports included). */
function specifiers(file: string): string[] {
  const src = readFileSync(file, 'utf8');
  return [...src.matchAll(/(?:from\s+|import\s*\(\s*)'([^']+)'/g)].map((m) => m[1] as string);
}

describe('layering', () => {
  const pkgs = packages();

  it('knows every package', () => {
    for (const p of pkgs) expect(LAYERS, `add ${p.name} to LAYERS`).toContain(p.name);
  });

  it('lets each package depend only on packages below it', () => {
    for (const p of pkgs) {
      for (const d of p.deps) expect(LAYERS.indexOf(d), `${p.name} depends on ${d}, which is not below it`).toBeLessThan(LAYERS.indexOf(p.name));
    }
  });

  it('imports no workspace package that package.json does not declare', () => {
    for (const p of pkgs) {
      for (const file of tsFiles(join(ROOT, p.srcDir))) {
        for (const s of specifiers(file)) {
          const m = /^@workervisor\/([a-z-]+)/.exec(s);
          if (m === null || m[1] === p.name) continue;
          expect(p.deps, `${relative(ROOT, file)} imports ${s}`).toContain(m[1]);
        }
      }
    }
  });

  it('has no import cycle between the files of a package', () => {
    for (const p of pkgs) {
      const files = tsFiles(join(ROOT, p.srcDir)).filter((f) => !f.endsWith('.test.ts'));
      const graph = new Map<string, string[]>();
      for (const f of files) {
        const deps = specifiers(f)
          .filter((s) => s.startsWith('.'))
          .map((s) => resolve(dirname(f), s.replace(/\.js$/, '.ts')))
          .filter((t) => files.includes(t));
        graph.set(f, deps);
      }
      const state = new Map<string, 'visiting' | 'done'>();
      const stack: string[] = [];
      const visit = (f: string): void => {
        state.set(f, 'visiting');
        stack.push(f);
        for (const t of graph.get(f) ?? []) {
          if (state.get(t) === 'visiting') {
            const cycle = [...stack.slice(stack.indexOf(t)), t].map((x) => relative(ROOT, x));
            expect.fail(`import cycle in ${p.name}: ${cycle.join(' -> ')}`);
          }
          if (state.get(t) === undefined) visit(t);
        }
        stack.pop();
        state.set(f, 'done');
      };
      for (const f of files) if (state.get(f) === undefined) visit(f);
    }
  });
});
