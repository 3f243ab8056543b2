# ---- pae: PAE paging test guest --------------------------------------------
pae/pae.elf: $(COMMON_OBJS) build/pae/pae.o build/pae/pae_asm.o common/linker.ld
	$(LD) $(LDFLAGS) -T common/linker.ld -o $@ $(COMMON_OBJS) build/pae/pae.o build/pae/pae_asm.o
