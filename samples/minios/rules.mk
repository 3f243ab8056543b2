# ---- minios: kernel + a built-in ustar archive holding the user programs ----
MINIOS_KOBJS := $(addprefix build/minios/, boot.o isr.o main.o console.o gdt.o idt.o pic.o \
                pit.o paging.o sched.o syscall.o fmt.o fs.o initramfs.o file.o pipe.o elf.o \
                ns.o cgroup.o overlay.o mount.o pgcheck.o hvinfo.o socket.o net.o hsock.o vm.o vmrun.o initrd.o)
MINIOS_PROGS := shell hello cpu sys fault cat grep wc fuzz hog spin share fileio nc ip socktest dockerd docker curl vmm kill work registryd env
# /images/box: a second root for `isolate --mount=/images/box` (sh is the shell)
MINIOS_BOX   := hello cat grep wc hog spin sys fileio nc ip kill work env
MINIOS_ELFS  := $(addprefix build/minios/user/, $(addsuffix .elf, $(MINIOS_PROGS)))
MINIOS_ULIB  := build/minios/user/crt0.o build/minios/user/ulib.o build/minios/fmt.o
MINIOS_HDRS  := $(wildcard minios/*.h minios/user/*.h)
MINIOS_FILES := $(shell find minios/rootfs -type f | LC_ALL=C sort)
# Reproducible archive: fixed order, times, owners and modes.
TAR_FLAGS    := --format=ustar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
                --mode=u=rwX,go=rX --blocking-factor=1

minios/minios.elf: $(MINIOS_KOBJS) minios/linker.ld
	$(LD) $(LDFLAGS) -T minios/linker.ld -o $@ $(MINIOS_KOBJS)

# The root file system: rootfs/ plus the programs in bin/.
# /var/lib/registry: registryd's store, the images built from minios/images (below).
build/minios/initrd.tar: $(MINIOS_ELFS) $(MINIOS_FILES) minios/registry/catalog
	rm -rf build/minios/rootfs
	mkdir -p build/minios/rootfs/bin build/minios/rootfs/var/lib
	cp -r minios/rootfs/. build/minios/rootfs/
	cp -r minios/registry build/minios/rootfs/var/lib/registry
	for p in $(MINIOS_PROGS); do cp build/minios/user/$$p.elf build/minios/rootfs/bin/$$p; done
	mkdir -p build/minios/rootfs/images/box/bin
	cp build/minios/user/shell.elf build/minios/rootfs/images/box/bin/sh
	for p in $(MINIOS_BOX); do cp build/minios/user/$$p.elf build/minios/rootfs/images/box/bin/$$p; done
	tar $(TAR_FLAGS) -C build/minios/rootfs -cf $@ .

# A second archive for the boot test that passes one as a multiboot module
# (QEMU: -initrd minios/module-demo.tar): modroot/ plus the shell and cat.
MINIOS_MODFILES := $(shell find minios/modroot -type f | LC_ALL=C sort)
minios/module-demo.tar: build/minios/user/shell.elf build/minios/user/cat.elf $(MINIOS_MODFILES)
	rm -rf build/minios/modroot
	mkdir -p build/minios/modroot/bin
	cp -r minios/modroot/. build/minios/modroot/
	cp build/minios/user/shell.elf build/minios/modroot/bin/shell
	cp build/minios/user/cat.elf build/minios/modroot/bin/cat
	tar $(TAR_FLAGS) -C build/minios/modroot -cf $@ .

build/minios/initrd.o: minios/initrd.S build/minios/initrd.tar
	$(CC) $(ASFLAGS) -Wa,-I,build/minios -c $< -o $@

# User programs: static ELF executables, one RWX segment (-N), no symbols (-s).
build/minios/user/%.elf: build/minios/user/%.o $(MINIOS_ULIB) minios/user/user.ld
	$(LD) $(LDFLAGS) -N -s -T minios/user/user.ld -o $@ build/minios/user/crt0.o $< \
	    build/minios/user/ulib.o build/minios/fmt.o

build/minios/%.o: minios/%.c $(MINIOS_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

build/minios/%.o: minios/%.S
	@mkdir -p $(dir $@)
	$(CC) $(ASFLAGS) -c $< -o $@

.SECONDARY: $(MINIOS_ELFS)

# Programs built from more than one .c file (the others are #included).
build/minios/user/dockerd.o: minios/user/dockerd_images.c minios/user/dockerd_build.c minios/user/ustar.h minios/user/oci.c minios/user/sha256.c \
                             minios/user/dockerd_vol.c minios/user/dockerd_net.c minios/user/dockerd_opts.c
build/minios/user/docker.o: minios/user/docker_images.c minios/user/docker_build.c minios/user/docker_vol.c minios/user/docker_net.c \
                            minios/user/docker_opts.c
build/minios/user/registryd.o: minios/user/oci.c minios/user/sha256.c

# ---- images: recipes built on the host into registryd's store (minios/images/imgbuild.c) ----
# minios/registry is committed; `catalog` lists its tags. The builder reads COPY sources from
# the recipe's directory, then from build/minios/imgroot (bin/PROG: the user programs).
HOSTCC       := cc
MINIOS_RECIPES := minios/images/base/Recipe minios/images/hello/Recipe minios/images/echo/Recipe
MINIOS_IMGFILES := $(shell find minios/images -type f -not -name '*.c' | LC_ALL=C sort)

build/host/imgbuild: minios/images/imgbuild.c minios/user/sha256.c minios/user/sha256.h minios/user/ustar.h
	@mkdir -p $(dir $@)
	$(HOSTCC) -O2 -Wall -Wextra -o $@ minios/images/imgbuild.c minios/user/sha256.c

minios/registry/catalog: build/host/imgbuild $(MINIOS_ELFS) $(MINIOS_IMGFILES)
	rm -rf build/minios/imgroot minios/registry
	mkdir -p build/minios/imgroot/bin
	for p in $(MINIOS_PROGS); do cp build/minios/user/$$p.elf build/minios/imgroot/bin/$$p; done
	build/host/imgbuild minios/registry build/minios/imgroot $(MINIOS_RECIPES) > build/minios/catalog.tmp
	mv build/minios/catalog.tmp $@
