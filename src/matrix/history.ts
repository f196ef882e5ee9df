/**
 * What kernel history says each driver does in each era: the expected verdict of every cell of the
 * verdict matrix, with the source that makes it so. A cell whose expectation is not settled by a
 * source is marked `uncertain` rather than guessed.
 */

export interface Expectation {
  /** Driver name (`a+b` for several notifiers on one mm). */
  readonly driver: string;
  readonly kernel: string;
  /**
   * `pass`, or the invariant (or verdict kind) history says is broken; `a|b` when the same bug may
   * show first as either (a mirror re-established in the window is out of step at range_end and maps
   * a freed page once the VM frees it).
   */
  readonly expect: string;
  readonly certain: boolean;
  /** The catalogue entry or kernel source that makes it so. */
  readonly source: string;
  /** Which invariants the cell checks: the drivers' (default) or the core VM's (the `observer` row). */
  readonly scope?: 'core';
  /**
   * The cell is uncertain only because of a model finding on the exit_mmap path (GRU_EXIT,
   * AMDGPU_EXIT below): with exit left out of the draw, `expect` is certain.
   */
  readonly exitFinding?: boolean;
}

const B2 = 'reference §3 B2: c7ab0d2fdc84 (v4.11) moved ->invalidate_page under the PTL (mm/rmap.c v4.12 line 1468)';
// Reference §3 B3 (invalidate_page carried one 4 KiB address for a huge page) is reproduced outside the
// matrix, through a DAX file's PMD writeback (fs/dax.c v4.10.17/v4.12 dax_mapping_entry_mkclean:
// invalidate_page(mm, address) of the PMD's start): src/kernel/dax.ts, test/kernel/dax-b3.test.ts (KVM
// v4.10/v4.12 → secondary-follows-primary; v4.13+ pass). The scenario flag `dax` is never drawn by
// DEFAULT_BOUNDS, so no cell here depends on it.
const OOM_NO_NOTIFIERS =
  'mm/oom_kill.c __oom_reap_task_mm v4.10.17/v4.12: unmap_page_range() with no mmu notifier call; v4.13 skips mms with notifiers (4d4bbd8526a8)';
const UAF_OR_STALE = 'no-secondary-maps-freed-page|secondary-follows-primary';
const B7 = 'reference §3 B7: range_start-only pattern; the kill-invalidate_page cover letter (seeds/03)';
const PTL_RANGE = '->invalidate_range runs under the PTL: wp_page_copy ptep_clear_flush_notify (mm/memory.c), try_to_unmap_one v4.13';

/**
 * Model findings about exit_mmap (src/kernel/exit.ts) that history does not record, so uncertain:
 * - GRU: gru_release only sets gms->ms_released (grutlbpurge.c v4.13.19 … v5.2.1) and flushes no
 *   GRU TLB, so translations of the pages exit_mmap then frees stay until gru_vma_close unloads the
 *   context (remove_vma, after tlb_finish_mmu); whether a GRU instruction can still use them then is [U].
 * - amdgpu v4.19 holds amn->lock's read side from range_start to range_end (amdgpu_mn.c v4.19.95);
 *   __mmu_notifier_release unlinks it (hlist_del_init_rcu, mm/mmu_notifier.c v4.19) while reclaim or
 *   migration, which need no mm_users, is inside its bracket, so their range_end never reaches it and
 *   the read side leaks: amdgpu_mn_destroy's down_write(&amn->lock) would then wait for ever. No report found.
 */
const GRU_EXIT = 'model finding, no report known: ->release (gru_release) leaves the GRU TLB as it is, and exit_mmap frees the pages it translates before gru_vma_close unloads the context [U: whether an instruction can still use them]';
const AMDGPU_EXIT =
  'model finding, no report known: exit_mmap\'s mmu_notifier_release unlinks the notifier while reclaim or migration is inside its bracket, so range_end never drops amn->lock\'s read side (amdgpu_mn.c, mm/mmu_notifier.c v4.19)';

