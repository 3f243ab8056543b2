# ---- apictest: local APIC, I/O APIC and MP table test guest ----------------
apictest/apictest.elf: $(COMMON_OBJS) build/apictest/apictest.o build/apictest/apictest_asm.o common/linker.ld
	$(LD) $(LDFLAGS) -T common/linker.ld -o $@ $(COMMON_OBJS) build/apictest/apictest.o build/apictest/apictest_asm.o

# The disk the guest reads sector 0 of (primary master): a text line, then zeros.
apictest/disk.img: apictest/rules.mk
	printf 'sector 0 of the apictest disk\n' > $@
	truncate -s 1024 $@

# The disk form (apictest/boot.S): a boot sector that loads apictest.elf from sectors 16-79
# and enters it as a Multiboot loader would, so that it runs after the BIOS (the built-in
# one or SeaBIOS) and finds the MP table the BIOS left.
build/apictest/boot.o: apictest/boot.S
	@mkdir -p $(dir $@)
	$(CC) -m32 -c $< -o $@

build/apictest/boot.bin: build/apictest/boot.o
	$(LD) -m elf_i386 -Ttext 0x7c00 --oformat binary -e _start -o $@ $<
	@test $$(stat -c %s $@) -eq 512 || { echo "$@ is not 512 bytes"; rm -f $@; exit 1; }

apictest/boot.img: build/apictest/boot.bin apictest/apictest.elf
	@test $$(stat -c %s apictest/apictest.elf) -le 32768 || { echo "apictest.elf exceeds the 64 sectors boot.S reads"; exit 1; }
	cp build/apictest/boot.bin $@
	truncate -s 8192 $@
	cat apictest/apictest.elf >> $@
	truncate -s 40960 $@
