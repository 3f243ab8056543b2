# ---- atadisks: both disks of the primary ATA channel ----------------------
atadisks/atadisks.elf: $(COMMON_OBJS) build/atadisks/atadisks.o common/linker.ld
	$(LD) $(LDFLAGS) -T common/linker.ld -o $@ $(COMMON_OBJS) build/atadisks/atadisks.o

# Two small disks whose sector 0 starts with a line of text (8 sectors each).
atadisks/master.img: atadisks/rules.mk
	printf 'The master disk (device 0).\n' >$@ && truncate -s 4096 $@
atadisks/slave.img: atadisks/rules.mk
	printf 'The slave disk (device 1).\n' >$@ && truncate -s 16384 $@