/**
 * The NUMA THP race (src/kernel/numa.ts, test/kernel/numa.test.ts): from v4.12 change_huge_pmd makes a
 * hinting PMD with pmdp_invalidate (no ->invalidate_range under the PMD lock, as v4.10's
 * pmdp_huge_get_and_clear_notify had), so until the scanner's range_end a device sharing the CPU page
 * table keeps its IOTLB entry; a hinting fault on another CPU meanwhile copies the THP
 * (migrate_misplaced_transhuge_page: migrate_page_copy before any notifier call) and the device's
 * write lands in the old THP. Fixed in v5.0 by mmu_notifier_invalidate_range in do_huge_pmd_numa_page
 * ("mm: thp: fix mmu_notifier in migrate_misplaced_transhuge_page()", 7066f0f933a1 [U: id]). The
 * default draw reaches it rarely (THP, the scanner, a device and a CPU fault, 3 preemptions), so the
 * cell takes either verdict; numa.test.ts asserts it on every such era.
 */
const NUMA_THP_RACE = 'the NUMA THP race of v4.12 … v4.19 (migrate_misplaced_transhuge_page copies before ->invalidate_range; fixed by 7066f0f933a1 in v5.0 [U: id]; test/kernel/numa.test.ts)';
const SHARED_PT_NUMA = 'pass|no-lost-write';
/**
 * Model finding, no report known: GRU's gru_vtop tries atomic_pte_lookup first, and `pte_present()`
 * (x86: _PAGE_PRESENT | _PAGE_PROTNONE) accepts a NUMA hinting entry, also a huge PMD's (pmd_large),
 * so the GRU TLB maps pages change_prot_numa made PROT_NONE (grufault.c v4.13.19 … v5.0.1); the NUMA
 * THP migration then copies before its bracket (v4.13 … v4.19: a GRU write is lost, no-lost-write) or
 * tells no one (v5.0+: the GRU TLB keeps the old THP, secondary-follows-primary, then a freed page).
 */
const GRU_NUMA = 'model finding, no report known: atomic_pte_lookup maps NUMA hinting entries (pte_present is true for PROT_NONE on x86), and the NUMA THP migration copies before its bracket (≤ v4.19) or calls no notifier (v5.0+)';

/** A driver's cells; the third element marks a cell uncertain (`true`), or uncertain only through exit_mmap (`'exit'`). */
function row(driver: string, cells: Record<string, [string, string, (boolean | 'exit')?]>): Expectation[] {
  return Object.entries(cells).map(([kernel, [expect, source, uncertain]]) => ({ driver, kernel, expect, source, certain: uncertain === undefined || uncertain === false, ...(uncertain === 'exit' ? { exitFinding: true } : {}) }));
}

const CORE_ROW: Expectation[] = [
  ['v4.10', 'full-range-invalidated', OOM_NO_NOTIFIERS],
  ['v4.12', 'full-range-invalidated', OOM_NO_NOTIFIERS],
  ['aac2fea9', 'full-range-invalidated', "Andrea Arcangeli's bug 1: a bare invalidate_range with no start/end (revert 785373b4c387, seeds/04); with a PTE-mapped THP also bugs 2 and 3, each alone (test/kernel/thp.test.ts)"],
  ['v4.13', 'pass', 'the kill-invalidate_page series brackets every modelled call site (reference §1.d)'],
  ['v4.15', 'pass', 'as v4.13; only_end where the PTL call already happened (reference §4.1)'],
  ['v4.19', 'pass', 'as v4.15; the OOM reaper brackets its unmap with a non-blockable start (mm/oom_kill.c v4.19)'],
].map(([kernel, expect, source]) => ({ driver: 'observer', kernel, expect, source, certain: true, scope: 'core' as const }));

const MODERN = ['v5.0', 'v5.2', 'v5.5', 'v6.6'];
const B12 = 'reference §3 B12: a failed non-blockable start leaves the other notifiers without range_end (mm/oom_kill.c v4.19, v5.7)';
const C2655835 = 'c2655835fd8c: mn_hlist_invalidate_range_start ends the notifiers whose start succeeded (mm/mmu_notifier.c v6.8)';
const HMM_DOC = 'Documentation/vm/hmm.rst (v5.7): read_begin, hmm_range_fault, then read_retry under the lock ->invalidate holds for set_seq';
const HMM_LOST_DIRTY =
  'model finding, no report known: a device write through a mirror of a clean writable PTE is never made dirty (mm/hmm.c hmm_pte_need_fault v5.7, v6.8; no set_page_dirty in the driver), ' +
  'so after MADV_FREE reclaim discards it (no-lost-dirty in test/drivers/dirty.test.ts)';

