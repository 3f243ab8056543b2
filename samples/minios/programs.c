/*
 * programs.c - the in-memory "file system": user programs linked into the
 * kernel image (progs.S includes each flat binary with .incbin).
 */
#include "kernel.h"

#define PROG(n) extern const u8 prog_##n##_start[], prog_##n##_end[];
PROG(shell) PROG(hello) PROG(cpu) PROG(sys) PROG(fault)

const struct program programs[] = {
    { "shell", "the command interpreter",               prog_shell_start, prog_shell_end },
    { "hello", "prints one line",                       prog_hello_start, prog_hello_end },
    { "cpu",   "CPU-bound: counts primes, shows progress", prog_cpu_start, prog_cpu_end },
    { "sys",   "system-call heavy: getpid/yield/write/sbrk", prog_sys_start, prog_sys_end },
    { "fault", "touches an unmapped page (gets killed)", prog_fault_start, prog_fault_end },
};
const int nprograms = sizeof(programs) / sizeof(programs[0]);
