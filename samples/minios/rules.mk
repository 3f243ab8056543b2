# ---- minios: kernel + user programs embedded as flat binaries -------------
MINIOS_KOBJS := $(addprefix build/minios/, boot.o isr.o main.o console.o gdt.o idt.o pic.o \
                pit.o paging.o sched.o syscall.o programs.o fmt.o progs.o)
MINIOS_PROGS := shell hello cpu sys fault
MINIOS_BINS  := $(addprefix build/minios/user/, $(addsuffix .bin, $(MINIOS_PROGS)))
MINIOS_ULIB  := build/minios/user/crt0.o build/minios/user/ulib.o build/minios/fmt.o
MINIOS_HDRS  := $(wildcard minios/*.h minios/user/*.h)

minios/minios.elf: $(MINIOS_KOBJS) minios/linker.ld
	$(LD) $(LDFLAGS) -T minios/linker.ld -o $@ $(MINIOS_KOBJS)

build/minios/progs.o: minios/progs.S $(MINIOS_BINS)
	$(CC) $(ASFLAGS) -Wa,-I,build/minios/user -c $< -o $@

build/minios/user/%.bin: build/minios/user/%.elf
	$(OBJCOPY) -O binary $< $@

build/minios/user/%.elf: build/minios/user/%.o $(MINIOS_ULIB) minios/user/user.ld
	$(LD) $(LDFLAGS) -T minios/user/user.ld -o $@ build/minios/user/crt0.o $< \
	    build/minios/user/ulib.o build/minios/fmt.o

build/minios/%.o: minios/%.c $(MINIOS_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

build/minios/%.o: minios/%.S
	@mkdir -p $(dir $@)
	$(CC) $(ASFLAGS) -c $< -o $@

.SECONDARY: $(MINIOS_BINS) $(MINIOS_BINS:.bin=.elf)