/** v5.0 … v6.6: struct range, events, interval notifiers, arch_invalidate_secondary_tlbs. */
const MODERN_ROWS: Expectation[] = [
  ...MODERN.map((kernel) => ({ driver: 'observer', kernel, expect: 'pass', certain: true, scope: 'core' as const, source: 'every modelled call site brackets its changes and flushes secondary TLBs (mm/*.c v5.7.14, v6.8)' })),
  ...MODERN.flatMap((k) => row('kvm', { [k]: ['pass', 'virt/kvm/kvm_main.c v5.7.14 (same seq/count protocol); v6.8 mmu_invalidate_seq/in_progress'] })),
  ...MODERN.flatMap((k) => row('kvm-no-retry', { [k]: [UAF_OR_STALE, B7] })),
  ...MODERN.flatMap((k) => row('range-start-mutex', { [k]: ['no-sleep-in-atomic', 'reference §3 B11: the OOM reaper calls a non-blockable range_start (mm/oom_kill.c v5.7, v6.8)'] })),
  ...MODERN.flatMap((k) => row('range-start-trylock', { [k]: ['pass', 'returns -EAGAIN instead of sleeping when !blockable'] })),
  ...row('kvm+range-start-trylock', {
    'v5.0': ['start-end-paired', B12],
    'v5.2': ['start-end-paired', B12],
    'v5.5': ['start-end-paired', B12 + '; unchanged in mm/mmu_notifier.c v5.7.14'],
    'v6.6': ['pass', C2655835],
  }),
  // hmm_range_fault users and MADV_FREE: hmm_pte_need_fault asks for no fault on a writable clean
  // PTE (mm/hmm.c v5.7, v6.8), and neither the documented pattern nor amdgpu (amdgpu_ttm.c v5.7,
  // amdgpu_hmm.c v6.8: no set_page_dirty anywhere) nor nouveau dirties a page the device wrote; so a
  // device write after MADV_FREE into a clean lazyfree page is discarded by reclaim. The model finds
  // it in fixed scenarios (test/drivers/dirty.test.ts); no report or fix of it is known: uncertain.
  ...row('hmm-mirror', { 'v5.5': ['pass', `${HMM_DOC}; ${HMM_LOST_DIRTY}`, true], 'v6.6': ['pass', `${HMM_DOC}; ${HMM_LOST_DIRTY}`, true] }),
  ...row('hmm-mirror-no-retry', {
    'v5.5': [UAF_OR_STALE, 'include/linux/mmu_notifier.h v5.7: mmu_interval_read_retry must be called under the driver lock before using the pfns'],
    'v6.6': [UAF_OR_STALE, 'as v5.5'],
  }),
  ...row('hmm-mirror-set-seq-unlocked', {
    'v5.5': [UAF_OR_STALE, 'include/linux/mmu_notifier.h v5.7: mmu_interval_set_seq "must be called under the same lock that protects read_retry"'],
    'v6.6': [UAF_OR_STALE, 'as v5.5'],
  }),
  // The model's own finding: with an interval notifier and an hlist notifier that fails a
  // non-blockable start, __mmu_notifier_invalidate_range_start returns the hlist error after the itree
  // side started, and the OOM reaper calls no range_end: the itree stays "invalidating" (v5.7, v6.8
  // mm/mmu_notifier.c, mm/oom_kill.c as read). No report of it in history is known: uncertain.
  ...row('hmm-mirror+range-start-trylock', {
    'v5.5': ['start-end-paired', 'model reading of mm/mmu_notifier.c + mm/oom_kill.c v5.7.14; not in the catalogue', true],
    'v6.6': ['start-end-paired', 'model reading of mm/mmu_notifier.c + mm/oom_kill.c v6.8 (c2655835fd8c ends hlist notifiers only); not in the catalogue', true],
  }),
];

// --- issue 4: the kernel's own notifier users in their eras, and the catalogue's broken variants ---
const STALE =
  'the pages are pinned (gup references held while mapped), so a missed or late invalidation leaves a stale mapping, never a freed page';
const PIN_B2_SAFE = 'mm/rmap.c v4.10.17 try_to_unmap_one calls invalidate_page after pte_unmap_unlock (may sleep); ' + STALE;
const AAC_PIN = 'aac2fea9 calls no invalidate_page from try_to_unmap_one (revert 785373b4c387); ' + STALE;
const OOM_MIRROR = OOM_NO_NOTIFIERS + '; the driver keeps no page reference';
const B4_MIRROR =
  "reference §3 B4, Andrea Arcangeli's bug 1 (revert 785373b4c387): a bare invalidate_range reaches no start/end-only notifier; and the OOM reaper unmaps with no notifier call";
