/**
 * Evaluates a {@link CompiledModule} as CommonJS, in this thread, without touching Node's global
 * `require` (no extension hooks): `import … from 'mmu-race'` gets the running mmu-race's own API,
 * relative imports get the other compiled files, anything else Node's own `require` from the
 * module's directory.
 *
 * Errors thrown by user code can be located in the TypeScript source with {@link locateError},
 * which reads the stack through the emitted source maps.
 */
import { createRequire, SourceMap } from 'node:module';
import { dirname, resolve } from 'node:path';
import { compileFunction } from 'node:vm';
import { UsageError } from '../runtime/errors';
import type { CompiledModule } from './compile';

/** A module evaluated from compiled code, and how to point at its source lines. */
export interface LoadedModule {
  readonly exports: unknown;
  /** `file.ts:line:col` of the innermost user-code frame of `err`'s stack, if any. */
  locate(err: unknown): string | undefined;
}

const EXTENSIONS = ['', '.ts', '.js', '.cts', '.cjs', '/index.ts', '/index.js'];

/** Evaluates `compiled`; `api` is what `require('mmu-race')` returns inside it. */
export function instantiate(compiled: CompiledModule, api: unknown): LoadedModule {
  const cache = new Map<string, { exports: unknown }>();

  const load = (file: string): unknown => {
    const hit = cache.get(file);
    if (hit) return hit.exports;
    const module = { exports: {} as unknown };
    cache.set(file, module);
    const fn = compileFunction(compiled.files[file].js, ['exports', 'require', 'module', '__filename', '__dirname'], { filename: file });
    fn.call(module.exports, module.exports, requireFrom(file), module, file, dirname(file));
    return module.exports;
  };

  const requireFrom = (file: string) => {
    const nodeRequire = createRequire(file);
    return (spec: string): unknown => {
      if (spec === 'mmu-race') return api;
      if (spec.startsWith('.') || spec.startsWith('/')) {
        const base = resolve(dirname(file), spec);
        for (const ext of EXTENSIONS) if (compiled.files[base + ext]) return load(base + ext);
        const js = base.replace(/\.js$/, '.ts'); // `import './x.js'` naming a .ts file, as TypeScript allows
        if (compiled.files[js]) return load(js);
      }
      return nodeRequire(spec);
    };
  };

  const maps = new Map<string, SourceMap | null>();
  const mapOf = (file: string): SourceMap | null => {
    if (!maps.has(file)) {
      const raw = compiled.files[file]?.map;
      maps.set(file, raw ? new SourceMap(JSON.parse(raw)) : null);
    }
    return maps.get(file) ?? null;
  };

  const locate = (err: unknown): string | undefined => {
    const stack = err instanceof Error ? (err.stack ?? '') : '';
    for (const m of stack.matchAll(/\(?([^\s()]+):(\d+):(\d+)\)?$/gm)) {
      const [, file, line, col] = m;
      if (!compiled.files[file]) continue;
      const entry = mapOf(file)?.findEntry(Number(line) - 1, Number(col) - 1);
      const at = entry && 'originalLine' in entry ? `${Number(entry.originalLine) + 1}:${Number(entry.originalColumn) + 1}` : `${line}:${col} (compiled)`;
      return `${file}:${at}`;
    }
    return undefined;
  };

  let exports: unknown;
  try {
    exports = load(compiled.entry);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    const where = locate(err);
    throw new UsageError(`loading ${compiled.entry} threw ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}${where ? ` (at ${where})` : ''}`);
  }
  return { exports, locate };
}
