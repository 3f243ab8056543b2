# ---- bench: fixed-work multiboot guests that print a checksum -------------
bench/%.elf: $(COMMON_OBJS) build/bench/%.o build/bench/%_loop.o common/linker.ld
	$(LD) $(LDFLAGS) -T common/linker.ld -o $@ $(COMMON_OBJS) build/bench/$*.o build/bench/$*_loop.o

build/bench/%_loop.o: bench/%.S
	@mkdir -p $(dir $@)
	$(CC) $(ASFLAGS) -c $< -o $@

build/bench/%.o: bench/%.c bench/bench.h common/lib.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@