const SHARED_PT =
  '->invalidate_range flushes the IOTLB under the PTL after every PTE clear, before the page is freed; tlb_flush_mmu_tlbonly calls mmu_notifier_invalidate_range in every era (mm/memory.c v4.10.17), so the OOM reaper flushes it too';
const AAC_SHARED =
  'aac2fea9 range [address, address + (1UL << 0)) flushes exactly the one page for an order-0 page. With a THP (B5, B6) the range misses subpages only in ' +
  'split_huge_page\'s freeze walk (mm/vmscan.c v4.13 splits a THP before try_to_unmap: "XXX: We don\'t support THP writes"): the freeze installs migration ' +
  'entries, remove_migration_ptes maps the same pages again, and each subpage is then unmapped as an order-0 page with a one-page range before it can be ' +
  'freed. The stale IOTLB entry of the freeze window maps a page still allocated and mapped again: full-range-invalidated (core) catches it, no driver invariant does ' +
  '(test/kernel/thp.test.ts)';
const ODP = 'drivers/infiniband/core/umem_odp.c';
const AMDGPU = 'drivers/gpu/drm/amd/amdgpu/amdgpu_mn.c';
const SVM_UNALIGNED =
  'intel_flush_svm_range_dev (v4.10.17 … v4.19.95) flushes the AM-aligned block containing start, missing the tail of an unaligned multi-page range: ' +
  '2d6ffc63f124 (v5.11) fixed that, but its Fixes tag names the v5.0 scalable-mode code (1c4f88b7f1f9); whether ECS-mode hardware ignored the address bits alike is not settled';
const GRU_COUNT_ONLY =
  'broken on purpose: count-only without the TFH filter misses a bracket between the ms_range_active check and the dropin (reference §2.7); ' +
  'a one-step window the default fuzzing budget finds only in some seeds: test/drivers/grutlbpurge.test.ts replays one';
const B14 =
  'reference §3 B14 (ca748c39ea3f, v5.0; fixed by f25a546e6529, v5.5, whose message gives the trace): zap_page_range takes umem_rwsem for read in range_start and ' +
  'holds it to range_end; madvise(MADV_DONTNEED) of part of a THP splits the PMD inside (mm/memory.c zap_pmd_range → __split_huge_pmd, v5.0.1/v5.2.1), whose nested ' +
  'range_start takes it for read again: "the second down_read() can deadlock if there are competing writers". The scenarios have no writer (ib_umem_odp_get\'s ' +
  'down_write); lockdep reports the recursive read itself (kernel/locking/lockdep.c check_deadlock v5.0: down_read is read == 1, not recursive): no-deadlock. ' +
  'With a writer queued in between it hangs (test/kernel/thp.test.ts): deadlock';
const ODP_MISSED_UNLOCK =
  'drivers/infiniband/core/umem_odp.c v5.0.1/v5.2.1: a non-blockable start that finds a umem returns -EAGAIN still holding umem_rwsem, and no range_end releases it ' +
  '("RDMA/odp: Fix missed unlock in non-blocking invalidate_start", Jason Gunthorpe, 2019-06-11, Fixes: ca748c39ea3f); the runtime reports the OOM reaper ending with the lock held as a model error';

