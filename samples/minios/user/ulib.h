/* ulib.h - the user-space library: system-call wrappers and printf. */
#ifndef MINIOS_ULIB_H
#define MINIOS_ULIB_H
#include "../syscall.h"
#include "../fmt.h"

void exit(int status) __attribute__((noreturn));
int  write(int fd, const void *buf, int len);
int  read(int fd, void *buf, int len);
int  spawn(const char *prog, int flags);
int  wait(int pid, int *status);
int  getpid(void);
int  yield(void);
int  sleep(int ticks);
void *sbrk(int increment);
unsigned int uptime(void);
int  ps(int slot, struct procinfo *pi);
int  meminfo(struct meminfo *mi);
int  progs(int index, struct proginfo *pi);
int  cmdline(char *buf, int len);
void shutdown(int code) __attribute__((noreturn));

int  printf(const char *fmt, ...);
int  puts(const char *s);          /* no newline added */
#endif
