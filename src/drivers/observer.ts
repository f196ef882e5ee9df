/**
 * A notifier that implements every callback of its era and does nothing: registering it makes
 * mm_has_notifiers() true, so the core VM must notify, and the core-scope invariants
 * (full-range-invalidated) check the core VM of the era on its own. Its device never maps anything.
 * One definition per era, with exactly the callbacks the era has.
 */
import type { NotifierDefinition, NotifierOps } from '../notifier/definition';
import type { KernelApi } from '../notifier/kernel-api';
import { ERAS } from '../eras';
import type { Era } from '../eras/era';
import { site } from '../runtime/site';

const AT = site('synthetic', 'observer', 'model', 'does nothing: lets the core VM be checked on its own');

interface State {
  readonly spt: number;
  readonly sub: number;
}

function* quiet(k: KernelApi, what: string) {
  yield* k.note(`observer: ${what}`, AT);
}

function opsFor(era: Era): NotifierOps<State> {
  const all: NotifierOps<State> = {
    *invalidatePage(k) {
      yield* quiet(k, 'invalidate_page');
    },
    *invalidateRangeStart(k) {
      yield* quiet(k, 'invalidate_range_start');
      return 0;
    },
    *invalidateRangeEnd(k) {
      yield* quiet(k, 'invalidate_range_end');
    },
    *invalidateRange(k) {
      yield* quiet(k, 'invalidate_range');
    },
    *archInvalidateSecondaryTlbs(k) {
      yield* quiet(k, 'arch_invalidate_secondary_tlbs');
    },
    *invalidate(k, s, sub, _range, curSeq) {
      yield* k.mmuIntervalSetSeq(sub, curSeq);
      return true;
    },
    *release(k) {
      yield* quiet(k, 'release');
    },
    *changePte(k) {
      yield* quiet(k, 'change_pte');
    },
    *clearFlushYoung(k) {
      yield* quiet(k, 'clear_flush_young');
      return false;
    },
  };
  const ops: Record<string, unknown> = {};
  for (const name of era.callbacks) ops[name] = all[name];
  // v6.6 refuses a notifier with both arch_invalidate_secondary_tlbs and start/end (-EINVAL)
  if (era.secondaryTlbs === 'arch-tlb-flush') delete ops.archInvalidateSecondaryTlbs;
  return ops as NotifierOps<State>;
}

export const observers: readonly NotifierDefinition<State>[] = ERAS.map((era) => ({
  name: 'observer',
  title: 'implements every callback of its era and does nothing (checks the core VM alone)',
  contract: 'pin' as const,
  eras: [era.name],
  source: 'synthetic',
  setup: (api) => Object.freeze({ spt: api.secondaryTable('observer (unused)'), sub: era.intervalNotifiers ? api.intervalNotifier('interval_sub') : -1 }),
  ops: opsFor(era),
  device: {
    table: (s: State) => s.spt,
    *fault(k: KernelApi) {
      yield* quiet(k, 'no device mappings');
      return 'error' as const;
    },
  },
}));