const DRIVER_CATALOGUE: Expectation[] = [
  ...row('ib-umem-odp', {
    'v4.10': ['no-secondary-maps-freed-page', OOM_MIRROR + ' (ib_umem_odp_map_dma_single_page: put_page, "avoid pinning")'],
    'v4.12': ['no-sleep-in-atomic', B2 + `; ${ODP} ib_umem_notifier_invalidate_page: down_read(&context->umem_rwsem) (v4.12)`],
    aac2fea9: ['no-secondary-maps-freed-page', B4_MIRROR],
    'v4.13': ['pass', `${ODP} v4.13.9: notifiers_seq/notifiers_count under umem_mutex, pagefault_mr retries (reference §2.2)`],
    'v4.15': ['pass', `as v4.13: ${ODP} differs between v4.13.9 and v4.19.95 only by the blockable change (93065ac753e4, v4.19)`],
    'v4.19': ['pass', `${ODP} v4.19.95: down_read_trylock and -EAGAIN when !blockable (reference §3 B11 handled)`],
    'v5.0': ['no-lock-held-at-exit|no-deadlock', ODP_MISSED_UNLOCK + '; and reference §3 B14 (it holds umem_rwsem across the bracket too): ' + B14],
    'v5.2': ['no-lock-held-at-exit|no-deadlock', ODP_MISSED_UNLOCK + '; and reference §3 B14 (it holds umem_rwsem across the bracket too): ' + B14],
  }),
  ...row('ib-umem-odp-rwsem-held', { 'v5.0': ['no-deadlock|deadlock', B14], 'v5.2': ['no-deadlock|deadlock', B14] }),
  ...row('amdgpu-userptr', {
    'v4.10': ['pass', PIN_B2_SAFE],
    'v4.12': ['no-sleep-in-atomic', B2 + `; ${AMDGPU} amdgpu_mn_invalidate_page: mutex_lock(&rmn->lock), fence wait (v4.12)`],
    aac2fea9: ['pass', AAC_PIN],
    'v4.13': ['secondary-follows-primary', 'reference §3 B7 (amdgpu v4.13: range_start only): a CS re-binds the old pages between range_start and the PTE clear; ' + STALE + ': secondary-follows-primary checks mirror drivers only (a pin driver may lag, DESIGN §3.4), and with pinned pages the model\'s reclaim keeps the page in the swap cache (needs a remap or migration to diverge)', true],
    'v4.15': ['secondary-follows-primary', 'as v4.13 (reference §2.11: amdgpu 4.13–4.18 range_start only [U])', true],
    'v4.19': ['no-sleep-in-atomic', `reference §3 B11 for real: ${AMDGPU} amdgpu_mn_read_lock v4.19.95 trylocks read_lock but then calls down_read_non_owner(&amn->lock), which sleeps behind a CS holding the write side (Tetsuo Handa, linux-mm 2018-08-26; down_read_trylock by v5.4); also ${AMDGPU_EXIT}`],
    'v5.0': ['no-sleep-in-atomic', `reference §3 B11: the same amdgpu_mn_read_lock in ${AMDGPU} v5.0.1`],
    'v5.2': ['no-sleep-in-atomic', `reference §3 B11: the same amdgpu_mn_read_lock in ${AMDGPU} v5.2.1`],
  }),
  ...row('amdgpu-userptr-trylock', { 'v4.19': ['pass', `${AMDGPU} amdgpu_mn_read_lock and amdgpu_mn_sync_pagetables_gfx v5.4.0: down_read_trylock when !blockable, the read side dropped before the callback returns`] }),
  ...['v4.10', 'v4.12', 'aac2fea9', 'v4.13', 'v4.15', 'v4.19', 'v5.0', 'v5.2'].flatMap((k) =>
    row('hfi1-mmu-rb', { [k]: ['pass', 'drivers/infiniband/hw/hfi1/mmu_rb.c: spinlock + deferred unpin, never sleeps (reference §1.b, §2.4); ' + STALE] }),
  ),
  ...['v4.10', 'v5.0', 'v5.2'].flatMap((k) => row('amd-iommu-v2', { [k]: ['pass', 'drivers/iommu/amd_iommu_v2.c mn_invalidate_range: ' + SHARED_PT] })),
  ...['v4.12', 'v4.13', 'v4.15', 'v4.19'].flatMap((k) => row('amd-iommu-v2', { [k]: [SHARED_PT_NUMA, 'drivers/iommu/amd_iommu_v2.c mn_invalidate_range: ' + SHARED_PT + '; ' + NUMA_THP_RACE] })),
  ...row('amd-iommu-v2', { aac2fea9: [SHARED_PT_NUMA, AAC_SHARED + '; ' + NUMA_THP_RACE] }),
  ...['v4.10', 'v4.12', 'aac2fea9', 'v4.13', 'v4.15', 'v4.19'].flatMap((k) => row('intel-svm', { [k]: ['no-secondary-maps-freed-page', SVM_UNALIGNED + (k === 'v4.10' ? '' : '; also ' + NUMA_THP_RACE), true] })),
  ...['v4.12', 'v4.13', 'v4.15', 'v4.19'].flatMap((k) =>
    row('powernv-npu', { [k]: [SHARED_PT_NUMA, 'arch/powerpc/platforms/powernv/npu-dma.c pnv_npu2_mn_invalidate_range: one ATSD invalidate per page; ' + SHARED_PT + '; ' + NUMA_THP_RACE] }),
  ),
  ...row('powernv-npu', { aac2fea9: [SHARED_PT_NUMA, AAC_SHARED + '; ' + NUMA_THP_RACE] }),
  ...['v5.0', 'v5.2'].flatMap((k) =>
    row('powernv-npu', { [k]: ['pass', 'arch/powerpc/platforms/powernv/npu-dma.c v5.0.1/v5.2.1 mmio_invalidate: one ATSD over the 2M (or 1G) block holding the range; ' + SHARED_PT] }),
  ),
  ...row('sgi-gru', {
    'v4.10': ['no-secondary-maps-freed-page', OOM_MIRROR + ' (grufault.c non_atomic_pte_lookup: put_page)'],
    'v4.12': ['no-secondary-maps-freed-page', OOM_MIRROR],
    aac2fea9: ['no-secondary-maps-freed-page', B4_MIRROR],
    'v4.13': ['pass', `grutlbpurge.c v4.13: ms_range_active + TLB flush in range_start; "the dropin is ignored" if an invalidate raced it (grufault.c gru_try_dropin); ${GRU_EXIT}; ${GRU_NUMA}`, true],
    'v4.15': ['pass', `as v4.13; ${GRU_EXIT}; ${GRU_NUMA}`, true],
    'v4.19': ['pass', `as v4.13; MMU_INVALIDATE_DOES_NOT_BLOCK, never sleeps (grutlbpurge.c v4.19.95); ${GRU_EXIT}; ${GRU_NUMA}`, true],
    'v5.0': ['pass', `as v4.19 (grutlbpurge.c v5.0.1: struct mmu_notifier_range); ${GRU_EXIT}; ${GRU_NUMA}`, true],
    'v5.2': ['pass', `as v4.19 (grutlbpurge.c v5.2.1); ${GRU_EXIT}; ${GRU_NUMA}`, true],
  }),
  ...['v4.13', 'v4.15', 'v4.19'].flatMap((k) => row('sgi-gru-count-only', { [k]: [UAF_OR_STALE, GRU_COUNT_ONLY, true] })),
  ...row('xen-gntdev', {
    'v4.10': ['pass', PIN_B2_SAFE],
    'v4.12': ['no-sleep-in-atomic', B2 + '; drivers/xen/gntdev.c mn_invl_page → mn_invl_range_start: mutex_lock(&priv->lock) (v4.12)'],
    aac2fea9: ['pass', AAC_PIN],
    'v4.13': ['pass', 'drivers/xen/gntdev.c v4.13.9 mn_invl_range_start (may sleep: not under the PTL); ' + STALE],
    'v4.15': ['pass', 'as v4.13 (gntdev.c v4.15.18)'],
    'v4.19': ['pass', 'drivers/xen/gntdev.c v4.19.95: mutex_trylock and -EAGAIN when !blockable'],
    'v5.0': ['pass', 'as v4.19 (gntdev.c v5.0.1: range->blockable)'],
    'v5.2': ['pass', 'as v4.19 (gntdev.c v5.2.1: mmu_notifier_range_blockable())'],
  }),
  ...['v4.10', 'v4.12', 'aac2fea9', 'v4.13', 'v4.15', 'v4.19', 'v5.0', 'v5.2'].flatMap((k) =>
    row('scif', { [k]: ['pass', 'drivers/misc/mic/scif/scif_dma.c: tc_lock spinlock, windows pinned (reference §2.9); ' + STALE] }),
  ),
  ...['v4.13', 'v4.15', 'v4.19', 'v5.0', 'v5.2'].flatMap((k) => row('page-pin', { [k]: ['pass', 'include/linux/mmu_notifier.h v4.13: references kept from range_start to range_end, spinlock only'] })),
  ...row('kvm+ib-umem-odp', {
    'v4.15': ['pass', 'the OOM reaper skips mms with notifiers before v4.19'],
    'v4.19': ['start-end-paired', `reference §3 B12 with a real failing notifier: ${ODP} v4.19.95 returns -EAGAIN for a non-blockable start over a umem`],
  }),
];

