/**
 * A notifier that implements every callback of its era and does nothing: registering it makes
 * mm_has_notifiers() true, so the core VM must notify, and the core-scope invariants
 * (full-range-invalidated) check the core VM of the era on its own. Its device never maps anything.
 */
import type { NotifierDefinition } from '../notifier/definition';
import { ERAS } from '../eras';
import { site } from '../runtime/site';

const AT = site('synthetic', 'observer', 'model', 'does nothing: lets the core VM be checked on its own');

export const observer: NotifierDefinition<{ readonly spt: number }> = {
  name: 'observer',
  title: 'implements every callback and does nothing (checks the core VM alone)',
  contract: 'pin',
  eras: ERAS.map((e) => e.name),
  source: 'synthetic',
  setup: (api) => Object.freeze({ spt: api.secondaryTable('observer (unused)') }),
  ops: {
    *invalidatePage(k) {
      yield* k.note('observer: invalidate_page', AT);
    },
    *invalidateRangeStart(k) {
      yield* k.note('observer: invalidate_range_start', AT);
      return 0;
    },
    *invalidateRangeEnd(k) {
      yield* k.note('observer: invalidate_range_end', AT);
    },
    *invalidateRange(k) {
      yield* k.note('observer: invalidate_range', AT);
    },
  },
  device: {
    table: (s) => s.spt,
    *fault(k) {
      yield* k.note('observer: no device mappings', AT);
      return 'error';
    },
  },
};
