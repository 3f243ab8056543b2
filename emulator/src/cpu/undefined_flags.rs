//! The undefined-flags policy, in one place (documentation only; no code).
//!
//! Where the Intel SDM (Vol. 2, "Flags Affected" of each instruction) leaves a flag or a
//! result undefined, a real CPU still produces *something*, and guests occasionally depend
//! on it. Traplab follows the Intel P6 family where its behaviour is documented or well
//! known (Bochs' `BX_CPU_LEVEL >= 6` paths are the reference we used for that), and
//! otherwise makes the simple, deterministic choice listed here. The host-CPU oracle tests
//! (`emulator/tests/host_oracle.rs`) compare only the defined flags: the "masked" column is
//! exactly what they ignore, because the host (a modern Intel or AMD CPU) may differ from P6.
//!
//! | Instruction | Undefined in the SDM | What Traplab does | Masked in the oracle |
//! |---|---|---|---|
//! | ADD ADC SUB SBB CMP NEG INC DEC | none | all computed (INC/DEC keep CF) | none |
//! | AND OR XOR TEST | AF | AF = 0 | AF |
//! | NOT | (no flag changes) | unchanged | none |
//! | SHL/SAL SHR SAR, count 0 | none: no flag changes | unchanged | none |
//! | SHL/SAL SHR SAR, count >= 1 | AF; OF unless count = 1 | AF = 0; OF by the count-1 formula for every count: SHL MSB(r) xor CF, SHR MSB(original), SAR 0 | AF; OF when count != 1 |
//! | SHL SHR, count >= width (8/16-bit) | CF | CF = the last bit shifted out of the zero-extended operand: at count = width bit 0 (SHL) or the MSB (SHR), 0 beyond | CF when count >= width |
//! | ROL ROR, count >= 1 | OF unless count = 1 | ROL: MSB(r) xor CF; ROR: MSB(r) xor MSB-1(r) | OF when count != 1 |
//! | RCL RCR (count mod 9 / 17 / 32) | OF unless count = 1 | RCL: MSB(r) xor CF; RCR: MSB(r) xor MSB-1(r) | OF when count != 1 |
//! | SHLD SHRD, count >= 1 | AF; OF unless count = 1 | AF = 0; SHLD OF = MSB(r) xor CF, SHRD OF = MSB(r) xor MSB-1(r) | AF; OF when count != 1 |
//! | SHLD SHRD 16-bit, count 17..31 | result and all flags | P6: shift the 48-bit value dest:src:dest; CF = last bit out; SF ZF PF from the result | result and all flags (the Intel Xeon this was written on agrees on result, CF SF ZF PF, but other hosts need not) |
//! | MUL, IMUL (all forms) | SF ZF AF PF | SF ZF PF from the low half of the result (AL/AX/EAX or the destination), AF = 0 | SF ZF AF PF |
//! | DIV, IDIV | CF OF SF ZF AF PF | all unchanged | all six |
//! | BT BTS BTR BTC | OF SF AF PF (ZF is "unaffected") | unchanged | OF SF AF PF |
//! | BSF BSR | CF OF SF AF PF; destination when the source is 0 | flags unchanged; destination unchanged when the source is 0 (P6; ZF = 1) | CF OF SF AF PF (the destination is compared) |
//! | CMPXCHG, XADD | none | as CMP / ADD | none |
//! | CMPXCHG8B | none (only ZF changes) | only ZF | none |
//! | DAA DAS | OF | OF = 0 | OF |
//! | AAA AAS | OF SF ZF PF | SF ZF PF from the final AL, OF = 0 | OF SF ZF PF |
//! | AAM AAD | OF AF CF | cleared | OF AF CF |
//!
//! Faults are not "undefined": DIV/IDIV raise #DE for a zero divisor or a quotient that
//! does not fit (including IDIV of -2^31 by -1), AAM raises #DE for a zero base, and LOCK on
//! a non-lockable instruction or a register destination is #UD. DAA DAS AAA AAS AAM AAD are
//! invalid only in 64-bit mode, which Traplab does not have; the oracle tests run them on
//! the host in 32-bit compatibility mode (Linux) and check them against the SDM pseudo-code
//! written independently in the test (everywhere).
