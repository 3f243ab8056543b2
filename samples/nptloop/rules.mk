# ---- nptloop: bench/intloop's loop as an SVM guest with nested paging ------
nptloop/nptloop.elf: $(COMMON_OBJS) build/nptloop/nptloop.o build/nptloop/nptloop_asm.o build/bench/intloop_loop.o common/linker.ld
	$(LD) $(LDFLAGS) -T common/linker.ld -o $@ $(COMMON_OBJS) build/nptloop/nptloop.o build/nptloop/nptloop_asm.o build/bench/intloop_loop.o