// --- issue 4: the interval-notifier versions (v5.5 read in v5.7.14, v6.6 read in v6.8) ---
const MLX5 = 'drivers/infiniband/hw/mlx5/odp.c';
const ODP_INTERVAL =
  'f25a546e6529 (v5.5) moved ODP to mmu_interval_notifier_insert (the fix of reference §3 B14): mlx5_ib_invalidate_range returns false when !blockable, ' +
  'else under umem_mutex calls mmu_interval_set_seq, zaps the MTTs and ib_umem_odp_unmap_dma_pages (set_page_dirty)';
const AMDGPU_INTERVAL =
  'the userptr BO\'s interval notifier: set_seq and the fence wait (MAX_SCHEDULE_TIMEOUT) under adev->notifier_lock, false when !blockable; amdgpu_cs_submit checks ' +
  'amdgpu_ttm_tt_get_user_pages_done (mmu_interval_read_retry) under the same lock before pushing the job (the include/linux/mmu_notifier.h v5.7 pattern). ' +
  'Not checked by any invariant: the binding of the new pages outside the lock (the source\'s own "FIXME: The pages cannot be touched outside the notifier_lock") ' +
  'and the dirty state, which no userptr path sets since 915d3eecfa23 removed mark_page_dirty with the HMM conversion (v5.2 amdgpu_ttm_tt_mark_user_pages had it); ' +
  'a22dd506400d moved it to mmu_interval_notifier in the series of 99cb252f5e68 (v5.5)';
