/* initrd.S - the built-in root file system archive (ustar, made by rules.mk
 * from rootfs/ and the user programs), like Linux's built-in initramfs. */
        .section .initrd, "a"              /* placed last by linker.ld: freed after unpacking */
        .balign 16
        .global initrd_builtin, initrd_builtin_end
initrd_builtin:
        .incbin "initrd.tar"
initrd_builtin_end:
