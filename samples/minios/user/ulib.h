/* ulib.h - the user-space library: system-call wrappers and printf. */
#ifndef MINIOS_ULIB_H
#define MINIOS_ULIB_H
#include "../syscall.h"
#include "../fmt.h"

void exit(int status) __attribute__((noreturn));
int  write(int fd, const void *buf, int len);
int  read(int fd, void *buf, int len);
int  spawn(const char *path, const char *args, int flags);
int  wait(int pid, int *status);
int  getpid(void);
int  yield(void);
int  sleep(int ticks);
void *sbrk(int increment);
unsigned int uptime(void);
int  ps(int slot, struct procinfo *pi);
int  meminfo(struct meminfo *mi);
int  cmdline(char *buf, int len);
void shutdown(int code) __attribute__((noreturn));
int  open(const char *path, int flags);
int  close(int fd);
int  lseek(int fd, int offset, int whence);
int  stat(const char *path, struct stat *st);
int  readdir(int fd, struct dirent *d);
int  mkdir(const char *path);
int  unlink(const char *path);
int  rmdir(const char *path);
int  chdir(const char *path);
int  getcwd(char *buf, int len);
int  dup2(int oldfd, int newfd);
int  pipe(int fds[2]);
int  isolate(const struct isolate_args *a);
int  hostname(char *buf, int len);
int  sethostname(const char *name);
int  socket(int domain, int type);
int  bind(int fd, const void *addr, int addrlen);
int  listen(int fd, int backlog);
int  accept(int fd, void *peer, int addrlen);
int  connect(int fd, const void *addr, int addrlen);
int  send(int fd, const void *buf, int len);
int  recv(int fd, void *buf, int len);
int  shutsock(int fd, int how);
int  poll(struct pollfd *fds, int n, int ticks);
int  sockname(int fd, void *addr, int addrlen);
int  netif(int index, struct netif *nf);
int  netjoin(const char *bridge, unsigned int ip, int prefix);
int  kill(int pid);
int  bindmount(const char *src, const char *dst, const char *root);
int  netjoinpid(int pid, const struct netif *nf);
int  inet_parse(const char *s, unsigned int *ip, int *prefix);  /* "A.B.C.D[/N]": 0 or -1 */
int  resolve(const char *host, unsigned int *ip);  /* A.B.C.D, localhost or a name in /etc/hosts: 0 or -1 */
char *inet_format(unsigned int ip, char *buf);                 /* buf: 16 bytes */
int  mark(int what);                         /* MARK_*: a marker for traplab compare */
int  syscall3(int n, int a, int b, int c);   /* any call, raw */
const char *strerror(int err);
extern char **environ;                       /* "K=V" strings, NULL-terminated (crt0.S) */
const char *getenv(const char *name);        /* the value of name, or NULL */               /* err < 0 from a call: its name */
char *strstr(const char *hay, const char *needle);
char *strchr(const char *s, int c);

int  printf(const char *fmt, ...);
int  eprintf(const char *fmt, ...);   /* to descriptor 2 */
int  puts(const char *s);          /* no newline added */
#endif
