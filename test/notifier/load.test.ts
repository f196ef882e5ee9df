/**
 * Loading and validating a user's notifier in this thread: compile (type-check), evaluate with
 * `mmu-race` and relative imports resolved, find the export, validate the shape against the eras'
 * callbacks; and the built-in drivers, which are written against the same API, pass the same checks.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as api from 'mmu-race';
import { DRIVERS } from '../../src/drivers';
import { compileNotifierModule } from '../../src/notifier/compile';
import { deepFreeze } from '../../src/notifier/instrument';
import { instantiate } from '../../src/notifier/instantiate';
import { notifierExport, validateNotifier } from '../../src/notifier/validate';
import { UsageError } from '../../src/runtime/errors';
import gpuSeqcount from '../../examples/gpu-seqcount';

const ROOT = join(__dirname, '..', '..');

describe('loading a module', () => {
  it('compiles once, resolves mmu-race and relative imports, and finds the default export', () => {
    const compiled = compileNotifierModule(join(ROOT, 'test/fixtures/minimal.ts'));
    expect(Object.keys(compiled.files).map((f) => f.slice(ROOT.length + 1)).sort()).toEqual(['test/fixtures/lib/gpu-sites.ts', 'test/fixtures/minimal.ts']);
    const loaded = instantiate(compiled, api);
    const def = validateNotifier(notifierExport(loaded.exports, 'minimal.ts'));
    expect(def.name).toBe('fixture-minimal');
  });

  it('reports a type error with file:line:col, and --transpile-only skips it', () => {
    expect(() => compileNotifierModule(join(ROOT, 'test/fixtures/type-error.ts'))).toThrow(/type-error\.ts:15:\d+ - error TS2554/);
    expect(() => compileNotifierModule(join(ROOT, 'test/fixtures/type-error.ts'), { typeCheck: false })).not.toThrow();
    expect(() => compileNotifierModule(join(ROOT, 'test/fixtures/syntax-error.ts'), { typeCheck: false })).toThrow(/syntax error/);
  });

  it('locates an error thrown by user code in the TypeScript source', () => {
    const loaded = instantiate(compileNotifierModule(join(ROOT, 'test/fixtures/throws.ts')), api);
    const def = notifierExport(loaded.exports, 'throws.ts') as api.NotifierDefinition<unknown>;
    let where: string | undefined;
    try {
      const k = { note: function* () { yield {} as never; } } as unknown as api.KernelApi;
      const g = def.device.fault(k, {}, { address: 0, write: false });
      g.next();
      g.next();
    } catch (err) {
      where = loaded.locate(err);
    }
    expect(where).toMatch(/test\/fixtures\/throws\.ts:16:\d+$/);
  });
});

describe('validateNotifier', () => {
  it('accepts every built-in driver (they are written against the same API)', () => {
    for (const d of DRIVERS) {
      try {
        validateNotifier(d);
      } catch (err) {
        // `observer` is not a driver but a probe of the core VM; if it implements every callback of
        // every era at once, which a real driver for one kernel cannot, validation says so.
        expect(d.name).toBe('observer');
        expect((err as Error).message).toMatch(/is not a callback of struct mmu_notifier_ops in kernel/);
      }
    }
  });

  it.each([
    [{ ...gpuSeqcount, contract: 'mirrored' }, /contract must be 'mirror' or 'pin', got the string "mirrored"/],
    [{ ...gpuSeqcount, eras: [] }, /eras must be a non-empty array/],
    [{ ...gpuSeqcount, name: 'has space' }, /name must be letters, digits/],
    [{ ...gpuSeqcount, ops: { *invalidateRangeStrat() {} } }, /ops\.invalidateRangeStrat is not a callback .* \(did you mean invalidateRangeStart\?\)/],
    [{ ...gpuSeqcount, ops: { async *invalidateRangeStart() {} } }, /ops\.invalidateRangeStart is async; callbacks must be synchronous generator functions/],
    [{ ...gpuSeqcount, device: { table: gpuSeqcount.device.table } }, /device\.fault must be a generator function, got undefined/],
    [{ ...gpuSeqcount, setup: function* () {} }, /setup must be a plain function/],
    [42, /a notifier definition must be an object/],
  ])('rejects %#', (def, message) => {
    expect(() => validateNotifier(def)).toThrow(UsageError);
    expect(() => validateNotifier(def)).toThrow(message);
  });

  it('checks the eras asked for against the eras declared', () => {
    expect(() => validateNotifier(gpuSeqcount, ['v4.10'])).toThrow(/driver 'gpu-seqcount' is not written for kernel v4\.10 \(it declares v4\.13, v4\.15, v4\.19\)/);
  });
});

describe('deepFreeze', () => {
  it('freezes plain objects and arrays all the way down, and leaves functions callable', () => {
    const x = deepFreeze({ a: { b: [1, { c: 2 }] }, f: () => 3 });
    expect(Object.isFrozen(x.a.b[1])).toBe(true);
    expect(() => {
      'use strict';
      (x.a as { b: unknown }).b = 1;
    }).toThrow(TypeError);
    expect(x.f()).toBe(3);
  });
});
