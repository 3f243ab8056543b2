# ---- svmtest: an SVM host with guest scenarios (needs a CPU with SVM) ------
SVMTEST_OBJS := $(addprefix build/svmtest/, host.o main.o vmcb.o basic.o events.o control.o \
                npt.o guest_basic.o guest_events.o guest_control.o guest_npt.o)

svmtest/svmtest.elf: $(COMMON_OBJS) $(SVMTEST_OBJS) svmtest/linker.ld
	$(LD) $(LDFLAGS) -T svmtest/linker.ld -o $@ $(COMMON_OBJS) $(SVMTEST_OBJS)

build/svmtest/%.o: svmtest/%.c svmtest/svm.h common/lib.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

build/svmtest/%.o: svmtest/%.S svmtest/guest.h
	@mkdir -p $(dir $@)
	$(CC) $(ASFLAGS) -c $< -o $@
