# ---- hv1: a type-1 (bare-metal) hypervisor on SVM; runs minios.elf (a multiboot module) in VMs ----
HV1_OBJS := $(addprefix build/hv1/, entry.o main.o vm.o exit.o vdev.o console.o ledger.o) \
            build/common/lib.o

hv1/hv1.elf: $(HV1_OBJS) common/linker.ld
	$(LD) $(LDFLAGS) -T common/linker.ld -o $@ $(HV1_OBJS)

build/hv1/%.o: hv1/%.c hv1/hv1.h hv1/vmcb.h common/lib.h common/hvabi.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@
