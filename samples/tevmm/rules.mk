# ---- tevmm: the trap-and-emulate monitor (runs minios.elf given as a multiboot module) ----
TEVMM_OBJS := $(addprefix build/tevmm/, boot.o entry.o main.o guest.o vcpu.o emulate.o io.o \
              shadow.o ledger.o) build/minios/fmt.o

tevmm/tevmm.elf: $(TEVMM_OBJS) tevmm/linker.ld
	$(LD) $(LDFLAGS) -T tevmm/linker.ld -o $@ $(TEVMM_OBJS)

build/tevmm/%.o: tevmm/%.c tevmm/tevmm.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@
