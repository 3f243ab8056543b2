# ---- bootsector: flat 512-byte image, linked to run at 0x7C00 -------------
build/bootsector/bootsector.o: bootsector/bootsector.S
	@mkdir -p $(dir $@)
	$(CC) -m32 -c $< -o $@

bootsector/bootsector.img: build/bootsector/bootsector.o
	$(LD) -m elf_i386 -Ttext 0x7c00 --oformat binary -e _start -o $@ $<
	@test $$(stat -c %s $@) -eq 512 || { echo "$@ is not 512 bytes"; rm -f $@; exit 1; }
