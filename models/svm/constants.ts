// Architectural constants of AMD SVM as KVM names them (arch/x86/include/asm/svm.h,
// arch/x86/include/uapi/asm/svm.h). Values are the hardware encodings, so observations
// print the numbers a hypervisor developer knows (0x80000068, 0x400, ...).

/** vmcb->control.int_ctl bits (svm.h). */
export const V_TPR_MASK = 0x0f;
export const V_IRQ_MASK = 1 << 8;
export const V_GIF_MASK = 1 << 9;
export const V_NMI_PENDING_MASK = 1 << 11;
export const V_NMI_BLOCKING_MASK = 1 << 12;
export const V_INTR_PRIO_SHIFT = 16;
export const V_INTR_PRIO_MASK = 0x0f << V_INTR_PRIO_SHIFT;
export const V_IGN_TPR_MASK = 1 << 20;
export const V_IRQ_INJECTION_BITS_MASK = V_IRQ_MASK | V_INTR_PRIO_MASK | V_IGN_TPR_MASK;
export const V_INTR_MASKING_MASK = 1 << 24;
export const V_GIF_ENABLE_MASK = 1 << 25;
export const V_NMI_ENABLE_MASK = 1 << 26;

/** vmcb->control.int_state bits. */
export const SVM_INTERRUPT_SHADOW_MASK = 1 << 0;

/** event_inj / exit_int_info format (shared). `>>> 0` keeps them unsigned. */
export const SVM_EVTINJ_VEC_MASK = 0xff;
export const SVM_EVTINJ_TYPE_SHIFT = 8;
export const SVM_EVTINJ_TYPE_MASK = 7 << SVM_EVTINJ_TYPE_SHIFT;
export const SVM_EVTINJ_TYPE_INTR = 0 << SVM_EVTINJ_TYPE_SHIFT;
export const SVM_EVTINJ_TYPE_NMI = 2 << SVM_EVTINJ_TYPE_SHIFT;
export const SVM_EVTINJ_TYPE_EXEPT = 3 << SVM_EVTINJ_TYPE_SHIFT;
export const SVM_EVTINJ_TYPE_SOFT = 4 << SVM_EVTINJ_TYPE_SHIFT;
export const SVM_EVTINJ_VALID_ERR = 1 << 11;
export const SVM_EVTINJ_VALID = (1 << 31) >>> 0;

export function evtinj(type: number, vector: number, hasErr = false): number {
  return (SVM_EVTINJ_VALID | type | (vector & SVM_EVTINJ_VEC_MASK) | (hasErr ? SVM_EVTINJ_VALID_ERR : 0)) >>> 0;
}
export const isValid = (info: number): boolean => (info & SVM_EVTINJ_VALID) !== 0;
export const evtType = (info: number): number => info & SVM_EVTINJ_TYPE_MASK;
export const evtVector = (info: number): number => info & SVM_EVTINJ_VEC_MASK;

/** #VMEXIT codes (uapi/asm/svm.h). */
export const SVM_EXIT_EXCP_BASE = 0x40;
export const SVM_EXIT_INTR = 0x60;
export const SVM_EXIT_NMI = 0x61;
export const SVM_EXIT_INIT = 0x63;
export const SVM_EXIT_VINTR = 0x64;
export const SVM_EXIT_CPUID = 0x72;
export const SVM_EXIT_IRET = 0x74;
export const SVM_EXIT_HLT = 0x78;
export const SVM_EXIT_IOIO = 0x7b;
export const SVM_EXIT_TASK_SWITCH = 0x7d;
export const SVM_EXIT_SHUTDOWN = 0x7f;
export const SVM_EXIT_VMRUN = 0x80;
export const SVM_EXIT_STGI = 0x84;
export const SVM_EXIT_CLGI = 0x85;
export const SVM_EXIT_NPF = 0x400;
export const SVM_EXIT_ERR = -1;
/** Not a hardware value: "no exit recorded yet" in a fresh VMCB. */
export const SVM_EXIT_NONE = 0;

/** Exception vectors the model uses. */
export const DE_VECTOR = 0;
export const DB_VECTOR = 1;
export const NMI_VECTOR = 2;
export const BP_VECTOR = 3;
export const OF_VECTOR = 4;
export const UD_VECTOR = 6;
export const DF_VECTOR = 8;
export const TS_VECTOR = 10;
export const NP_VECTOR = 11;
export const SS_VECTOR = 12;
export const GP_VECTOR = 13;
export const PF_VECTOR = 14;
export const AC_VECTOR = 17;
export const MC_VECTOR = 18;
/** DR6 B0-B3 (DR_TRAP_BITS) and bit 12, which payload delivery clears (kvm_deliver_exception_payload). */
export const DR_TRAP_BITS = 0xf;
export const DR6_BIT12 = 1 << 12;
/** Exceptions that push an error code (the ones the model uses). */
export const exceptionHasErrorCode = (vector: number): boolean =>
  vector === DF_VECTOR || vector === SS_VECTOR || vector === GP_VECTOR || vector === PF_VECTOR || vector === AC_VECTOR;