const GNTDEV_SYNC_DEADLOCK =
  'drivers/xen/gntdev.c v5.7.14 gntdev_invalidate: no lock, false when !blockable, never sleeps in a non-blockable context; but its synchronous unmap ' +
  '(gnttab_unmap_refs_sync, waiting for the grant pages\' other users) deadlocked against i915 (dbe97cff7dd9 "xen/gntdev: Avoid blocking in unmap_grant_pages()", ' +
  'v5.19, Fixes: 745282256c75; QubesOS issue 7481), which needs a second driver holding the pages: the model has none, so its pass says nothing about that deadlock';
const NOUVEAU_ITREE_LEAK =
  'model reading, not in the catalogue and no fix found: the OOM reaper\'s non-blockable start runs the itree first (nouveau_svm_range_invalidate trylocks svmm->mutex ' +
  'and succeeds), then nouveau_svmm_invalidate_range_start returns -EAGAIN, so __mmu_notifier_invalidate_range_start fails after mn_itree_invalidate succeeded and ' +
  'the reaper calls no range_end: active_invalidate_ranges never returns to 0, invalidate_seq stays odd once an overlapping invalidation makes it so, and the next ' +
  'fault\'s mmu_interval_notifier_insert + mmu_interval_read_begin waits forever (the same hole as hmm-mirror+range-start-trylock, inside one driver); ' +
  'also a model finding: nouveau has no ->release (it tears its SVM down when the DRM file closes, after exit_mm), so exit_mmap frees pages its GPU page table still maps; ' +
  HMM_LOST_DIRTY;

const INTERVAL_DRIVERS: Expectation[] = [
  ...row('ib-umem-odp', {
    'v5.5': ['pass', `${ODP_INTERVAL}; pagefault_real_mr: read_begin, get_user_pages_remote, ${ODP} ib_umem_odp_map_dma_single_page (check_retry under umem_mutex, put_page), then read_retry under umem_mutex before mlx5_ib_update_xlt (${MLX5}, ${ODP} v5.7.14)`],
    'v6.6': ['pass', `${ODP_INTERVAL}; ${ODP} ib_umem_odp_map_dma_and_lock: read_begin, hmm_range_fault under mmap_read_lock, read_retry under umem_mutex held until pagefault_real_mr has written the MTTs (v6.8)`],
  }),
  ...row('amdgpu-userptr', {
    'v5.5': ['pass', `${AMDGPU} amdgpu_mn_invalidate_gfx, amdgpu_ttm.c amdgpu_ttm_tt_get_user_pages(_done), amdgpu_cs.c amdgpu_cs_submit (v5.7.14): ${AMDGPU_INTERVAL}; ${HMM_LOST_DIRTY}`, true],
    'v6.6': ['pass', `drivers/gpu/drm/amd/amdgpu/amdgpu_hmm.c amdgpu_hmm_invalidate_gfx, amdgpu_hmm_range_get_pages(_done), amdgpu_cs.c amdgpu_cs_submit (v6.8): ${AMDGPU_INTERVAL}; ${HMM_LOST_DIRTY}`, true],
  }),
  ...row('xen-gntdev', {
    'v5.5': ['pass', GNTDEV_SYNC_DEADLOCK, true],
    'v6.6': ['pass', 'drivers/xen/gntdev.c v6.8 gntdev_invalidate: false when !blockable, no lock; unmap_grant_pages is asynchronous (being_removed[], gnttab_unmap_refs_async, dbe97cff7dd9); ' + STALE],
  }),
  ...row('nouveau-svm', {
    'v5.5': ['start-end-paired', `drivers/gpu/drm/nouveau/nouveau_svm.c, mm/mmu_notifier.c, mm/oom_kill.c v5.7.14: ${NOUVEAU_ITREE_LEAK}`, true],
    'v6.6': ['start-end-paired', `drivers/gpu/drm/nouveau/nouveau_svm.c, mm/mmu_notifier.c, mm/oom_kill.c v6.8 (c2655835fd8c ends hlist notifiers only): ${NOUVEAU_ITREE_LEAK}`, true],
  }),
];

