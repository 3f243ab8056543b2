/*
 * hvabi.h - the hypercall ABI between Traplab's sample hypervisors (hv1, the
 * type-1 one in samples/hv1; hv2, minios's KVM-like driver and `vmm`) and the
 * guests they run (minios's `hv` command). Shared by both sides: change it
 * only together with both hypervisors and minios.
 *
 * How a guest finds out (AMD64 APM vol. 2, 15.4 and the CPUID spec):
 *   1. CPUID leaf 1, ECX bit 31 ("hypervisor present"): 0 on bare metal.
 *      Only when it is 1 may the guest go on: on a CPU without a hypervisor,
 *      VMMCALL raises #UD (APM vol. 3, VMMCALL).
 *   2. CPUID leaf 0x40000000: EAX = the highest hypervisor leaf,
 *      EBX, ECX, EDX = a 12-byte signature (like "KVMKVMKVM\0\0\0").
 *      Our signatures start with HVABI_SIG_PREFIX; the rest names the
 *      hypervisor. Leaf 0x40000001 EAX = HVABI_VERSION.
 *   3. VMMCALL (0F 01 D9) with EAX = HVABI_WHOAMI: the hypervisor intercepts
 *      it (#VMEXIT VMMCALL, code 0x81) and answers in registers:
 *        EAX = 0 (success)
 *        EBX, ECX, EDX = its name, 12 bytes, NUL padded ("hv1", "hv2")
 *        ESI = the guest's VM number (1, 2, ...)
 *        EDI = the hypervisor's type: 1 = bare metal, 2 = hosted
 *      Any other EAX: EAX = HVABI_ENOSYS, other registers unchanged.
 *      The guest continues after the 3-byte VMMCALL.
 */
#ifndef HVABI_H
#define HVABI_H

#define HVABI_CPUID_HV_BIT  (1u << 31)   /* CPUID.1:ECX bit 31 */
#define HVABI_CPUID_BASE    0x40000000u  /* signature leaf */
#define HVABI_CPUID_VERSION 0x40000001u  /* EAX = HVABI_VERSION */
#define HVABI_VERSION       1u

/* 12-byte signatures, EBX ECX EDX in order (4 characters each, little-endian) */
#define HVABI_SIG_PREFIX    "Traplab-"   /* 8 bytes: EBX, ECX */
#define HVABI_SIG_HV1       "Traplab-hv1 "
#define HVABI_SIG_HV2       "Traplab-hv2 "

/* VMMCALL numbers (EAX in) and results (EAX out) */
#define HVABI_WHOAMI        1u
#define HVABI_OK            0u
#define HVABI_ENOSYS        0xFFFFFFFFu

#endif