/** exception_class (x86.c): how two exceptions in a row merge (SDM/APM "double fault" table). */
export const EXCPT_BENIGN = 0;
export const EXCPT_CONTRIBUTORY = 1;
export const EXCPT_PF = 2;
export function exception_class(vector: number): number {
  if (vector === PF_VECTOR) return EXCPT_PF;
  if (vector === DE_VECTOR || vector === TS_VECTOR || vector === NP_VECTOR || vector === SS_VECTOR || vector === GP_VECTOR) return EXCPT_CONTRIBUTORY;
  return EXCPT_BENIGN;
}
/** exception_type (x86.c), for the vectors the model uses: faults get RF set when KVM injects them. */
export const EXCPT_FAULT = 0;
export const EXCPT_TRAP = 1;
export const EXCPT_ABORT = 2;
export const EXCPT_DB = 4;
export function exception_type(vector: number): number {
  if (vector === DB_VECTOR) return EXCPT_DB;
  if (vector === 3 || vector === 4) return EXCPT_TRAP; // #BP, #OF
  if (vector === DF_VECTOR || vector === MC_VECTOR) return EXCPT_ABORT;
  return EXCPT_FAULT;
}

const EXIT_NAMES: Record<number, string> = {
  [SVM_EXIT_INTR]: 'INTR', [SVM_EXIT_NMI]: 'NMI', [SVM_EXIT_INIT]: 'INIT', [SVM_EXIT_VINTR]: 'VINTR', [SVM_EXIT_CPUID]: 'CPUID',
  [SVM_EXIT_IRET]: 'IRET', [SVM_EXIT_HLT]: 'HLT', [SVM_EXIT_IOIO]: 'IOIO', [SVM_EXIT_TASK_SWITCH]: 'TASK_SWITCH',
  [SVM_EXIT_SHUTDOWN]: 'SHUTDOWN', [SVM_EXIT_VMRUN]: 'VMRUN', [SVM_EXIT_STGI]: 'STGI', [SVM_EXIT_CLGI]: 'CLGI',
  [SVM_EXIT_NPF]: 'NPF', [SVM_EXIT_ERR]: 'ERR', [SVM_EXIT_NONE]: 'NONE',
};
const VECTOR_NAMES: Record<number, string> = { 1: 'DB', 3: 'BP', 4: 'OF', 6: 'UD', 8: 'DF', 10: 'TS', 11: 'NP', 12: 'SS', 13: 'GP', 14: 'PF', 17: 'AC', 18: 'MC' };

/** exitName's results by code (the model logs exits on its hot path: no string built per exit). */
const EXIT_NAME_CACHE = new Map<number, string>();

/** Display name of an exit code: "IRET", "NPF", "EXCP_GP". */
export function exitName(code: number): string {
  let name = EXIT_NAME_CACHE.get(code);
  if (name === undefined) {
    if (code >= SVM_EXIT_EXCP_BASE && code < SVM_EXIT_EXCP_BASE + 32) {
      const v = code - SVM_EXIT_EXCP_BASE;
      name = `EXCP_${VECTOR_NAMES[v] ?? v}`;
    } else name = EXIT_NAMES[code] ?? `0x${code.toString(16)}`;
    if (EXIT_NAME_CACHE.size < 4096) EXIT_NAME_CACHE.set(code, name); // bounded: codes can come from a stream's fields
  }
  return name;
}

/**
 * Instruction/event intercepts the model knows, as bit positions of Vmcb.intercepts.
 * (The hardware spreads them over several 32-bit words; one small bitmask is enough here.)
 */
export const INTERCEPT = {
  INTR: 0, NMI: 1, SMI: 2, INIT: 3, VINTR: 4, CR8_WRITE: 5, IRET: 6, CPUID: 7, HLT: 8,
  IOIO: 9, TASK_SWITCH: 10, SHUTDOWN: 11, VMRUN: 12, STGI: 13, CLGI: 14,
} as const;
export type InterceptName = keyof typeof INTERCEPT;
export const bit = (n: number): number => 1 << n;

/** RFLAGS bits. */
export const X86_EFLAGS_TF = 1 << 8;
export const X86_EFLAGS_IF = 1 << 9;
export const X86_EFLAGS_RF = 1 << 16;
/** RFLAGS bit 1, always set (X86_EFLAGS_FIXED): the RFLAGS of a vCPU after INIT. */
export const X86_EFLAGS_FIXED = 1 << 1;

/** KVM_GET_VCPU_EVENTS interrupt.shadow encoding. */
export const KVM_X86_SHADOW_INT_MOV_SS = 1;
export const KVM_X86_SHADOW_INT_STI = 2;

/** Return codes. */
export const EBUSY = -16;
export const EINTR = -4;
export const EIO = -5;
export const EINVAL = -22;
