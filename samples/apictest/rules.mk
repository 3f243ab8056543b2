# ---- apictest: local APIC, I/O APIC and MP table test guest ----------------
apictest/apictest.elf: $(COMMON_OBJS) build/apictest/apictest.o build/apictest/apictest_asm.o common/linker.ld
	$(LD) $(LDFLAGS) -T common/linker.ld -o $@ $(COMMON_OBJS) build/apictest/apictest.o build/apictest/apictest_asm.o

# The disk the guest reads sector 0 of (primary master): a text line, then zeros.
apictest/disk.img: apictest/rules.mk
	printf 'sector 0 of the apictest disk\n' > $@
	truncate -s 1024 $@