export const HISTORY: readonly Expectation[] = [
  ...CORE_ROW,
  ...row('kvm', {
    'v4.10': ['no-secondary-maps-freed-page', OOM_NO_NOTIFIERS],
    'v4.12': ['no-secondary-maps-freed-page', OOM_NO_NOTIFIERS],
    aac2fea9: ['no-secondary-maps-freed-page', "reference §3 B4, Andrea Arcangeli's bug 1 in the revert 785373b4c387: invalidate_range is a no-op for KVM (seeds/04)"],
    'v4.13': ['pass', 'virt/kvm/kvm_main.c v4.13 seq/count + tdp_page_fault mmu_notifier_retry; reference §2.1 K1–K4'],
    'v4.15': ['pass', 'as v4.13; only_end changes nothing for start/end users (reference §1.e)'],
    'v4.19': ['pass', 'KVM never sleeps in range_start (spinlock), ignores blockable (reference §2.1)'],
  }),
  ...['v4.10', 'v4.12', 'aac2fea9', 'v4.13', 'v4.15', 'v4.19'].flatMap((k) => row('kvm-no-retry', { [k]: [UAF_OR_STALE, B7] })),
  ...row('invalidate-page-mutex', {
    'v4.10': ['pass', 'mm/rmap.c v4.10 try_to_unmap_one: invalidate_page after pte_unmap_unlock (may sleep)'],
    'v4.12': ['no-sleep-in-atomic', B2],
    aac2fea9: ['pass', 'aac2fea9 stopped calling invalidate_page from try_to_unmap_one (revert message, seeds/04)'],
  }),
  ...['v4.10', 'v4.12', 'aac2fea9', 'v4.13', 'v4.15', 'v4.19'].flatMap((k) => row('invalidate-range-mutex', { [k]: ['no-sleep-in-atomic', PTL_RANGE] })),
  ...row('range-start-mutex', {
    'v4.13': ['pass', 'mm/oom_kill.c v4.13: the OOM reaper skips mms with notifiers; every other range_start may sleep'],
    'v4.15': ['pass', 'as v4.13 (the non-blockable start arrived in v4.19)'],
    'v4.19': ['no-sleep-in-atomic', 'reference §3 B11: mm/oom_kill.c v4.19 calls mmu_notifier_invalidate_range_start_nonblock'],
  }),
  ...row('range-start-trylock', {
    'v4.13': ['pass', 'amdgpu_mn_read_lock pattern (v4.19): sleeps only when blockable'],
    'v4.15': ['pass', 'as v4.13'],
    'v4.19': ['pass', 'returns -EAGAIN instead of sleeping when !blockable (include/linux/mmu_notifier.h v4.19)'],
  }),
  ...row('kvm+range-start-trylock', {
    'v4.13': ['pass', 'the OOM reaper skips mms with notifiers in v4.13'],
    'v4.19': ['start-end-paired', 'reference §3 B12: a failed non-blockable start leaves the other notifiers without range_end (mm/oom_kill.c v4.19)'],
  }),
  ...MODERN_ROWS,
  ...DRIVER_CATALOGUE,
  ...INTERVAL_DRIVERS,
];
