# ---- tevmm: the trap-and-emulate monitor (runs minios.elf given as a multiboot module) ----
TEVMM_OBJS := $(addprefix build/tevmm/, boot.o entry.o main.o guest.o vcpu.o emulate.o io.o \
              shadow.o ledger.o sensitive.o hypercall.o) build/minios/fmt.o

tevmm/tevmm.elf: $(TEVMM_OBJS) tevmm/linker.ld
	$(LD) $(LDFLAGS) -T tevmm/linker.ld -o $@ $(TEVMM_OBJS)

build/tevmm/%.o: tevmm/%.c tevmm/tevmm.h tevmm/hypercall.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# ---- minios-pv: the same minios sources built with -DPARAVIRT (hypercalls to tevmm) ----
MINIOS_PV_KOBJS := $(patsubst build/minios/%,build/minios-pv/%,$(filter-out build/minios/initrd.o,$(MINIOS_KOBJS))) \
                   build/minios/initrd.o

minios/minios-pv.elf: $(MINIOS_PV_KOBJS) minios/linker.ld
	$(LD) $(LDFLAGS) -T minios/linker.ld -o $@ $(MINIOS_PV_KOBJS)

build/minios-pv/%.o: minios/%.c $(MINIOS_HDRS) tevmm/hypercall.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DPARAVIRT -c $< -o $@

build/minios-pv/%.o: minios/%.S
	@mkdir -p $(dir $@)
	$(CC) $(ASFLAGS) -DPARAVIRT -c $< -o $@
